//! The stream a run plays, settled before any viewer starts: where it is (the URL given,
//! or the built-in origin started for the run) and whether it answers at all.

use std::sync::Arc;

use anyhow::{Context, Result};
use url::Url;

use crate::config::{Config, StreamSource, redact_url};
use crate::engine::http::{Connections, HttpSettings};
use crate::origin::{self, OriginHandle};
use crate::stats::event::{ErrorClass, RequestKind};
use crate::stats::hub::EventSink;

/// Start the built-in origin if the config has no URL; returns the stream URLs (in the
/// order given: the URLs of the command line and `--streams`, or the built-in origin's
/// channels) and the origin to shut down at the end (if one was started).
pub async fn resolve(cfg: &Config) -> Result<(Vec<Url>, Option<OriginHandle>)> {
    match &cfg.stream.source {
        StreamSource::Url(u) if cfg.stream.urls.is_empty() => Ok((vec![u.clone()], None)),
        StreamSource::Url(_) => Ok((
            cfg.stream.urls.iter().map(|w| w.url.clone()).collect(),
            None,
        )),
        StreamSource::Builtin => {
            let channels = cfg.stream.builtin_channels;
            let handle = origin::start(origin::OriginConfig {
                part_duration: cfg.stream.builtin_part_duration,
                channels,
                ..Default::default()
            })
            .await
            .context("starting the built-in origin")?;
            let urls = if channels > 1 {
                (0..channels).map(|c| handle.channel_url(c)).collect()
            } else {
                vec![handle.master_url()]
            };
            let urls = urls
                .iter()
                .map(|u| Url::parse(u).context("built-in origin URL"))
                .collect::<Result<Vec<Url>>>()?;
            Ok((urls, Some(handle)))
        }
    }
}

/// Probe every stream (see [`probe`]), a few at a time; with several streams each
/// request is reported as its stream's (`sink` tagged with the stream's index).
pub async fn probe_all(
    settings: Arc<HttpSettings>,
    urls: &[Url],
    ua: &str,
    sink: &EventSink,
) -> Result<()> {
    /// Probes in flight at once.
    const AT_ONCE: usize = 16;
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    loop {
        while set.len() < AT_ONCE && next < urls.len() {
            let (settings, url, ua) = (settings.clone(), urls[next].clone(), ua.to_string());
            let sink = match urls.len() {
                1 => sink.clone(),
                _ => sink.with_stream(next as u32),
            };
            set.spawn(async move { probe(settings, &url, &ua, Some(&sink)).await });
            next += 1;
        }
        match set.join_next().await {
            Some(r) => r.context("a stream probe failed")??,
            None => return Ok(()),
        }
    }
}

/// Fetch the entry URL once so an unreachable stream fails fast (exit 1) instead of
/// ramping a swarm of failing viewers. The request is reported to `sink` like any other,
/// so counts still match the origin's log.
pub async fn probe(
    settings: Arc<HttpSettings>,
    url: &Url,
    ua: &str,
    sink: Option<&EventSink>,
) -> Result<()> {
    let max_kept_body = settings.max_kept_body;
    let mut conn = Connections::new(settings, ua.to_string());
    let f = conn.get(url, None, true).await;
    let parsed = match (f.error, &f.body) {
        (None, Some(body)) => Some(crate::hls::parse(body, &f.final_url)),
        _ => None,
    };
    if let Some(sink) = sink {
        let error = match parsed {
            Some(Err(_)) => Some(ErrorClass::PlaylistInvalid),
            _ => f.error,
        };
        sink.send_request(
            f.request_done(RequestKind::Master, error, false),
            &f.final_url,
        );
    }
    match f.error {
        Some(ErrorClass::PlaylistTooLarge) => anyhow::bail!(
            "the stream {}'s playlist is larger than --max-playlist-size ({max_kept_body} bytes{}; playlist_too_large); raise the limit if the playlist is genuine",
            redact_url(url),
            f.cause
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ),
        Some(ErrorClass::Decoding) => anyhow::bail!(
            "the stream {}'s playlist cannot be decoded (decoding: {})",
            redact_url(url),
            f.cause.as_deref().unwrap_or("unknown cause")
        ),
        Some(e) => {
            let detail = match (f.status, &f.cause) {
                (_, Some(cause)) => format!(" ({cause})"),
                (Some(s), None) => format!(" (HTTP {s})"),
                (None, None) => String::new(),
            };
            anyhow::bail!(
                "the stream {} is not reachable: {}{detail}; check the URL, -resolve and the origin",
                redact_url(url),
                e.as_str()
            );
        }
        None => {}
    }
    if let Some(Err(e)) = parsed {
        anyhow::bail!(
            "the stream {} is not a valid HLS playlist (playlist_invalid): {e}",
            redact_url(url)
        );
    }
    Ok(())
}

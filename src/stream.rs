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

/// Start the built-in origin if the config has no URL; returns the stream URL and the
/// origin to shut down at the end (if one was started).
pub async fn resolve(cfg: &Config) -> Result<(Url, Option<OriginHandle>)> {
    match &cfg.stream.source {
        StreamSource::Url(u) => Ok((u.clone(), None)),
        StreamSource::Builtin => {
            let handle = origin::start(origin::OriginConfig {
                part_duration: cfg.stream.builtin_part_duration,
                ..Default::default()
            })
            .await
            .context("starting the built-in origin")?;
            let url = Url::parse(&handle.master_url()).context("built-in origin URL")?;
            Ok((url, Some(handle)))
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

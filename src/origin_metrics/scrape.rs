//! The I/O shell: one task per exporter fetches `/metrics` every interval (first at
//! once), with a timeout and a body cap, parses outside the lock, and feeds the shared
//! [`OriginSampler`]. A failure is counted and kept as the last error; it never stops
//! the run.

use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONNECTION, CONTENT_ENCODING, HOST, USER_AGENT};
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;
use url::{Host, Position, Url};

use super::sampler::{NginxSample, NodeSample, OriginSampler};
use crate::config::OriginMetricsConfig;
use crate::config::parse::redact_url;
use crate::engine::http::HttpSettings;
use crate::stats::origin::{OriginStats, Source};

/// Largest scrape body accepted (node_exporter on a big host serves a few hundred kB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the exporter is asked for: the classic text format.
const ACCEPT_TEXT: &str = "text/plain;version=0.0.4;q=1.0, */*;q=0.1";

/// A failure message with its cause chain (`hyper` hides the useful part in sources).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// GET `url` and return its body as text and the moment the response head arrived.
/// Everything (connect, TLS, head, body) must finish within `timeout`. Redirects are not
/// followed; non-2xx, compressed, oversized or non-UTF-8 bodies are errors.
pub async fn fetch_text(
    url: &Url,
    tls: &HttpSettings,
    timeout: Duration,
) -> Result<(String, Instant), String> {
    match tokio::time::timeout(timeout, fetch_inner(url, tls)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "timed out after {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn fetch_inner(url: &Url, tls: &HttpSettings) -> Result<(String, Instant), String> {
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let tcp = match &host {
        Host::Domain(d) => TcpStream::connect((*d, port)).await,
        Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await,
        Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await,
    }
    .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if url.scheme() != "https" {
        return exchange(url, tcp).await;
    }
    let config = tls.tls_config().map_err(|e| format!("TLS: {e}"))?;
    let name = match host {
        Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.to_string())
            .map_err(|e| format!("TLS: {e}"))?,
        Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
        Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
    };
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {}", describe(&e)))?;
    exchange(url, stream).await
}

/// One request on a fresh connection, driving the connection in this same future so
/// that dropping it (timeout, cancellation) closes the socket at once.
async fn exchange<S>(url: &Url, io: S) -> Result<(String, Instant), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let uri = Uri::try_from(&url[Position::BeforePath..Position::AfterQuery])
        .map_err(|e| format!("bad URL path: {e}"))?;
    let host = HeaderValue::try_from(&url[Position::BeforeHost..Position::BeforePath])
        .map_err(|e| format!("bad URL host: {e}"))?;
    let mut req = Request::new(Empty::<Bytes>::new());
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    h.insert(HOST, host);
    h.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("hls-swarm/", env!("CARGO_PKG_VERSION"))),
    );
    h.insert(ACCEPT, HeaderValue::from_static(ACCEPT_TEXT));
    h.insert(CONNECTION, HeaderValue::from_static("close"));

    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| describe(&e))?;
    let work = async move {
        let resp = sender.send_request(req).await.map_err(|e| describe(&e))?;
        let head_at = Instant::now();
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if let Some(enc) = resp.headers().get(CONTENT_ENCODING)
            && enc.as_bytes() != b"identity"
        {
            return Err(format!(
                "unexpected Content-Encoding {}",
                enc.to_str().unwrap_or("?")
            ));
        }
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the body: {}", describe(&e)))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > MAX_BODY {
                    return Err(format!("response larger than {} MiB", MAX_BODY >> 20));
                }
                buf.extend_from_slice(&data);
            }
        }
        let text = String::from_utf8(buf).map_err(|_| "the response is not UTF-8 text")?;
        Ok((text, head_at))
    };
    let mut conn = pin!(conn);
    let mut work = pin!(work);
    tokio::select! {
        r = &mut work => r,
        c = &mut conn => match c {
            Err(e) => Err(describe(&e)),
            // The server finished and closed; the body is already buffered for `work`.
            Ok(()) => work.await,
        },
    }
}

/// What a scrape produced, parsed outside the sampler's lock.
enum Outcome {
    Node(NodeSample),
    Nginx(NginxSample),
}

/// The running scraper: one task per configured exporter, all feeding one sampler.
/// Dropping it stops the tasks.
#[derive(Debug)]
pub struct OriginScraper {
    sampler: Arc<Mutex<OriginSampler>>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    start: Instant,
}

fn lock(m: &Mutex<OriginSampler>) -> std::sync::MutexGuard<'_, OriginSampler> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OriginScraper {
    /// Start scraping now. Times are measured from `start` (the run's start), so the
    /// figures line up with the snapshot's `elapsed`. `insecure_tls` (`--dangerous`)
    /// disables certificate checks for https exporters. Must be called inside a Tokio
    /// runtime.
    pub fn start(cfg: &OriginMetricsConfig, insecure_tls: bool, start: Instant) -> Self {
        let sampler = Arc::new(Mutex::new(OriginSampler::new(
            cfg.node_url.as_ref().map(redact_url),
            cfg.nginx_url.as_ref().map(redact_url),
            cfg.interval,
            cfg.window,
            cfg.interfaces.clone(),
        )));
        let mut settings = HttpSettings::new(cfg.timeout, String::new());
        settings.insecure_tls = insecure_tls;
        let settings = Arc::new(settings);
        let cancel = CancellationToken::new();
        let tasks = [
            (Source::Node, cfg.node_url.clone()),
            (Source::Nginx, cfg.nginx_url.clone()),
        ]
        .into_iter()
        .filter_map(|(source, url)| {
            let url = url?;
            Some(tokio::spawn(scrape_loop(
                source,
                url,
                cfg.interval,
                cfg.timeout,
                settings.clone(),
                sampler.clone(),
                cancel.clone(),
                start,
            )))
        })
        .collect();
        OriginScraper {
            sampler,
            cancel,
            tasks,
            start,
        }
    }

    /// The figures as of `now` (time since the run's start).
    pub fn stats(&self, now: Duration) -> OriginStats {
        lock(&self.sampler).stats(now)
    }

    /// The figures as of this moment.
    pub fn stats_now(&self) -> OriginStats {
        self.stats(self.start.elapsed())
    }

    /// Stop scraping and wait for the tasks to end (an in-flight scrape is abandoned).
    pub async fn stop(mut self) {
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for OriginScraper {
    fn drop(&mut self) {
        self.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn scrape_loop(
    source: Source,
    url: Url,
    interval: Duration,
    timeout: Duration,
    settings: Arc<HttpSettings>,
    sampler: Arc<Mutex<OriginSampler>>,
    cancel: CancellationToken,
    start: Instant,
) {
    let shown = redact_url(&url);
    let mut ticker = interval_at(Instant::now(), interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut was_up: Option<bool> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = cancel.cancelled() => return,
        }
        let fetched = tokio::select! {
            r = fetch_text(&url, &settings, timeout) => r,
            _ = cancel.cancelled() => return,
        };
        let outcome = fetched.and_then(|(text, head_at)| {
            let parsed = match source {
                Source::Node => NodeSample::from_text(&text).map(Outcome::Node),
                Source::Nginx => NginxSample::from_text(&text).map(Outcome::Nginx),
            };
            parsed.map(|o| (o, head_at))
        });
        let up = outcome.is_ok();
        {
            let mut s = lock(&sampler);
            match outcome {
                Ok((Outcome::Node(n), at)) => s.observe_node(at.duration_since(start), n),
                Ok((Outcome::Nginx(n), at)) => s.observe_nginx(at.duration_since(start), n),
                Err(e) => {
                    if was_up != Some(false) {
                        tracing::warn!(source = source.display_name(), url = %shown, error = %e, "origin metrics scrape failed");
                    } else {
                        tracing::debug!(source = source.display_name(), url = %shown, error = %e, "origin metrics scrape failed");
                    }
                    s.failed(source, start.elapsed(), e);
                }
            }
        }
        if up && was_up == Some(false) {
            tracing::info!(source = source.display_name(), url = %shown, "origin metrics scrape recovered");
        }
        was_up = Some(up);
    }
}

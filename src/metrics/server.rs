//! The HTTP endpoint: `/metrics`, `/healthz`, `/readyz` (also as `/health`, `/ready`),
//! served with hyper from the latest Snapshot on the run's snapshot feed.
//!
//! Readiness is read from that snapshot: ready while at least one viewer slot has been
//! started by the ramp and the run is not stopping. Before the first tick (about 1 s after
//! the start, after the stream probe) there is no snapshot, so `/readyz` answers 503
//! `starting`; once the stop begins the swarm marks the snapshot `stopping` and it answers
//! 503 `stopping`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use prometheus::core::Collector as _;

use super::collector::SnapshotCollector;
use super::render::Info;
use super::text::{self, CONTENT_TYPE};
use crate::stats::snapshot::Snapshot;

/// How long shutdown waits for in-flight scrapes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Whether the run is ready, from its latest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// No snapshot yet, or no viewer started yet.
    Starting,
    /// At least one viewer started and the run is not stopping.
    Ready,
    /// The run is shutting down.
    Stopping,
}

impl Readiness {
    /// Readiness of a run whose latest snapshot is `s`.
    pub fn of(s: Option<&Snapshot>) -> Self {
        match s {
            Some(s) if s.stopping => Readiness::Stopping,
            Some(s) if s.ramped >= 1 => Readiness::Ready,
            _ => Readiness::Starting,
        }
    }
}

struct State {
    collector: SnapshotCollector,
}

/// A running metrics endpoint. Dropping it stops it.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Bind `addr` now (so a bad address fails before the ramp) and serve the latest
    /// snapshot of `snapshots`.
    pub async fn start(
        addr: SocketAddr,
        snapshots: watch::Receiver<Option<Snapshot>>,
        info: Info,
    ) -> Result<MetricsServer> {
        let listener = crate::listener::bind(addr, 128).with_context(|| {
            format!("cannot listen for metrics on {addr}; pick a free address with -metrics ADDR or disable it with -metrics off")
        })?;
        let addr = listener
            .local_addr()
            .with_context(|| format!("metrics socket on {addr}"))?;
        let cancel = CancellationToken::new();
        let state = Arc::new(State {
            collector: SnapshotCollector::new(snapshots, info),
        });
        let task = tokio::spawn(serve(listener, state, cancel.clone()));
        tracing::info!(%addr, "metrics endpoint listening");
        Ok(MetricsServer {
            addr,
            cancel,
            task: Some(task),
        })
    }

    /// The bound address (the real port when the address had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/metrics`, with loopback for an unspecified address.
    pub fn url(&self) -> String {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(if a.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{a}/metrics")
    }

    /// Stop accepting and wait (briefly) for in-flight scrapes.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>, cancel: CancellationToken) {
    let conn_cancel = cancel.clone();
    crate::listener::accept_until(listener, cancel, SHUTDOWN_GRACE, "metrics", move |stream| {
        serve_conn(stream, state.clone(), conn_cancel.clone())
    })
    .await;
}

async fn serve_conn(stream: TcpStream, state: Arc<State>, cancel: CancellationToken) {
    let io = TokioIo::new(stream);
    let svc = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, &req)) }
    });
    let conn = http1::Builder::new().serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn handle(state: &State, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let body = text::encode(&state.collector.collect());
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r
        }
        // /health and /ready: the spellings go-ffmpeg-hls-swarm also answered.
        "/healthz" | "/health" => text(StatusCode::OK, "ok\n"),
        "/readyz" | "/ready" => match state.collector.with_latest(Readiness::of) {
            Readiness::Ready => text(StatusCode::OK, "ready\n"),
            Readiness::Starting => text(StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
            Readiness::Stopping => text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        },
        "/" => text(
            StatusCode::OK,
            "hls-swarm: /metrics (Prometheus), /healthz, /readyz\n",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

//! The measuring proxy (DESIGN.md principle 2): every FFmpeg gets
//! `-http_proxy http://127.0.0.1:PORT`, and its HLS demuxer sends every playlist and
//! segment request here, in absolute form (`GET http://origin/v0/seg1.ts HTTP/1.1`).
//!
//! * Each FFmpeg connection is served by its own task and forwarded over its **own**
//!   upstream connection (opened with the native engine's connector, so `-resolve`,
//!   timeouts and error classes are the same), kept alive while FFmpeg keeps its side
//!   alive: the origin sees FFmpeg's connection pattern.
//! * Each request is timed at the upstream side exactly like the native engine times its
//!   own: TTFB from the moment the proxy starts the request (including a connect when one is
//!   needed) to the response head; total to the last body byte; body bytes counted as they
//!   stream through; status and error class. It becomes one `RequestDone` event.
//! * The response body streams straight through (never buffered, except the first 1 MiB of
//!   a playlist, which is inspected to classify it). If FFmpeg goes away mid-body the proxy
//!   still reads the upstream response to its end, so what the origin served is what is
//!   counted.
//! * `CONNECT host:port` (https:// streams) is tunnelled: a TCP connection to the origin
//!   (`-resolve` applied) spliced to FFmpeg's. Requests inside are encrypted; their figures
//!   come from FFmpeg's stderr instead (approximate), the tunnel only counts bytes.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full, combinators::UnsyncBoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::classify::{Learner, looks_like_playlist};
use crate::engine::http::HttpSettings;
use crate::engine::http::classify::{Phase, classify_hyper, is_stale_connection};
use crate::engine::http::connect::{Target, connect_tcp, resolve};
use crate::stats::event::{ErrorClass, Event, RequestDone};
use crate::stats::hub::EventSink;

/// Largest playlist body kept for classification.
const MAX_CAPTURE: usize = 1024 * 1024;

/// Ceiling of an upstream connection's adaptive read buffer. Segment bodies stream through
/// in reads of up to this size: large reads mean few frames (and few task wake-ups) per
/// segment, which is most of the proxy's CPU at video bitrates. The buffer only grows
/// while reads fill it.
const UPSTREAM_MAX_BUF: usize = 128 * 1024;

/// One upstream HTTP/1.1 connection, owned by one FFmpeg connection.
#[derive(Debug)]
struct Upstream {
    host: String,
    port: u16,
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Upstream {
    fn serves(&self, url: &Url) -> bool {
        url.port_or_known_default() == Some(self.port)
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
    }
}

/// Open an upstream connection for `url` (`-resolve` applied), bounded by `deadline`.
async fn open_upstream(
    settings: &HttpSettings,
    url: &Url,
    deadline: Instant,
) -> Result<Upstream, ErrorClass> {
    let target = Target::from_url(url).ok_or(ErrorClass::Other)?;
    let addrs = resolve(settings, &target, deadline)
        .await
        .map_err(|f| f.class)?;
    let tcp = connect_tcp(&addrs, deadline).await.map_err(|f| f.class)?;
    let _ = tcp.set_nodelay(true);
    let mut builder = hyper::client::conn::http1::Builder::new();
    builder.max_buf_size(UPSTREAM_MAX_BUF);
    let handshake = builder.handshake::<_, Empty<Bytes>>(TokioIo::new(tcp));
    let (sender, conn) = match timeout_at(deadline, handshake).await {
        Ok(Ok(h)) => h,
        Ok(Err(_)) => return Err(ErrorClass::Other),
        Err(_) => return Err(ErrorClass::Timeout),
    };
    // Runs until the origin closes or every handle (sender, response body) is gone.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::trace!(error = %e, "measuring proxy: upstream connection ended");
        }
    });
    Ok(Upstream {
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port_or_known_default().unwrap_or(80),
        sender,
    })
}

type BoxError = Box<dyn StdError + Send + Sync>;
type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// Shared by every connection of the proxy.
#[derive(Debug)]
struct Shared {
    settings: Arc<HttpSettings>,
    sinks: Vec<EventSink>,
    learner: Learner,
    inflight: AtomicUsize,
    idle: Notify,
    tunnel_bytes: AtomicU64,
    requests: AtomicU64,
}

impl Shared {
    /// The sink for a request: by the viewer id in the User-Agent (`…/client-<id>`), so
    /// the shards share the work; shard 0 otherwise.
    fn sink(&self, headers: &HeaderMap) -> Option<&EventSink> {
        let id = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.rsplit_once("/client-"))
            .and_then(|(_, id)| id.parse::<usize>().ok())
            .unwrap_or(0);
        if self.sinks.is_empty() {
            None
        } else {
            self.sinks.get(id % self.sinks.len())
        }
    }
}

/// Counts a request from its start until its event is sent.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(s: Arc<Shared>) -> Self {
        s.inflight.fetch_add(1, Ordering::AcqRel);
        InFlight(s)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    /// Listen on a free loopback port. Requests go upstream with `settings` (timeout,
    /// `-resolve`); their events go to `sinks` (by viewer id); `master` is the entry URL
    /// when it is a master playlist (for classifying failed requests for it).
    pub async fn start(
        settings: Arc<HttpSettings>,
        sinks: Vec<EventSink>,
        master: Option<&Url>,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            settings,
            sinks,
            learner: Learner::new(master),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            tunnel_bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stop.clone()));
        Ok(Proxy {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The `-http_proxy` value: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes through CONNECT tunnels so far (both directions).
    pub fn tunnel_bytes(&self) -> u64 {
        self.shared.tunnel_bytes.load(Ordering::Relaxed)
    }

    /// Requests forwarded so far (finished or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Requests whose event has not been sent yet.
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Ordering::Acquire)
    }

    /// Wait (at most `grace`) until every request started so far has been reported.
    pub async fn quiesce(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        loop {
            let idle = self.shared.idle.notified();
            if self.inflight() == 0 {
                return;
            }
            tokio::select! {
                _ = idle => {}
                _ = sleep_until(deadline) => return,
            }
        }
    }

    /// Stop accepting and close every connection.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "measuring proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

/// One FFmpeg connection and the upstream connection that mirrors it.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let upstream: Arc<Mutex<Option<Upstream>>> = Arc::new(Mutex::new(None));
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        let upstream = upstream.clone();
        async move { Ok::<_, Infallible>(handle(req, shared, upstream).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true).max_buf_size(64 * 1024);
    if let Err(e) = builder
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await
    {
        tracing::trace!(error = %e, "measuring proxy: client connection ended");
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    upstream: Arc<Mutex<Option<Upstream>>>,
) -> Response<ProxyBody> {
    if req.method() == Method::CONNECT {
        return tunnel(req, shared).await;
    }
    let Some(url) = absolute_url(req.uri()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "hls-swarm measuring proxy: absolute http:// URL expected\n",
        );
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "hls-swarm measuring proxy: only GET and HEAD are forwarded\n",
        );
    }
    shared.requests.fetch_add(1, Ordering::Relaxed);
    // The forwarding runs in its own task: if FFmpeg hangs up (or is killed) before the
    // response head, the request upstream still completes and is reported.
    let (parts, _body) = req.into_parts();
    let task = tokio::spawn(forward(parts.method, parts.headers, url, shared, upstream));
    match task.await {
        Ok(resp) => resp,
        Err(_) => plain(
            StatusCode::BAD_GATEWAY,
            "hls-swarm measuring proxy: internal error\n",
        ),
    }
}

/// `http://host[:port]/path?query` from an absolute-form request target.
fn absolute_url(uri: &Uri) -> Option<Url> {
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return None;
    }
    Url::parse(&uri.to_string()).ok()
}

/// Request headers that concern the proxy hop only (RFC 9110 §7.6.1 and proxy headers).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "proxy-connection"
            | "proxy-authorization"
            | "proxy-authenticate"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn upstream_request(
    method: &Method,
    headers: &HeaderMap,
    url: &Url,
) -> Option<Request<Empty<Bytes>>> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut req = Request::new(Empty::new());
    *req.method_mut() = method.clone();
    *req.uri_mut() = Uri::try_from(target).ok()?;
    let h = req.headers_mut();
    for (name, value) in headers {
        if !hop_by_hop(name) {
            h.append(name.clone(), value.clone());
        }
    }
    if !h.contains_key(HOST) {
        let host = &url[url::Position::BeforeHost..url::Position::BeforePort];
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        h.insert(HOST, http::HeaderValue::try_from(host).ok()?);
    }
    Some(req)
}

/// What one request's event is made of.
struct Record {
    shared: Arc<Shared>,
    sink: Option<EventSink>,
    url: Url,
    started: Instant,
    status: Option<u16>,
    ttfb: Option<Duration>,
    bytes: u64,
    capture: Option<Vec<u8>>,
    _inflight: InFlight,
}

impl Record {
    fn emit(self, error: Option<ErrorClass>) {
        let total = self.started.elapsed().max(Duration::from_nanos(1));
        let status_error = self.status.and_then(ErrorClass::from_status);
        let error = error.or(status_error);
        let body = match (&self.capture, error) {
            (Some(b), None) => Some(b.as_slice()),
            _ => None,
        };
        let kind = self.shared.learner.kind(&self.url, body);
        let redirects = u32::from(self.status.is_some_and(|s| (300..400).contains(&s)));
        if let Some(sink) = &self.sink {
            sink.send(Event::Request(RequestDone {
                kind,
                status: self.status,
                ttfb: self.ttfb,
                total,
                bytes: self.bytes,
                error,
                redirects,
                retry: false,
            }));
        }
    }
}

async fn forward(
    method: Method,
    headers: HeaderMap,
    url: Url,
    shared: Arc<Shared>,
    upstream: Arc<Mutex<Option<Upstream>>>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let deadline = started + shared.settings.timeout;
    let record = Record {
        sink: shared.sink(&headers).cloned(),
        shared: shared.clone(),
        url: url.clone(),
        started,
        status: None,
        ttfb: None,
        bytes: 0,
        capture: None,
        _inflight: InFlight::new(shared.clone()),
    };
    // Requests on one FFmpeg connection are sequential; the lock is never contended.
    let mut slot = upstream.clone().lock_owned().await;
    let mut pooled = slot
        .take()
        .filter(|c| c.serves(&url) && !c.sender.is_closed());
    let resp = loop {
        let reused = pooled.is_some();
        let mut conn = match pooled.take() {
            Some(c) => c,
            None => match open_upstream(&shared.settings, &url, deadline).await {
                Ok(c) => c,
                Err(class) => {
                    record.emit(Some(class));
                    return gateway_error(class);
                }
            },
        };
        if reused {
            match timeout_at(deadline, conn.sender.ready()).await {
                Err(_) => {
                    record.emit(Some(ErrorClass::Timeout));
                    return gateway_error(ErrorClass::Timeout);
                }
                Ok(Err(_)) => continue, // closed while idle: open a fresh one
                Ok(Ok(())) => {}
            }
        }
        let Some(req) = upstream_request(&method, &headers, &url) else {
            record.emit(Some(ErrorClass::Other));
            return plain(
                StatusCode::BAD_REQUEST,
                "hls-swarm measuring proxy: bad request\n",
            );
        };
        match timeout_at(deadline, conn.sender.send_request(req)).await {
            Err(_) => {
                record.emit(Some(ErrorClass::Timeout));
                return gateway_error(ErrorClass::Timeout);
            }
            Ok(Ok(resp)) => break (resp, conn),
            Ok(Err(e)) if reused && is_stale_connection(&e) => {
                // The origin closed the idle connection as we wrote: the request never
                // reached it; retry once on a fresh connection (as FFmpeg itself would).
            }
            Ok(Err(e)) => {
                let class = classify_hyper(&e, Phase::Head);
                record.emit(Some(class));
                return gateway_error(class);
            }
        }
    };
    let (resp, conn) = resp;
    let mut record = record;
    record.ttfb = Some(started.elapsed());
    record.status = Some(resp.status().as_u16());
    let (mut parts, body) = resp.into_parts();
    let content_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let keep_alive = !parts
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|s| s.to_ascii_lowercase().contains("close"))
        });
    let hop: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|n| hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop {
        parts.headers.remove(name);
    }
    let metered = MeteredBody {
        inner: Some(body),
        record: Some(record),
        content_length,
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        conn: Some((conn, slot, keep_alive)),
        first: true,
    };
    Response::from_parts(parts, metered.boxed_unsync())
}

fn gateway_error(class: ErrorClass) -> Response<ProxyBody> {
    if class == ErrorClass::Timeout {
        plain(
            StatusCode::GATEWAY_TIMEOUT,
            "hls-swarm measuring proxy: upstream timed out\n",
        )
    } else {
        plain(
            StatusCode::BAD_GATEWAY,
            "hls-swarm measuring proxy: upstream failed\n",
        )
    }
}

/// The upstream connection of a request in progress, handed back to its FFmpeg
/// connection's slot once the body is complete (if the origin keeps it alive).
type Lease = (
    Upstream,
    tokio::sync::OwnedMutexGuard<Option<Upstream>>,
    bool,
);

/// The upstream response body on its way to FFmpeg: counted, timed, bounded by the
/// request deadline, and reported exactly once when it ends, fails or is abandoned.
struct MeteredBody {
    inner: Option<Incoming>,
    record: Option<Record>,
    content_length: Option<u64>,
    deadline: Pin<Box<Sleep>>,
    conn: Option<Lease>,
    first: bool,
}

impl MeteredBody {
    fn on_data(&mut self, data: &Bytes) {
        let Some(r) = self.record.as_mut() else {
            return;
        };
        r.bytes += data.len() as u64;
        if self.first {
            self.first = false;
            if looks_like_playlist(data) {
                r.capture = Some(Vec::with_capacity(data.len()));
            }
        }
        if let Some(c) = r.capture.as_mut() {
            if c.len() + data.len() <= MAX_CAPTURE {
                c.extend_from_slice(data);
            } else {
                r.capture = None;
            }
        }
    }

    /// The body ended: report, and return the upstream connection on success.
    fn finish(&mut self, error: Option<ErrorClass>) {
        let error = match (error, &self.record) {
            (None, Some(r)) if self.content_length.is_some_and(|cl| r.bytes < cl) => {
                Some(ErrorClass::Truncated)
            }
            (e, _) => e,
        };
        if let Some((conn, mut slot, keep_alive)) = self.conn.take()
            && error.is_none()
            && keep_alive
            && !conn.sender.is_closed()
        {
            *slot = Some(conn);
        }
        self.inner = None;
        if let Some(r) = self.record.take() {
            r.emit(error);
        }
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.on_data(d);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(Some(classify_hyper(&e, Phase::Body)));
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => {
                this.finish(None);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.finish(Some(ErrorClass::Timeout));
                    return Poll::Ready(Some(Err("upstream body timed out".into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // FFmpeg went away before the end of the body: read the rest from the origin so
        // the request is counted as the origin served it.
        if self.record.is_none() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let deadline = std::mem::replace(
            &mut self.deadline,
            Box::pin(tokio::time::sleep(Duration::ZERO)),
        );
        let mut rest = MeteredBody {
            inner: self.inner.take(),
            record: self.record.take(),
            content_length: self.content_length,
            deadline,
            conn: self.conn.take(),
            first: self.first,
        };
        rt.spawn(async move {
            while let Some(frame) = rest.frame().await {
                if frame.is_err() {
                    break;
                }
            }
            rest.finish(None);
        });
    }
}

async fn tunnel(req: Request<Incoming>, shared: Arc<Shared>) -> Response<ProxyBody> {
    let Some(authority) = req.uri().authority().cloned() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "hls-swarm measuring proxy: CONNECT host:port expected\n",
        );
    };
    let Ok(url) = Url::parse(&format!("https://{authority}/")) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "hls-swarm measuring proxy: bad CONNECT target\n",
        );
    };
    let Some(target) = Target::from_url(&url) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "hls-swarm measuring proxy: bad CONNECT target\n",
        );
    };
    let deadline = Instant::now() + shared.settings.timeout;
    let tcp = match resolve(&shared.settings, &target, deadline).await {
        Ok(addrs) => connect_tcp(&addrs, deadline).await,
        Err(f) => Err(f),
    };
    let mut tcp = match tcp {
        Ok(t) => t,
        Err(f) => return gateway_error(f.class),
    };
    let _ = tcp.set_nodelay(true);
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut client = Counted {
                    io: TokioIo::new(upgraded),
                    shared: shared.clone(),
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut tcp).await;
            }
            Err(e) => tracing::debug!(error = %e, "measuring proxy: CONNECT upgrade failed"),
        }
    });
    Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync())
}

/// FFmpeg's side of a tunnel, counting bytes both ways.
struct Counted<T> {
    io: T,
    shared: Arc<Shared>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.shared
            .tunnel_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.shared
                .tunnel_bytes
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

//! The measuring proxy (DESIGN.md principle 2): every FFmpeg gets
//! `-http_proxy http://127.0.0.1:PORT`, and its HLS demuxer sends every playlist and
//! segment request here, in absolute form (`GET http://origin/v0/seg1.ts HTTP/1.1`).
//!
//! * Each FFmpeg connection is served by one task that also owns the **own** upstream
//!   connection mirroring it (opened with the native engine's resolver and connector, so
//!   `-resolve`, timeouts and error classes are the same), kept alive while FFmpeg and the
//!   origin keep theirs alive: the origin sees FFmpeg's connection pattern.
//! * Each request is timed at the upstream side exactly like the native engine times its
//!   own: TTFB from the moment the proxy starts the request (including a connect when one is
//!   needed) to the parsed response head; total to the last body byte; body bytes counted as
//!   the origin sends them (compressed bodies compressed: they are relayed untouched);
//!   status and error class. It becomes one `RequestDone` event. A long body's bytes are
//!   also reported while it streams (`Event::Progress`), and a request still in flight
//!   when the proxy shuts down is reported as aborted with the bytes that had arrived.
//! * The response is relayed as the origin framed it (head and body bytes unchanged), never
//!   buffered: bodies of known length go kernel-to-kernel with splice(2) (`splice`);
//!   playlists (the first 1 MiB is kept to classify them), chunked bodies and bodies that
//!   end with the connection are read in userspace (`body`). If FFmpeg goes away
//!   mid-body the proxy still reads the response to its end, so what the origin served is
//!   what is counted.
//! * Why not hyper on both sides (as before): with a hyper server for FFmpeg and a hyper
//!   client upstream, every body chunk crossed two tasks and two copies, and the HTTP
//!   machinery per request cost more than FFmpeg's own `-c copy` work. Heads are parsed
//!   with `httparse` ([`head`]) instead.
//! * `CONNECT host:port` (https:// streams) is tunnelled (`tunnel`). Requests inside
//!   are encrypted; their figures come from FFmpeg's stderr instead (approximate), the
//!   tunnel only counts bytes.

mod body;
// `chunked` and `head` parse what FFmpeg and the origin send; they are public for the
// fuzz targets (fuzz/), which is their only use outside this module. Their parsers say
// only "malformed" (`Err(())`): the proxy answers that with a 400 or drops the connection.
#[allow(clippy::result_unit_err)]
pub mod chunked;
#[allow(clippy::result_unit_err)]
pub mod head;
mod splice;
mod tunnel;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use url::Url;

use self::body::{Live, Meter, PlaylistLimit, Sides, classify_io};
use self::head::{Framing, RequestHead, ResponseHead, plain_response};
use self::splice::Pipe;
use super::classify::Learner;
use crate::engine::http::HttpSettings;
use crate::engine::http::connect::{Authority, connect_tcp, resolve};
use crate::stats::event::{ErrorClass, RequestDone, RequestKind};
use crate::stats::hub::EventSink;

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
    /// The sink for a request, by the viewer id in the User-Agent (`…/client-<id>`), so
    /// the shards share the work (shard 0 without an id), and that id.
    fn sink(&self, user_agent: Option<&[u8]>) -> (Option<&EventSink>, Option<u64>) {
        let id = user_agent
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|ua| ua.rsplit_once("/client-"))
            .and_then(|(_, id)| id.parse::<u64>().ok());
        if self.sinks.is_empty() {
            return (None, id);
        }
        let shard = id.unwrap_or(0) % self.sinks.len() as u64;
        (self.sinks.get(shard as usize), id)
    }
}

/// Counts a request from its start until its event is sent.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(s: &'a Shared) -> Self {
        s.inflight.fetch_add(1, Ordering::AcqRel);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
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

/// One origin connection, owned by one FFmpeg connection.
#[derive(Debug)]
struct Upstream {
    host: String,
    port: u16,
    stream: TcpStream,
    /// Bytes read and not consumed yet (empty between requests).
    buf: Vec<u8>,
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
    let authority = Authority::from_url(url).ok_or(ErrorClass::Other)?;
    let addrs = resolve(settings, &authority, deadline)
        .await
        .map_err(|f| f.class)?;
    let stream = connect_tcp(&addrs, deadline).await.map_err(|f| f.class)?;
    let _ = stream.set_nodelay(true);
    Ok(Upstream {
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port_or_known_default().unwrap_or(80),
        stream,
        buf: Vec::new(),
    })
}

/// One FFmpeg connection: its requests one after another, each forwarded upstream.
async fn serve_connection(mut client: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut upstream: Option<Upstream> = None;
    let mut pipe: Option<Pipe> = None;
    loop {
        let req = match head::read_head(&mut client, &mut buf, head::parse_request).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    let _ = client
                        .write_all(&plain_response(
                            400,
                            "Bad Request",
                            "hls-swarm measuring proxy: bad request\n",
                            true,
                        ))
                        .await;
                }
                return;
            }
        };
        buf.drain(..req.len);
        if req.method == "CONNECT" {
            tunnel::run(&mut client, &req, std::mem::take(&mut buf), &shared).await;
            return;
        }
        let refuse = |status, reason, text| plain_response(status, reason, text, true);
        let Some(url) = absolute_url(&req.target) else {
            let r = refuse(
                400,
                "Bad Request",
                "hls-swarm measuring proxy: absolute http:// URL expected\n",
            );
            let _ = client.write_all(&r).await;
            return;
        };
        if req.method != "GET" && req.method != "HEAD" || req.has_body {
            let r = refuse(
                405,
                "Method Not Allowed",
                "hls-swarm measuring proxy: only GET and HEAD are forwarded\n",
            );
            let _ = client.write_all(&r).await;
            return;
        }
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let mut ex = Exchange {
            shared: &shared,
            client: &mut client,
            upstream: &mut upstream,
            pipe: &mut pipe,
        };
        if !ex.forward(&req, url).await || req.close {
            return;
        }
    }
}

/// `http://host[:port]/path?query` from an absolute-form request target (public for the
/// fuzz targets).
pub fn absolute_url(target: &str) -> Option<Url> {
    let url = Url::parse(target).ok()?;
    (url.scheme() == "http" && url.has_host()).then_some(url)
}

/// A 502 (504 for a timeout) from the proxy itself.
fn gateway_error(class: ErrorClass, close: bool) -> Vec<u8> {
    if class == ErrorClass::Timeout {
        plain_response(
            504,
            "Gateway Timeout",
            "hls-swarm measuring proxy: upstream timed out\n",
            close,
        )
    } else {
        plain_response(
            502,
            "Bad Gateway",
            "hls-swarm measuring proxy: upstream failed\n",
            close,
        )
    }
}

/// What one request's event is made of. Dropped without [`emit`](Self::emit) — its
/// connection task was aborted at shutdown — it reports the request as aborted.
struct Record<'a> {
    shared: &'a Shared,
    url: &'a Url,
    sink: Option<&'a EventSink>,
    /// The viewer's global id, from its User-Agent.
    viewer: Option<u64>,
    started: Instant,
    status: Option<u16>,
    ttfb: Option<Duration>,
    meter: Meter<'a>,
    emitted: bool,
    _inflight: InFlight<'a>,
}

impl<'a> Record<'a> {
    fn new(shared: &'a Shared, url: &'a Url, user_agent: Option<&[u8]>) -> Self {
        let started = Instant::now();
        let (sink, viewer) = shared.sink(user_agent);
        Record {
            shared,
            url,
            sink,
            viewer,
            started,
            status: None,
            ttfb: None,
            meter: Meter::with_live(sink.map(|s| Live::new(s, &shared.learner, url, started))),
            emitted: false,
            _inflight: InFlight::new(shared),
        }
    }

    /// The request's kind: the one its body was reported live under, if any (a report
    /// keeps its kind), else learned from the URL and `body`.
    fn kind(&self, reported: Option<(RequestKind, u64)>, body: Option<&[u8]>) -> RequestKind {
        match reported {
            Some((kind, _)) => kind,
            None => self.shared.learner.kind(self.url, body),
        }
    }

    fn emit(mut self, error: Option<ErrorClass>) {
        self.emitted = true;
        let total = self.started.elapsed().max(Duration::from_nanos(1));
        let status_error = self.status.and_then(ErrorClass::from_status);
        let error = error.or(status_error);
        let playlist = error
            .is_none()
            .then(|| self.meter.playlist_body(self.shared.settings.max_kept_body))
            .flatten();
        let body = playlist.as_deref();
        // A body reported live keeps the kind it was reported under.
        let reported = self.meter.live.as_ref().and_then(Live::reported);
        let kind = self.kind(reported, body);
        // As in the native engine: a 2xx segment or init section without a body byte
        // holds no media.
        let empty = matches!(kind, RequestKind::Segment | RequestKind::Init)
            && self.status.is_some_and(|s| (200..300).contains(&s))
            && self.meter.bytes == 0;
        let error = error.or(empty.then_some(ErrorClass::EmptyBody));
        let redirects = u32::from(self.status.is_some_and(|s| (300..400).contains(&s)));
        if let Some(sink) = self.sink {
            let done = RequestDone {
                kind,
                status: self.status,
                ttfb: self.ttfb,
                total,
                bytes: self.meter.bytes,
                streamed: reported.map_or(0, |(_, n)| n),
                error,
                redirects,
                retry: false,
                aborted: false,
                // FFmpeg's own HTTP/1.1 side is what the proxy sees; not counted.
                protocol: None,
                connections: [0; 2],
                hold: None,
                lateness: None,
                stream: None,
            };
            sink.send_request_of(done, self.viewer, self.url);
        }
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        if self.emitted {
            return;
        }
        let Some(sink) = self.sink else { return };
        let reported = self.meter.live.as_ref().and_then(Live::reported);
        let kind = self.kind(reported, None);
        let mut done = RequestDone::new(kind);
        done.status = self.status;
        done.ttfb = self.ttfb;
        done.total = self.started.elapsed();
        done.bytes = self.meter.bytes;
        done.streamed = reported.map_or(0, |(_, n)| n);
        done.aborted = true;
        sink.send_request_of(done, self.viewer, self.url);
    }
}

/// Why no response head came back.
enum HeadError {
    /// The origin closed a reused idle connection as the request went out (it never
    /// reached the application): worth one retry on a fresh connection.
    Stale,
    /// A real failure, with its class.
    Failed(ErrorClass),
}

/// One request of one FFmpeg connection.
struct Exchange<'a> {
    shared: &'a Shared,
    client: &'a mut TcpStream,
    upstream: &'a mut Option<Upstream>,
    pipe: &'a mut Option<Pipe>,
}

impl Exchange<'_> {
    /// Forward `req` for `url` and relay the response; true when the FFmpeg connection
    /// can carry another request.
    async fn forward(&mut self, req: &RequestHead, url: Url) -> bool {
        let mut record = Record::new(self.shared, &url, req.header("user-agent"));
        let started = record.started;
        let deadline = started + self.shared.settings.timeout;
        let wire = head::upstream_request(req, &url);
        let head_request = req.method == "HEAD";
        let (mut up, resp) = loop {
            let pooled = self.upstream.take().filter(|u| u.serves(&url));
            let reused = pooled.is_some();
            let mut up = match pooled {
                Some(u) => u,
                None => match open_upstream(&self.shared.settings, &url, deadline).await {
                    Ok(u) => u,
                    Err(class) => return self.fail(record, class).await,
                },
            };
            match exchange_head(&mut up, &wire, head_request, deadline).await {
                Ok(resp) => break (up, resp),
                // The retry's connection is fresh, so this happens at most once.
                Err(HeadError::Stale) if reused => {}
                Err(HeadError::Stale) => return self.fail(record, ErrorClass::Reset).await,
                Err(HeadError::Failed(class)) => return self.fail(record, class).await,
            }
        };
        record.ttfb = Some(started.elapsed());
        record.status = Some(resp.status);
        record.meter.coding = resp.coding;
        // Only a compressed body needs its URL to tell whether it is a playlist.
        let url_is_playlist = resp.coding.is_some()
            && matches!(
                self.shared.learner.kind(&url, None),
                RequestKind::Master | RequestKind::Playlist
            );
        record.meter.set_playlist_limit(PlaylistLimit {
            max_bytes: self.shared.settings.max_kept_body,
            url_is_playlist,
        });
        let mut sides = Sides {
            up: &mut up.stream,
            upbuf: &mut up.buf,
            client: self.client,
            client_ok: true,
            pipe: self.pipe,
            deadline,
        };
        let result = body::relay(&mut sides, resp.len, resp.framing, &mut record.meter).await;
        let client_ok = sides.client_ok;
        let clean = result.is_ok() && up.buf.is_empty();
        if clean && resp.keep_alive {
            *self.upstream = Some(up);
        }
        record.emit(result.err());
        // A response the origin ends by closing is relayed the same way to FFmpeg.
        client_ok && clean && resp.framing != Framing::Close && resp.status != 101
    }

    /// Report a request that got no response head and tell FFmpeg so.
    async fn fail(&mut self, record: Record<'_>, class: ErrorClass) -> bool {
        record.emit(Some(class));
        self.client
            .write_all(&gateway_error(class, false))
            .await
            .is_ok()
    }
}

/// Write the request on `up` and read the final response head (1xx interim responses are
/// dropped). The head is left at the front of `up.buf`.
async fn exchange_head(
    up: &mut Upstream,
    wire: &[u8],
    head_request: bool,
    deadline: Instant,
) -> Result<ResponseHead, HeadError> {
    let stale_or = |e: &std::io::Error, got: bool| {
        let stale = matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::NotConnected
                | std::io::ErrorKind::UnexpectedEof
        );
        if stale && !got {
            HeadError::Stale
        } else {
            HeadError::Failed(classify_io(e, false))
        }
    };
    match timeout_at(deadline, up.stream.write_all(wire)).await {
        Err(_) => return Err(HeadError::Failed(ErrorClass::Timeout)),
        Ok(Err(e)) => return Err(stale_or(&e, false)),
        Ok(Ok(())) => {}
    }
    loop {
        let parse = |b: &[u8]| head::parse_response(b, head_request);
        let read = head::read_head(&mut up.stream, &mut up.buf, parse);
        let resp = match timeout_at(deadline, read).await {
            Err(_) => return Err(HeadError::Failed(ErrorClass::Timeout)),
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) => return Err(HeadError::Stale),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(HeadError::Failed(ErrorClass::Other));
            }
            Ok(Err(e)) => return Err(stale_or(&e, !up.buf.is_empty())),
        };
        if (100..200).contains(&resp.status) && resp.status != 101 {
            up.buf.drain(..resp.len);
            continue;
        }
        return Ok(resp);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::stats::accumulator::Accumulator;
    use crate::stats::event::RequestKind;
    use crate::stats::hub::StatsHub;

    /// An origin answering one request with a body that never ends (16 KiB every 10 ms),
    /// counting the body bytes it wrote.
    async fn endless_origin() -> (SocketAddr, Arc<AtomicU64>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            if !read_request_head(&mut s).await {
                return;
            }
            let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
            if s.write_all(resp).await.is_err() {
                return;
            }
            let chunk = vec![0x47u8; 16 * 1024];
            while s.write_all(&chunk).await.is_ok() {
                w.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        (addr, written)
    }

    /// Reads one request head from `s`; false if the client went away first.
    async fn read_request_head(s: &mut tokio::net::TcpStream) -> bool {
        let mut head = Vec::new();
        while !head.windows(4).any(|x| x == b"\r\n\r\n") {
            let mut b = [0u8; 1024];
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
        }
        true
    }

    /// An origin answering one request with `response` (head and body).
    async fn one_response(response: Vec<u8>) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            if !read_request_head(&mut s).await {
                return;
            }
            let _ = s.write_all(&response).await;
            let mut rest = [0u8; 1024];
            while matches!(s.read(&mut rest).await, Ok(n) if n > 0) {}
        });
        addr
    }

    #[tokio::test]
    async fn a_gzip_master_is_relayed_as_sent_counted_compressed_and_classified() {
        use std::io::Write as _;
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv0/index.m3u8\n";
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(master).unwrap();
        let gz = z.finish().unwrap();
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gz.len()
        )
        .into_bytes();
        response.extend_from_slice(&gz);
        let origin = one_response(response.clone()).await;
        let mut hub = StatsHub::start(1, 1024);
        let settings = Arc::new(HttpSettings::new(Duration::from_secs(5), "t".into()));
        let proxy = Proxy::start(settings, vec![hub.sink(0)], None)
            .await
            .unwrap();
        let mut ffmpeg = TcpStream::connect(proxy.addr).await.unwrap();
        // Not the entry URL, and named like a media playlist: only its body says master.
        let req = format!(
            "GET http://{origin}/live/other.m3u8 HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: t/client-0\r\n\r\n"
        );
        ffmpeg.write_all(req.as_bytes()).await.unwrap();
        let mut got = vec![0u8; response.len()];
        ffmpeg.read_exact(&mut got).await.unwrap();
        assert_eq!(got, response, "relayed untouched");
        proxy.quiesce(Duration::from_secs(2)).await;
        drop(ffmpeg);
        proxy.shutdown().await;
        hub.close(Duration::from_secs(1)).await;
        let mut acc = Accumulator::default();
        hub.drain_into(&mut acc);
        let m = acc.kind(RequestKind::Master);
        assert_eq!((m.count, m.errors, m.bytes), (1, 0, gz.len() as u64));
        assert_eq!(acc.kind(RequestKind::Playlist).count, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_in_flight_is_counted_live_and_as_aborted_at_shutdown() {
        let (origin, written) = endless_origin().await;
        let mut hub = StatsHub::start(1, 4096);
        let settings = Arc::new(HttpSettings::new(Duration::from_secs(60), "t".into()));
        let proxy = Proxy::start(settings, vec![hub.sink(0)], None)
            .await
            .unwrap();
        let addr = proxy.addr;
        let mut ffmpeg = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET http://{origin}/v0/seg1.ts HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: t/client-0\r\n\r\n"
        );
        ffmpeg.write_all(req.as_bytes()).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut sink = vec![0u8; 64 * 1024];
            while matches!(ffmpeg.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // Counted while it streams (no request has finished).
        let mut acc = Accumulator::default();
        hub.drain_into(&mut acc);
        let live = acc.kind(RequestKind::Segment).bytes;
        assert_eq!(acc.kind(RequestKind::Segment).count, 0);
        assert!(live > 1_000_000, "live bytes after 1.5 s: {live}");

        // Shut down mid-body: the request is reported as aborted with its bytes.
        proxy.shutdown().await;
        hub.close(Duration::from_secs(1)).await;
        hub.drain_into(&mut acc);
        reader.abort();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let wrote = written.load(Ordering::SeqCst);
        let seg = acc.kind(RequestKind::Segment);
        assert_eq!((seg.count, seg.aborted, seg.errors), (1, 1, 0));
        let ratio = seg.bytes as f64 / wrote as f64;
        assert!(
            (0.97..=1.0).contains(&ratio),
            "counted {} of {wrote} bytes ({ratio:.4})",
            seg.bytes
        );
    }
}

/// Helpers shared by the relay modules' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use tokio::net::{TcpListener, TcpStream};

    /// Two ends of one loopback TCP connection.
    pub(crate) async fn tcp_pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }
}

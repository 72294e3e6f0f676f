//! The per-viewer HTTP/1.1 and HTTP/2 client of the native engine.
//!
//! Built directly on `hyper::client::conn::http1` so that every figure is measured at the
//! real I/O, with nothing in between that pools, retries or buffers behind our back:
//!
//! * [`HttpSettings`] — immutable, shared by every viewer through an `Arc` (timeout,
//!   headers, `-resolve`, TLS configuration built once).
//! * [`Connections`] — one viewer's keep-alive connections. A viewer's loops each hold a
//!   handle ([`Connections::handle`]) onto one idle pool, like a player's HTTP stack: a
//!   request takes the most recently used idle connection to its host or opens a new one,
//!   so loads that overlap get their own connections and sequential loads share one.
//!   Never shared between viewers.
//! * [`Fetch`] — the outcome of one GET. Failures are data: `get` never panics and never
//!   returns `Err`.
//! * A viewer's last-mile link ([`Connections::with_link`], `--viewer-bandwidth`): every
//!   body frame the viewer's handles read crosses one shared [`LinkPacer`], and a read
//!   waits for the link ([`crate::engine::link`]); counts and bytes are unchanged.
//! * [`FetchObserver`] — sees a fetch while it runs (the response head, body bytes as they
//!   arrive), so a caller can count bytes live and account for a fetch cut off mid-body.
//!
//! HTTP/2 (`--http2`, [`HttpSettings::http2`]): on TLS the server's ALPN choice decides,
//! on plain text `on` speaks h2c with prior knowledge. An HTTP/2 connection stays in the
//! idle pool while it carries requests, so a viewer's concurrent loads multiplex over
//! one connection instead of opening one each.
//!
//! Bodies that are kept (playlists) are requested with `Accept-Encoding: gzip, deflate`,
//! like a player's HTTP stack does, and decoded ([`decode`]); every byte count is of the
//! body as the origin sent it (compressed). Bodies that are only counted (segments) are
//! requested without it and never decoded.
//!
//! Timing uses `tokio::time::Instant`, so tests may run on paused time.

pub(crate) mod classify;
pub(crate) mod connect;
pub mod decode;
mod tls;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT, ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, HOST, LOCATION, RANGE, USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep, sleep_until};
use url::{Host, Position, Url};

use self::classify::{Phase, classify_hyper_on, is_stale_connection};
use self::connect::{Authority, PooledConn, Sender, connect};
use self::decode::BodyDecoder;
use crate::config::{Config, Http2Mode};
use crate::engine::link::LinkPacer;
use crate::stats::event::{ErrorClass, Protocol, RequestDone, RequestKind};

/// Default per-request timeout of [`HttpSettings::default`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default redirect limit of [`HttpSettings::default`].
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// At most this many idle connections per viewer; the least recently used one is closed
/// beyond it. A viewer normally talks to one host, so this only bounds pathological
/// redirect fan-out.
const MAX_POOLED: usize = 4;

/// An idle connection unused for this long is closed by the client (on the pool's next
/// use). Requests take the most recently used connection first, so a spare connection
/// opened while two loads overlapped ages out instead of doubling every viewer's sockets
/// for the rest of the run. Shorter than common server keep-alive timeouts (nginx: 75 s),
/// so the client, not the server, normally closes it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A redirect body larger than this is not drained; its connection is closed instead.
const MAX_REDIRECT_DRAIN: u64 = 64 * 1024;

/// Default of [`HttpSettings::max_kept_body`]: `--max-playlist-size`'s default, 8 MiB.
pub const DEFAULT_MAX_KEPT_BODY: u64 = 8 * 1024 * 1024;

/// Cap on the up-front buffer reservation taken from a `Content-Length` when the body is
/// kept, so a lying header cannot make us allocate gigabytes before any byte arrives.
const MAX_BODY_RESERVE: u64 = 8 * 1024 * 1024;

/// Shared, immutable settings for every viewer (built once, shared by `Arc`).
///
/// Build with [`HttpSettings::new`] or [`HttpSettings::default`], adjust the public
/// fields, then wrap in an `Arc`. The TLS configuration is built lazily on first use
/// (from `insecure_tls`) and cached, so every viewer shares one root store and one TLS
/// session cache — change `insecure_tls` before the first https fetch.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Per request: DNS + connect + TLS + response head + whole body, and across all the
    /// redirect hops of one [`Connections::get`].
    pub timeout: Duration,
    /// Fallback User-Agent, used when [`Connections::new`] is given an empty or invalid one.
    pub user_agent: String,
    /// `-header` / `-header-file` / `-no-cache` headers, applied to every request. A name
    /// given here replaces the client's default header of the same name (`User-Agent`,
    /// `Accept`, even `Host`); repeated names are all sent.
    pub extra_headers: HeaderMap,
    /// `-resolve`: TCP-connect here for [`resolve_host`](Self::resolve_host), keeping the
    /// Host header and TLS SNI as the host name.
    pub resolve: Option<IpAddr>,
    /// The host name `-resolve` applies to (the stream URL's host), matched
    /// case-insensitively; it also applies to absolute URLs in playlists and redirects.
    pub resolve_host: Option<String>,
    /// `--dangerous`. **DANGER:** when true, *no* TLS certificate or handshake signature
    /// is verified — expired, self-signed, wrong-host and forged certificates are all
    /// accepted. Traffic is encrypted but NOT authenticated: anyone on the path can
    /// impersonate the origin. Only for lab origins with self-signed certificates.
    pub insecure_tls: bool,
    /// Redirects followed per fetch before giving up with [`ErrorClass::Other`].
    pub max_redirects: u32,
    /// `--max-playlist-size`: the largest body kept in memory (`keep_body`, i.e. a
    /// playlist), counted after decoding when the origin compressed it. A larger one fails
    /// with [`ErrorClass::PlaylistTooLarge`]: refused from its Content-Length before any
    /// body byte is read, else reading stops as soon as the limit is passed (on the wire
    /// or decoded), so memory stays bounded by the limit whatever the origin sends.
    pub max_kept_body: u64,
    /// `--http2`: which HTTP version to speak (also decides the TLS ALPN offer, so set it
    /// before the first https fetch, like `insecure_tls`).
    pub http2: Http2Mode,
    /// Lazily built, shared TLS client configuration.
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self::new(
            DEFAULT_TIMEOUT,
            concat!("hls-swarm/", env!("CARGO_PKG_VERSION")).to_string(),
        )
    }
}

impl HttpSettings {
    /// Settings with the given timeout and User-Agent, no extra headers, no `-resolve`,
    /// verifying TLS, [`DEFAULT_MAX_REDIRECTS`] and [`DEFAULT_MAX_KEPT_BODY`].
    pub fn new(timeout: Duration, user_agent: String) -> Self {
        Self {
            timeout,
            user_agent,
            extra_headers: HeaderMap::new(),
            resolve: None,
            resolve_host: None,
            insecure_tls: false,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_kept_body: DEFAULT_MAX_KEPT_BODY,
            http2: Http2Mode::default(),
            tls: OnceLock::new(),
        }
    }

    /// The settings every request of a run shares (viewers, probes, the measuring
    /// proxy's upstream side), from the run's config; `stream` is the stream played
    /// (`-resolve` applies to its host).
    pub fn for_run(cfg: &Config, stream: &Url) -> Arc<Self> {
        let mut headers = HeaderMap::new();
        for h in &cfg.http.headers {
            headers.append(h.name.clone(), h.value.clone());
        }
        let mut s = HttpSettings::new(cfg.http.timeout, cfg.http.user_agent.clone());
        s.extra_headers = headers;
        s.resolve = cfg.http.resolve;
        s.max_kept_body = cfg.limits.max_playlist_size;
        s.resolve_host = stream.host_str().map(str::to_string);
        s.insecure_tls = cfg.http.dangerous;
        s.http2 = cfg.http.http2;
        Arc::new(s)
    }

    /// The rustls client configuration (ring provider, webpki roots or — with
    /// `insecure_tls` — no verification), built on first call and cached.
    ///
    /// # Errors
    /// Only if rustls rejects the protocol-version selection for the ring provider, which
    /// does not happen with the versions pinned in Cargo.lock; an https fetch reports such
    /// a failure as [`ErrorClass::Tls`].
    pub fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        if let Some(config) = self.tls.get() {
            return Ok(Arc::clone(config));
        }
        let built = Arc::new(tls::build_client_config(self.insecure_tls, self.http2)?);
        // A concurrent first call may have won the race; either value is equivalent.
        Ok(Arc::clone(self.tls.get_or_init(|| built)))
    }

    /// The `-resolve` address for `host`, if `-resolve` applies to it.
    fn resolve_override(&self, host: &Host<&str>) -> Option<IpAddr> {
        let ip = self.resolve?;
        let name = self.resolve_host.as_deref()?;
        let name = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        let applies = match host {
            Host::Domain(d) => d.eq_ignore_ascii_case(name),
            Host::Ipv4(v4) => name.parse::<IpAddr>().is_ok_and(|n| n == IpAddr::V4(*v4)),
            Host::Ipv6(v6) => name.parse::<IpAddr>().is_ok_and(|n| n == IpAddr::V6(*v6)),
        };
        applies.then_some(ip)
    }
}

/// The outcome of one [`Connections::get`]: status, exact timings, bytes, error class.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// Status of the final response, if its head arrived. After too many redirects or a
    /// bad `Location` this is that last 3xx status.
    pub status: Option<u16>,
    /// Request start (including DNS/connect/TLS when a new connection was needed, and all
    /// redirect hops) to the head of the final response.
    pub ttfb: Option<Duration>,
    /// Request start to the last body byte, or to the failure.
    pub total: Duration,
    /// Body bytes received of the final response (also for error statuses, whose bodies
    /// are drained), as the origin sent them: a compressed body counts compressed.
    /// Bodies of intermediate redirect responses are drained for keep-alive but not
    /// counted.
    pub bytes: u64,
    /// The body, only when `keep_body` was requested and the fetch succeeded; decoded if
    /// the origin compressed it.
    pub body: Option<Bytes>,
    /// `None` = success: a 2xx response with a complete body.
    pub error: Option<ErrorClass>,
    /// What exactly went wrong when the class alone does not say (why a body could not
    /// be decoded).
    pub cause: Option<String>,
    /// Redirects followed.
    pub redirects: u32,
    /// The URL after redirects; resolve relative URIs in the body against it.
    pub final_url: Url,
    /// A new TCP connection was opened during this fetch (first use, a closed keep-alive
    /// connection replaced, or a redirect to another host).
    pub connected: bool,
    /// The failure happened at connection level, before the final response head arrived
    /// (refused, reset, DNS, TLS, timeout, unparsable response): the caller should back
    /// off and reconnect. False for HTTP status errors and for failures inside a body.
    pub connect_error: bool,
    /// The protocol of the connection the last hop went out on (`None`: no connection).
    pub protocol: Option<Protocol>,
    /// Connections opened during this fetch, by protocol (`[http1, http2]`).
    pub connections: [u8; 2],
}

impl Fetch {
    fn new(url: &Url) -> Self {
        Self {
            status: None,
            ttfb: None,
            total: Duration::ZERO,
            bytes: 0,
            body: None,
            error: None,
            cause: None,
            redirects: 0,
            final_url: url.clone(),
            connected: false,
            connect_error: false,
            protocol: None,
            connections: [0; 2],
        }
    }

    /// True when the fetch succeeded (2xx, complete body).
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// This finished fetch as the one event model's request: reported as `kind` with
    /// `error` (the caller's verdict, e.g. a 200 whose playlist did not parse), `retry`
    /// when it repeats a failed request. The only place a [`Fetch`] becomes an event.
    pub fn request_done(
        &self,
        kind: RequestKind,
        error: Option<ErrorClass>,
        retry: bool,
    ) -> RequestDone {
        RequestDone {
            kind,
            status: self.status,
            ttfb: self.ttfb,
            total: self.total,
            bytes: self.bytes,
            streamed: 0,
            error,
            redirects: self.redirects,
            retry,
            aborted: false,
            protocol: self.protocol,
            connections: self.connections,
            hold: None,
            lateness: None,
            stream: None,
        }
    }
}

/// Sees one fetch while it runs. Every method has a no-op default.
///
/// Used to count body bytes as they arrive (a long body shows its bytes before it ends)
/// and to account for a fetch whose future is dropped mid-way (the observer outlives it).
pub trait FetchObserver: Send {
    /// The final response's head arrived (`ttfb` from the start of the fetch).
    fn on_head(&mut self, status: u16, ttfb: Duration) {
        let _ = (status, ttfb);
    }

    /// The final response's head declared a body of `len` bytes (`Content-Length`);
    /// called right after [`on_head`](Self::on_head), and only if it did.
    fn on_length(&mut self, len: u64) {
        let _ = len;
    }

    /// `n` more body bytes of the final response arrived (the bytes [`Fetch::bytes`]
    /// counts).
    fn on_bytes(&mut self, n: u64) {
        let _ = n;
    }
}

/// A [`FetchObserver`] that observes nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl FetchObserver for NoObserver {}

/// How one body is read: kept or counted, bounded, where its bytes go.
struct BodyRead<'a> {
    /// Keep (and decode, if compressed) the body.
    keep: bool,
    /// Stop after this many bytes and close the connection instead (redirect drains).
    drain_limit: Option<u64>,
    /// The byte counter to add to.
    bytes: &'a mut u64,
    /// Told about every counted byte.
    observer: &'a mut dyn FetchObserver,
    /// Set when the body could not be decoded: why.
    cause: Option<String>,
}

/// Why one request attempt failed, before any response head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    pub(crate) class: ErrorClass,
    /// Connection level (see [`Fetch::connect_error`]) rather than a bad URL or header.
    transport: bool,
}

impl Failure {
    fn transport(class: ErrorClass) -> Self {
        Self {
            class,
            transport: true,
        }
    }

    fn local() -> Self {
        Self {
            class: ErrorClass::Other,
            transport: false,
        }
    }
}

/// A handle onto one viewer's idle keep-alive connections.
///
/// Each handle issues one request at a time (`get` takes `&mut self`); a viewer's loops
/// each hold their own handle from [`handle`](Self::handle), sharing one idle pool. A
/// connection in use belongs to the request using it; it returns to the pool when its
/// response body has been read completely. [`reset`](Self::reset) closes every idle
/// connection of the pool; dropping the last handle closes them too.
#[derive(Debug)]
pub struct Connections {
    settings: Arc<HttpSettings>,
    user_agent: HeaderValue,
    /// Idle connections, least recently used first; shared by the viewer's handles. An
    /// HTTP/2 connection stays here while it carries requests (they hold shares of it).
    pool: Arc<Mutex<Vec<PooledConn>>>,
    /// The viewer's link, shared by its handles; `None` = reads are not paced.
    link: Option<Arc<Mutex<LinkPacer>>>,
    /// Held while opening a connection that may turn out HTTP/2, so a viewer's loads that
    /// start together wait for it and share it instead of each opening their own.
    connecting: Arc<tokio::sync::Mutex<()>>,
}

impl Connections {
    /// A viewer's connection set sending `user_agent` (falls back to the settings'
    /// User-Agent if empty or not a valid header value).
    pub fn new(settings: Arc<HttpSettings>, user_agent: String) -> Self {
        let user_agent = HeaderValue::try_from(user_agent)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| HeaderValue::try_from(settings.user_agent.as_str()).ok())
            .unwrap_or_else(|| HeaderValue::from_static("hls-swarm"));
        Self {
            settings,
            user_agent,
            pool: Arc::default(),
            link: None,
            connecting: Arc::default(),
        }
    }

    /// This connection set behind a last-mile link of `bits_per_second`: the body reads of
    /// this handle and of every handle made from it from now on share the link's rate
    /// (see [`crate::engine::link`]).
    pub fn with_link(mut self, bits_per_second: u64) -> Self {
        self.link = Some(Arc::new(Mutex::new(LinkPacer::new(bits_per_second))));
        self
    }

    /// Another handle onto the same viewer's idle pool (same settings and User-Agent),
    /// for a loop that loads concurrently with this one.
    pub fn handle(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            user_agent: self.user_agent.clone(),
            pool: Arc::clone(&self.pool),
            link: self.link.clone(),
            connecting: Arc::clone(&self.connecting),
        }
    }

    /// GET `url` — optionally only the byte range `[offset, offset + len)` (`len == 0`
    /// asks for everything from `offset`) — following redirects (at most
    /// `max_redirects`, counted), timing it exactly. Never panics, never returns `Err`:
    /// failures are data in the returned [`Fetch`].
    ///
    /// With `keep_body == false` body frames are counted and discarded as they arrive;
    /// with `keep_body == true` a body beyond [`HttpSettings::max_kept_body`] fails with
    /// [`ErrorClass::PlaylistTooLarge`] (counting the bytes read up to the limit).
    /// A keep-alive connection the server closed while idle is replaced once, silently
    /// (`connected` is set, no error), as a real player does.
    ///
    /// The timeout covers the whole call (all hops, connect, head and body). Dropping the
    /// returned future cancels the fetch and closes the connection it was using; the
    /// remaining pool stays consistent.
    pub async fn get(&mut self, url: &Url, range: Option<(u64, u64)>, keep_body: bool) -> Fetch {
        self.get_observed(url, range, keep_body, &mut NoObserver)
            .await
    }

    /// [`get`](Self::get), telling `observer` about the final response's head and body
    /// bytes as they arrive.
    pub async fn get_observed(
        &mut self,
        url: &Url,
        range: Option<(u64, u64)>,
        keep_body: bool,
        observer: &mut dyn FetchObserver,
    ) -> Fetch {
        let start = Instant::now();
        // One timer for the whole fetch, polled alongside each step: cheaper than
        // registering a fresh timeout for every body frame.
        let deadline = std::pin::pin!(sleep_until(deadline_after(start, self.settings.timeout)));
        let mut deadline = Deadline(deadline);
        let mut fetch = Fetch::new(url);
        self.run(&mut fetch, range, keep_body, start, &mut deadline, observer)
            .await;
        fetch.total = start.elapsed();
        fetch
    }

    /// Close every idle connection of the pool (used on reconnect / re-tune).
    pub fn reset(&mut self) {
        // Dropped outside the lock: dropping aborts the connections' driver tasks.
        let idle = std::mem::take(&mut *self.idle());
        drop(idle);
    }

    /// Number of idle keep-alive connections currently held by the pool.
    pub fn idle_connections(&self) -> usize {
        self.idle().len()
    }

    /// The idle pool. Never held across an await; a poisoned lock (a panic while it was
    /// held, which the short critical sections below cannot cause) still yields the list.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PooledConn>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The redirect loop; fills `fetch` in place so partial results survive a failure.
    async fn run(
        &mut self,
        fetch: &mut Fetch,
        range: Option<(u64, u64)>,
        keep_body: bool,
        start: Instant,
        deadline: &mut Deadline<'_>,
        observer: &mut dyn FetchObserver,
    ) {
        loop {
            let current = fetch.final_url.clone();
            let (resp, head_at, conn) =
                match self.send(&current, range, keep_body, deadline, fetch).await {
                    Ok(sent) => {
                        fetch.protocol = Some(sent.2.sender.protocol());
                        sent
                    }
                    Err(failure) => {
                        fetch.error = Some(failure.class);
                        fetch.connect_error = failure.transport;
                        return;
                    }
                };
            let status = resp.status().as_u16();

            if let Some(location) = redirect_location(&resp) {
                let next = location.and_then(|loc| follow(&current, loc));
                if let Some(next) = next.filter(|_| fetch.redirects < self.settings.max_redirects) {
                    // Drained for keep-alive, not counted: `bytes` is the final body.
                    let mut drained = 0;
                    let mut drain = BodyRead {
                        keep: false,
                        drain_limit: Some(MAX_REDIRECT_DRAIN),
                        bytes: &mut drained,
                        observer: &mut NoObserver,
                        cause: None,
                    };
                    let _ = self.read_body(resp, conn, deadline, &mut drain).await;
                    fetch.redirects += 1;
                    fetch.final_url = next;
                    continue;
                }
                // Too many redirects or an unusable Location: this 3xx is the final
                // response; report it, with its body drained and counted.
                fetch.status = Some(status);
                let ttfb = head_at.duration_since(start);
                fetch.ttfb = Some(ttfb);
                observer.on_head(status, ttfb);
                let mut read = BodyRead {
                    keep: false,
                    drain_limit: None,
                    bytes: &mut fetch.bytes,
                    observer: &mut *observer,
                    cause: None,
                };
                let _ = self.read_body(resp, conn, deadline, &mut read).await;
                fetch.error = Some(ErrorClass::Other);
                return;
            }

            fetch.status = Some(status);
            let ttfb = head_at.duration_since(start);
            fetch.ttfb = Some(ttfb);
            observer.on_head(status, ttfb);
            if let Some(len) = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                observer.on_length(len);
            }
            let success = (200..300).contains(&status);
            let mut read = BodyRead {
                keep: keep_body && success,
                drain_limit: None,
                bytes: &mut fetch.bytes,
                observer: &mut *observer,
                cause: None,
            };
            let result = self.read_body(resp, conn, deadline, &mut read).await;
            let cause = read.cause.take();
            match result {
                Ok(body) if success => fetch.body = body,
                Ok(_) => {
                    fetch.error = Some(ErrorClass::from_status(status).unwrap_or(ErrorClass::Other))
                }
                Err(class) => {
                    if let Some(cause) = &cause {
                        tracing::debug!(url = %crate::config::parse::redact_url(&current), %cause, "response body not decoded");
                    }
                    fetch.error = Some(class);
                    fetch.cause = cause;
                }
            }
            return;
        }
    }

    /// Sends one request and waits for its head, reusing a pooled connection if there is
    /// one and replacing it once if it turns out to have been closed while idle. Sets
    /// `fetch.connected` and counts into `fetch.connections` what it opens.
    async fn send(
        &mut self,
        url: &Url,
        range: Option<(u64, u64)>,
        compressed: bool,
        deadline: &mut Deadline<'_>,
        fetch: &mut Fetch,
    ) -> Result<(Response<Incoming>, Instant, PooledConn), Failure> {
        let authority = Authority::from_url(url).ok_or_else(Failure::local)?;
        // Validate the request before touching the network.
        let mut request = Some(
            self.build_request(url, range, compressed)
                .ok_or_else(Failure::local)?,
        );
        let mut pooled = self.take(&authority);
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(conn) => conn,
                None => match self.open(&authority, deadline, fetch).await? {
                    (conn, true) => conn,
                    // Another load of this viewer opened an HTTP/2 connection meanwhile.
                    (conn, false) => {
                        pooled = Some(conn);
                        continue;
                    }
                },
            };
            if reused {
                match deadline.race(conn.sender.ready()).await {
                    Err(_) => return Err(Failure::transport(ErrorClass::Timeout)),
                    // Closed while idle: replace it without reporting anything.
                    Ok(Err(_)) => {
                        self.forget(&conn);
                        continue;
                    }
                    Ok(Ok(())) => {}
                }
            }
            let req = match request.take() {
                Some(req) => req,
                None => self
                    .build_request(url, range, compressed)
                    .ok_or_else(Failure::local)?,
            };
            let req = match conn.sender {
                Sender::Http1(_) => req,
                Sender::Http2(_) => as_http2(req, url).ok_or_else(Failure::local)?,
            };
            match deadline.race(conn.sender.send_request(req)).await {
                Err(_) => return Err(Failure::transport(ErrorClass::Timeout)),
                Ok(Ok(resp)) => return Ok((resp, Instant::now(), conn)),
                Ok(Err(e)) if reused && is_stale_connection(&e) => {
                    // The server closed the idle connection as we wrote to it (HTTP/2: a
                    // GOAWAY or close before our stream started); the GET never reached
                    // it, so retry once on a fresh connection.
                    tracing::debug!(error = %e, %url, "stale keep-alive connection, reconnecting");
                    self.forget(&conn);
                }
                Ok(Err(e)) => {
                    self.forget(&conn);
                    let class = classify_hyper_on(&e, Phase::Head, conn.sender.protocol());
                    return Err(Failure::transport(class));
                }
            }
        }
    }

    /// Opens a connection to `authority`: `(conn, true)`. When it may turn out HTTP/2,
    /// connects one at a time per viewer, and returns `(conn, false)` instead if a load
    /// that connected meanwhile left a usable connection in the pool. A new HTTP/2
    /// connection goes into the pool at once, so concurrent loads multiplex over it.
    async fn open(
        &mut self,
        authority: &Authority<'_>,
        deadline: &mut Deadline<'_>,
        fetch: &mut Fetch,
    ) -> Result<(PooledConn, bool), Failure> {
        let may_be_h2 = match self.settings.http2 {
            Http2Mode::Off => false,
            Http2Mode::On => true,
            Http2Mode::Auto => authority.https,
        };
        let connecting = Arc::clone(&self.connecting);
        let _guard = if may_be_h2 {
            let guard = deadline
                .race(connecting.lock())
                .await
                .map_err(|_| Failure::transport(ErrorClass::Timeout))?;
            if let Some(conn) = self.take(authority) {
                return Ok((conn, false));
            }
            Some(guard)
        } else {
            None
        };
        fetch.connected = true;
        let conn = connect(&self.settings, authority, deadline.at()).await?;
        fetch.connections[conn.sender.protocol().index()] += 1;
        if let Some(share) = conn.share() {
            self.put(share);
        }
        Ok((conn, true))
    }

    /// Reads (and counts into `read.bytes`, telling `read.observer`) the body of `resp`,
    /// keeping it — decoded, if the origin compressed it — if `read.keep`. Returns the
    /// connection to the pool when the body was read completely and the server keeps the
    /// connection alive. With `read.drain_limit`, stops at that many bytes and closes
    /// instead. A body that cannot be decoded is still read to its end and counted, then
    /// fails with [`ErrorClass::Decoding`] — [`ErrorClass::PlaylistTooLarge`] if it
    /// decodes to more than `--max-playlist-size` — and `read.cause` says why.
    async fn read_body(
        &mut self,
        resp: Response<Incoming>,
        conn: PooledConn,
        deadline: &mut Deadline<'_>,
        read: &mut BodyRead<'_>,
    ) -> Result<Option<Bytes>, ErrorClass> {
        let reusable = keeps_alive(&resp);
        let content_length = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let max_kept = self.settings.max_kept_body;
        if read.keep && content_length.is_some_and(|cl| cl > max_kept) {
            // Announced too large: not one byte is read (dropping `conn` closes it).
            return Err(ErrorClass::PlaylistTooLarge);
        }
        let mut sink = if read.keep {
            match decode::coding_of(resp.headers()) {
                Ok(None) => Kept::Plain(BodySink::new(content_length.map(|cl| cl.min(max_kept)))),
                Ok(Some(coding)) => Kept::Decoding(BodyDecoder::new(coding, max_kept)),
                Err(e) => Kept::Failed(e),
            }
        } else {
            Kept::Nothing
        };
        let mut body = resp.into_body();
        let start_bytes = *read.bytes;
        // With a link: when the bytes read so far have crossed it.
        let mut crossed: Option<Instant> = None;
        loop {
            match deadline.race(body.frame()).await {
                // Dropping `conn` with an unfinished body closes the connection.
                Err(_) => return Err(ErrorClass::Timeout),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(classify_hyper_on(&e, Phase::Body, conn.sender.protocol()));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let n = data.len() as u64;
                        *read.bytes += n;
                        read.observer.on_bytes(n);
                        if read.keep && *read.bytes - start_bytes > max_kept {
                            // Stop at the limit; the connection is closed, not drained.
                            return Err(ErrorClass::PlaylistTooLarge);
                        }
                        sink.push(data);
                        if read
                            .drain_limit
                            .is_some_and(|l| *read.bytes - start_bytes > l)
                        {
                            return Ok(None);
                        }
                        if let Some(link) = &self.link {
                            let now = Instant::now();
                            let (at, wait) = {
                                let mut pacer = link.lock().unwrap_or_else(|e| e.into_inner());
                                let at = pacer.arrive(now, n);
                                (at, pacer.must_wait(now, at))
                            };
                            crossed = Some(at);
                            if wait && deadline.race(sleep_until(at)).await.is_err() {
                                return Err(ErrorClass::Timeout);
                            }
                        }
                    }
                }
            }
        }
        // The body is complete when its last byte has crossed the link.
        if let Some(at) = crossed.filter(|at| *at > Instant::now())
            && deadline.race(sleep_until(at)).await.is_err()
        {
            return Err(ErrorClass::Timeout);
        }
        if content_length.is_some_and(|cl| *read.bytes - start_bytes < cl) {
            return Err(ErrorClass::Truncated);
        }
        if reusable && !conn.sender.is_closed() {
            self.put(conn);
        }
        match sink.finish() {
            Ok(body) => Ok(body),
            Err(e) => {
                read.cause = Some(e.to_string());
                // Decoding past the limit is the same failure as a plain body past it.
                Err(match e {
                    decode::DecodeError::TooLarge { .. } => ErrorClass::PlaylistTooLarge,
                    _ => ErrorClass::Decoding,
                })
            }
        }
    }

    /// Removes and returns the most recently used live idle connection for `authority`,
    /// closing connections that the server closed or that idled past [`IDLE_TIMEOUT`].
    /// An HTTP/2 connection is not removed: a share of it is returned.
    fn take(&mut self, authority: &Authority<'_>) -> Option<PooledConn> {
        let now = Instant::now();
        let mut pool = self.idle();
        let stale: Vec<PooledConn> = pool
            .extract_if(.., |c| {
                c.sender.is_closed() || now - c.idle_since >= IDLE_TIMEOUT
            })
            .collect();
        let found = pool
            .iter()
            .rposition(|c| c.key.matches(authority))
            .map(|i| pool[i].share().unwrap_or_else(|| pool.remove(i)));
        drop(pool);
        drop(stale);
        found
    }

    /// Returns a connection to the pool, evicting the least recently used beyond the cap.
    /// A share of an HTTP/2 connection still pooled only refreshes that entry.
    fn put(&mut self, mut conn: PooledConn) {
        let now = Instant::now();
        conn.idle_since = now;
        let mut pool = self.idle();
        if let Some(pooled) = pool.iter_mut().find(|c| c.id == conn.id) {
            pooled.idle_since = now;
            drop(pool);
            drop(conn);
            return;
        }
        let evicted = (pool.len() >= MAX_POOLED).then(|| pool.remove(0));
        pool.push(conn);
        drop(pool);
        drop(evicted);
    }

    /// Drops the pool's entry for `conn`'s connection (an HTTP/2 connection that failed
    /// stays pooled otherwise; HTTP/1.1 connections in use are never pooled).
    fn forget(&mut self, conn: &PooledConn) {
        let mut pool = self.idle();
        let gone: Vec<PooledConn> = pool.extract_if(.., |c| c.id == conn.id).collect();
        drop(pool);
        drop(gone);
    }

    /// The request for one hop; `None` if the URL or a header cannot be encoded.
    ///
    /// `compressed`: offer `Accept-Encoding: gzip, deflate` (for bodies that are kept and
    /// decoded, like a player does for playlists; never for media).
    fn build_request(
        &self,
        url: &Url,
        range: Option<(u64, u64)>,
        compressed: bool,
    ) -> Option<Request<Empty<Bytes>>> {
        // Origin-form target: path and query, never the fragment.
        let uri = Uri::try_from(&url[Position::BeforePath..Position::AfterQuery]).ok()?;
        // Host as written in the URL (IPv6 bracketed), with the port only if not default.
        let host = HeaderValue::try_from(&url[Position::BeforeHost..Position::BeforePath]).ok()?;
        let mut req = Request::new(Empty::new());
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        let extra = &self.settings.extra_headers;
        let headers = req.headers_mut();
        headers.reserve(5 + extra.len());
        headers.insert(HOST, host);
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if compressed {
            headers.insert(
                ACCEPT_ENCODING,
                HeaderValue::from_static(decode::ACCEPT_ENCODING),
            );
        }
        if let Some((offset, len)) = range {
            let value = match len.checked_sub(1) {
                Some(last) => format!("bytes={}-{}", offset, offset.saturating_add(last)),
                None => format!("bytes={offset}-"),
            };
            headers.insert(RANGE, HeaderValue::try_from(value).ok()?);
        }
        for name in extra.keys() {
            headers.remove(name);
        }
        for (name, value) in extra {
            headers.append(name.clone(), value.clone());
        }
        Some(req)
    }
}

/// `req` (built for HTTP/1.1) as an HTTP/2 request: absolute URI (hyper sends its scheme
/// and authority as `:scheme` and `:authority`), version 2, and no `Host` header unless
/// `-header` asked for one (`:authority` replaces it). `None` if the URL cannot be a URI.
fn as_http2(mut req: Request<Empty<Bytes>>, url: &Url) -> Option<Request<Empty<Bytes>>> {
    *req.uri_mut() = Uri::try_from(&url[..Position::AfterQuery]).ok()?;
    *req.version_mut() = Version::HTTP_2;
    let host = HeaderValue::try_from(&url[Position::BeforeHost..Position::BeforePath]).ok()?;
    if req.headers().get(HOST) == Some(&host) {
        req.headers_mut().remove(HOST);
    }
    Some(req)
}

/// The deadline of one fetch: a single timer registration raced against each step.
struct Deadline<'a>(std::pin::Pin<&'a mut Sleep>);

/// The deadline passed before the step completed.
struct TimedOut;

impl Deadline<'_> {
    /// When the fetch times out.
    fn at(&self) -> Instant {
        self.0.deadline()
    }

    /// `step`'s output, unless the deadline passes first.
    async fn race<F: std::future::Future>(&mut self, step: F) -> Result<F::Output, TimedOut> {
        tokio::select! {
            biased;
            out = step => Ok(out),
            () = self.0.as_mut() => Err(TimedOut),
        }
    }
}

/// `start + timeout`, saturating instead of panicking on absurd timeouts.
fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
    start.checked_add(timeout.min(FAR)).unwrap_or(start)
}

/// For a redirect status: `Some(Location)` (`Some(None)` if missing or not a string).
/// `None` for any other status.
fn redirect_location(resp: &Response<Incoming>) -> Option<Option<&str>> {
    matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308)
        .then(|| resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()))
}

/// The redirect target: `location` resolved against `current`, if it is http(s) with a host.
fn follow(current: &Url, location: &str) -> Option<Url> {
    let next = current.join(location.trim()).ok()?;
    Authority::from_url(&next)?;
    Some(next)
}

/// Whether the connection may carry another request after this response.
fn keeps_alive(resp: &Response<Incoming>) -> bool {
    let has_token = |token: &str| {
        resp.headers().get_all(CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    match resp.version() {
        Version::HTTP_10 | Version::HTTP_09 => has_token("keep-alive"),
        _ => !has_token("close"),
    }
}

/// Where the frames of one body go.
enum Kept {
    /// Counted only.
    Nothing,
    /// Kept as it arrives.
    Plain(BodySink),
    /// Decoded as it arrives.
    Decoding(BodyDecoder),
    /// Will fail: the coding cannot be decoded, or decoding failed (the rest is only
    /// counted).
    Failed(decode::DecodeError),
}

impl Kept {
    fn push(&mut self, data: Bytes) {
        match self {
            Kept::Nothing | Kept::Failed(_) => {}
            Kept::Plain(sink) => sink.push(data),
            Kept::Decoding(d) => {
                if let Err(e) = d.push(&data) {
                    *self = Kept::Failed(e);
                }
            }
        }
    }

    /// The kept body (`None` when not kept), or why it cannot be had.
    fn finish(self) -> Result<Option<Bytes>, decode::DecodeError> {
        match self {
            Kept::Nothing => Ok(None),
            Kept::Plain(sink) => Ok(Some(sink.finish())),
            Kept::Decoding(d) => d.finish().map(Some),
            Kept::Failed(e) => Err(e),
        }
    }
}

/// Accumulates a kept body without copying when it arrives in a single frame.
struct BodySink {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    hint: usize,
}

impl BodySink {
    fn new(content_length: Option<u64>) -> Self {
        let hint = content_length.unwrap_or(0).min(MAX_BODY_RESERVE);
        Self {
            first: None,
            rest: None,
            hint: usize::try_from(hint).unwrap_or(0),
        }
    }

    fn push(&mut self, data: Bytes) {
        if let Some(rest) = self.rest.as_mut() {
            rest.extend_from_slice(&data);
            return;
        }
        match self.first.take() {
            None => self.first = Some(data),
            Some(first) => {
                let mut rest = BytesMut::with_capacity(self.hint.max(first.len() + data.len()));
                rest.extend_from_slice(&first);
                rest.extend_from_slice(&data);
                self.rest = Some(rest);
            }
        }
    }

    fn finish(self) -> Bytes {
        match (self.rest, self.first) {
            (Some(rest), _) => rest.freeze(),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests;

//! A hostile HLS origin for tests: a raw-TCP HTTP/1.1 server on `127.0.0.1:0` that
//! misbehaves in one chosen way per path, and logs every response it served.
//!
//! Every [`Case`] is a complete live stream under its own path prefix, `/<case>/`:
//! `index.m3u8` is the entry playlist (a media playlist, or a multivariant playlist for
//! [`Case::HugeMaster`]), `s<MSN>.ts` are its segments. Everything about a case is
//! well-formed except the one misbehaviour it is named after, so a client's outcome can
//! be pinned on that misbehaviour. Under `/<case>/<label>/` the same case is served for
//! a labelled client; when the label starts with `late` it is healthy for
//! [`Settings::switch_after`] from its first request and hostile after that (a
//! misbehaviour that starts mid-run,
//! after the client's start-up checks passed). One server serves every case at once, so a test
//! matrix can run its rows concurrently against one harness and tell its rows' traffic
//! apart by path ([`HostileOrigin::served`]).
//!
//! The stream is live: the newest segment number grows by one every
//! [`Settings::segment`] since the server started, the playlist lists the newest
//! [`Settings::window`] segments, each segment is [`Settings::segment_bytes`] bytes.
//!
//! Use it from an integration test with `mod hostile;` (this file is `tests/hostile/mod.rs`,
//! which Cargo does not build as a test of its own).
#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// One misbehaviour of the origin; the path prefix is [`Case::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// No misbehaviour: the baseline live stream.
    Healthy,
    /// Segments: head and part of the body, then a TCP reset.
    ResetMidBody,
    /// Segments: head and part of the body, then nothing (the connection stays open).
    StalledBody,
    /// Segments: the response head trickles out one byte every 200 ms (slowloris).
    SlowHead,
    /// The playlist: a valid start, then segment lines forever (close-delimited body).
    EndlessPlaylist,
    /// The playlist: a valid playlist of [`Settings::huge_playlist_bytes`] bytes with an
    /// honest Content-Length.
    HugePlaylist,
    /// Segments: a chunked body that never ends.
    EndlessChunked,
    /// Segments: Content-Length announces half the bytes that are sent.
    ContentLengthShort,
    /// Segments: Content-Length announces twice the bytes sent, then the connection closes.
    ContentLengthLong,
    /// The playlist: `302` to itself (with a growing query) forever.
    RedirectLoop,
    /// The playlist: gzip-encoded with `Content-Encoding: gzip`, whatever the request
    /// offered.
    Gzip,
    /// The playlist: gzip-encoded only when the request's `Accept-Encoding` offers gzip.
    GzipIfAccepted,
    /// The playlist: `#EXT-X-TARGETDURATION:0` (segments are still 1 s).
    TargetZero,
    /// The playlist: `#EXT-X-TARGETDURATION:86400`.
    TargetHuge,
    /// The playlist: every `#EXTINF:0`.
    ExtinfZero,
    /// The playlist: `#EXTINF:-1`.
    ExtinfNegative,
    /// The playlist: `#EXTINF:NaN`.
    ExtinfNan,
    /// The playlist: `#EXTINF:80000` with a target duration of 1.
    ExtinfHuge,
    /// The playlist: the media sequence starts `2 × window` below `u64::MAX` and grows
    /// to the last possible number (then the playlist stays put).
    HugeSequence,
    /// The playlist: the media sequence jumps back by 100,000 every
    /// [`Settings::switch_after`].
    SeqBackwards,
    /// The playlist: the media sequence jumps forward by 2^60 every
    /// [`Settings::switch_after`].
    SeqFarForward,
    /// The playlist: every response has a random media sequence anywhere in `u64`.
    SeqRandom,
    /// Every response is `HTTP/1.0` with `Connection: close`, and the connection closes.
    Http10Close,
    /// Every response is preceded by `100 Continue` and `103 Early Hints`.
    Informational,
    /// Segments: `200 OK` with an empty body.
    EmptySegment,
    /// The entry is a multivariant playlist with [`Settings::huge_master_variants`]
    /// variants, each a healthy media playlist.
    HugeMaster,
}

impl Case {
    /// Every case.
    pub const ALL: [Case; 26] = [
        Case::Healthy,
        Case::ResetMidBody,
        Case::StalledBody,
        Case::SlowHead,
        Case::EndlessPlaylist,
        Case::HugePlaylist,
        Case::EndlessChunked,
        Case::ContentLengthShort,
        Case::ContentLengthLong,
        Case::RedirectLoop,
        Case::Gzip,
        Case::GzipIfAccepted,
        Case::TargetZero,
        Case::TargetHuge,
        Case::ExtinfZero,
        Case::ExtinfNegative,
        Case::ExtinfNan,
        Case::ExtinfHuge,
        Case::HugeSequence,
        Case::SeqBackwards,
        Case::SeqFarForward,
        Case::SeqRandom,
        Case::Http10Close,
        Case::Informational,
        Case::EmptySegment,
        Case::HugeMaster,
    ];

    /// The path prefix (without slashes) of this case.
    pub fn name(self) -> &'static str {
        match self {
            Case::Healthy => "healthy",
            Case::ResetMidBody => "reset-mid-body",
            Case::StalledBody => "stalled-body",
            Case::SlowHead => "slow-head",
            Case::EndlessPlaylist => "endless-playlist",
            Case::HugePlaylist => "huge-playlist",
            Case::EndlessChunked => "endless-chunked",
            Case::ContentLengthShort => "content-length-short",
            Case::ContentLengthLong => "content-length-long",
            Case::RedirectLoop => "redirect-loop",
            Case::Gzip => "gzip",
            Case::GzipIfAccepted => "gzip-if-accepted",
            Case::TargetZero => "target-zero",
            Case::TargetHuge => "target-huge",
            Case::ExtinfZero => "extinf-zero",
            Case::ExtinfNegative => "extinf-negative",
            Case::ExtinfNan => "extinf-nan",
            Case::ExtinfHuge => "extinf-huge",
            Case::HugeSequence => "huge-sequence",
            Case::SeqBackwards => "seq-backwards",
            Case::SeqFarForward => "seq-far-forward",
            Case::SeqRandom => "seq-random",
            Case::Http10Close => "http10-close",
            Case::Informational => "informational",
            Case::EmptySegment => "empty-segment",
            Case::HugeMaster => "huge-master",
        }
    }

    fn from_name(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Shape of the stream every case serves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Segment duration (and the `EXTINF` of healthy segments).
    pub segment: Duration,
    /// Body size of a healthy segment.
    pub segment_bytes: usize,
    /// Segments listed by a playlist.
    pub window: u64,
    /// Body size of [`Case::HugePlaylist`].
    pub huge_playlist_bytes: u64,
    /// Variants of [`Case::HugeMaster`].
    pub huge_master_variants: usize,
    /// When a case served under `late/` turns hostile, and the period of the sequence
    /// jumps.
    pub switch_after: Duration,
    /// Upper bound on the body bytes of one endless response, so a client that never
    /// stops reading cannot keep the harness busy for ever.
    pub endless_cap: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            segment: Duration::from_secs(1),
            segment_bytes: 4_000,
            window: 4,
            huge_playlist_bytes: 64 * 1024 * 1024,
            huge_master_variants: 10_000,
            switch_after: Duration::from_secs(3),
            endless_cap: 64 * 1024 * 1024 * 1024,
        }
    }
}

/// One response the harness served (or began to serve), as it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The case (path prefix) it belonged to; `None` for an unknown path.
    pub case: Option<Case>,
    /// Request path without the query.
    pub path: String,
    /// Final status sent (after any 1xx); 0 if none was sent.
    pub status: u16,
    /// The request's `Accept-Encoding` header, if any.
    pub accept_encoding: Option<String>,
    /// Bytes of the final response head that reached the socket.
    pub head_bytes: u64,
    /// Body bytes that reached the socket (the wire bytes, compressed if gzip).
    pub body_bytes: u64,
    /// The whole intended response was written (false for endless, stalled and reset
    /// bodies, and when the client went away first).
    pub complete: bool,
}

impl Served {
    /// A segment request.
    pub fn is_segment(&self) -> bool {
        self.path.ends_with(".ts")
    }

    /// A playlist request.
    pub fn is_playlist(&self) -> bool {
        self.path.ends_with(".m3u8")
    }
}

/// The live log entry behind a [`Served`], updated while the response is written.
#[derive(Debug)]
struct Entry {
    case: Option<Case>,
    path: String,
    accept_encoding: Option<String>,
    status: AtomicU64,
    head_bytes: AtomicU64,
    body_bytes: AtomicU64,
    complete: AtomicBool,
}

impl Entry {
    fn snapshot(&self) -> Served {
        Served {
            case: self.case,
            path: self.path.clone(),
            status: self.status.load(Ordering::SeqCst) as u16,
            accept_encoding: self.accept_encoding.clone(),
            head_bytes: self.head_bytes.load(Ordering::SeqCst),
            body_bytes: self.body_bytes.load(Ordering::SeqCst),
            complete: self.complete.load(Ordering::SeqCst),
        }
    }
}

struct Shared {
    settings: Settings,
    started: Instant,
    log: Mutex<Vec<Arc<Entry>>>,
    stop: CancellationToken,
    /// State of [`Case::SeqRandom`]'s generator.
    rng: Mutex<u64>,
    /// When each labelled prefix (`/<case>/<label>/`) was first requested.
    first_seen: Mutex<std::collections::HashMap<String, Instant>>,
}

/// A running hostile origin. Dropping it stops it too.
pub struct HostileOrigin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl HostileOrigin {
    /// Start with [`Settings::default`].
    pub async fn start() -> HostileOrigin {
        Self::start_with(Settings::default()).await
    }

    /// Start with `settings` on an ephemeral loopback port.
    pub async fn start_with(settings: Settings) -> HostileOrigin {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind hostile origin");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            settings,
            started: Instant::now(),
            log: Mutex::new(Vec::new()),
            stop: CancellationToken::new(),
            rng: Mutex::new(0x9E37_79B9_7F4A_7C15),
            first_seen: Mutex::new(std::collections::HashMap::new()),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = s.stop.cancelled() => return,
                };
                let Ok((stream, _)) = conn else { continue };
                let s2 = s.clone();
                tokio::spawn(async move {
                    let stop = s2.stop.clone();
                    tokio::select! {
                        _ = serve_connection(s2, stream) => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
        HostileOrigin {
            addr,
            shared,
            accept,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The entry URL of `case`, hostile from the first request.
    pub fn url(&self, case: Case) -> String {
        format!("http://{}/{}/index.m3u8", self.addr, case.name())
    }

    /// The entry URL of `case` healthy for [`Settings::switch_after`], hostile after.
    pub fn url_late(&self, case: Case) -> String {
        self.url_labelled(case, "late")
    }

    /// The entry URL of `case` under `/<case>/<label>/`, so that several clients of one
    /// case can be told apart in the log ([`served_labelled`](Self::served_labelled)). A
    /// label starting with `late` is healthy for [`Settings::switch_after`] first.
    pub fn url_labelled(&self, case: Case, label: &str) -> String {
        format!("http://{}/{}/{label}/index.m3u8", self.addr, case.name())
    }

    /// Everything served so far under [`url_labelled`](Self::url_labelled)`(case, label)`.
    pub fn served_labelled(&self, case: Case, label: &str) -> Vec<Served> {
        let prefix = format!("/{}/{label}/", case.name());
        self.served(case)
            .into_iter()
            .filter(|s| s.path.starts_with(&prefix))
            .collect()
    }

    /// Everything served so far for `case`, in the order the requests arrived.
    pub fn served(&self, case: Case) -> Vec<Served> {
        self.served_all()
            .into_iter()
            .filter(|s| s.case == Some(case))
            .collect()
    }

    /// Everything served so far, in the order the requests arrived.
    pub fn served_all(&self) -> Vec<Served> {
        let log = self.shared.log.lock().expect("log lock");
        log.iter().map(|e| e.snapshot()).collect()
    }

    /// Stop accepting and close every connection.
    pub async fn shutdown(self) {
        self.shared.stop.cancel();
        let _ = (&mut { self }.accept).await;
    }
}

impl Drop for HostileOrigin {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

/// A parsed request head.
struct Request {
    path: String,
    query: String,
    accept_encoding: Option<String>,
}

/// Serve requests on one connection until the client or a case closes it.
async fn serve_connection(shared: Arc<Shared>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    loop {
        let Some(req) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let case = req
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .and_then(Case::from_name);
        let entry = Arc::new(Entry {
            case,
            path: req.path.clone(),
            accept_encoding: req.accept_encoding.clone(),
            status: AtomicU64::new(0),
            head_bytes: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            complete: AtomicBool::new(false),
        });
        shared
            .log
            .lock()
            .expect("log lock")
            .push(Arc::clone(&entry));
        let mut out = Out {
            stream: &mut stream,
            entry: &entry,
        };
        let keep = match case {
            Some(case) => respond(&shared, case, &req, &mut out).await,
            None => out.simple(404, "text/plain", b"unknown case\n", true).await,
        };
        if !keep {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads one request head from `stream` (keeping pipelined bytes in `buf`).
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Request::new(&mut headers);
            r.parse(&head).ok()?;
            let target = r.path?.to_owned();
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_owned(), q.to_owned()),
                None => (target, String::new()),
            };
            let accept_encoding = r
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("accept-encoding"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned());
            return Some(Request {
                path,
                query,
                accept_encoding,
            });
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The response being written, counting what reaches the socket into its log entry.
struct Out<'a> {
    stream: &'a mut TcpStream,
    entry: &'a Entry,
}

impl Out<'_> {
    /// Write the final response head.
    async fn head(&mut self, head: &str) -> bool {
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        self.entry.status.store(status, Ordering::SeqCst);
        if self.stream.write_all(head.as_bytes()).await.is_err() {
            return false;
        }
        self.entry
            .head_bytes
            .fetch_add(head.len() as u64, Ordering::SeqCst);
        true
    }

    /// Write body bytes; false once the client is gone.
    async fn body(&mut self, bytes: &[u8]) -> bool {
        if self.stream.write_all(bytes).await.is_err() {
            return false;
        }
        self.entry
            .body_bytes
            .fetch_add(bytes.len() as u64, Ordering::SeqCst);
        true
    }

    fn done(&self) {
        self.entry.complete.store(true, Ordering::SeqCst);
    }

    /// A complete response with Content-Length; returns whether to keep the connection.
    async fn simple(&mut self, status: u16, ctype: &str, body: &[u8], keep: bool) -> bool {
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{}\r\n",
            reason(status),
            body.len(),
            if keep { "" } else { "Connection: close\r\n" },
        );
        if self.head(&head).await && self.body(body).await {
            self.done();
            return keep;
        }
        false
    }

    /// Wait until the client closes the connection (or the harness stops).
    async fn hold_open(&mut self) {
        let mut sink = [0u8; 1024];
        loop {
            match self.stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        _ => "Status",
    }
}

/// What a case's path asks for.
enum Resource {
    /// The entry playlist.
    Index,
    /// Media playlist of a variant of [`Case::HugeMaster`].
    Variant,
    /// Segment with this number.
    Segment(u64),
    /// Anything else.
    Unknown,
}

fn resource(case: Case, path: &str) -> Resource {
    let file = path.rsplit('/').next().unwrap_or_default();
    if file == "index.m3u8" {
        return Resource::Index;
    }
    if case == Case::HugeMaster && file.starts_with('v') && file.ends_with(".m3u8") {
        return Resource::Variant;
    }
    match file
        .strip_prefix('s')
        .and_then(|f| f.strip_suffix(".ts"))
        .and_then(|n| n.parse().ok())
    {
        Some(n) => Resource::Segment(n),
        None => Resource::Unknown,
    }
}

/// Serve `req` as [`Case::Healthy`] would.
async fn healthy(shared: &Shared, req: &Request, out: &mut Out<'_>) -> bool {
    match resource(Case::Healthy, &req.path) {
        Resource::Index | Resource::Variant => playlist(shared, Case::Healthy, req, out).await,
        Resource::Segment(_) => segment(&shared.settings, Case::Healthy, out).await,
        Resource::Unknown => out.simple(404, "text/plain", b"no such file\n", true).await,
    }
}

/// Serve one request of `case`; returns whether the connection stays open.
async fn respond(shared: &Shared, case: Case, req: &Request, out: &mut Out<'_>) -> bool {
    let s = &shared.settings;
    // `/<case>/<label>/<file>`: a label starting with `late` turns hostile late.
    let parts: Vec<&str> = req.path.split('/').collect();
    let late = parts.len() > 3 && parts[2].starts_with("late");
    let hostile = !late || {
        // Late relative to the label's first request, however late its client started.
        let mut seen = shared.first_seen.lock().expect("first_seen lock");
        let key = format!("{}/{}", parts[1], parts[2]);
        seen.entry(key).or_insert_with(Instant::now).elapsed() >= s.switch_after
    };
    if !hostile {
        return healthy(shared, req, out).await;
    }
    if case == Case::Informational {
        let interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x.ts>; rel=preload\r\n\r\n";
        if out.stream.write_all(interim.as_bytes()).await.is_err() {
            return false;
        }
    }
    match resource(case, &req.path) {
        Resource::Unknown => out.simple(404, "text/plain", b"no such file\n", true).await,
        Resource::Index if case == Case::HugeMaster => {
            let body = huge_master(s.huge_master_variants);
            out.simple(200, PLAYLIST_TYPE, body.as_bytes(), true).await
        }
        Resource::Index | Resource::Variant => playlist(shared, case, req, out).await,
        Resource::Segment(_) => segment(s, case, out).await,
    }
}

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// The newest segment number of a healthy stream at `elapsed`.
fn live_msn(s: &Settings, elapsed: Duration) -> u64 {
    (elapsed.as_millis() / s.segment.as_millis().max(1)) as u64
}

/// A media playlist listing `count` segments from `first`, with the given tag values.
fn media_text(target: &str, extinf: &str, first: u64, count: u64) -> String {
    let mut t = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for i in 0..count {
        let Some(msn) = first.checked_add(i) else {
            break;
        };
        t.push_str(&format!("#EXTINF:{extinf},\ns{msn}.ts\n"));
    }
    t
}

/// Serve the media playlist of `case`.
async fn playlist(shared: &Shared, case: Case, req: &Request, out: &mut Out<'_>) -> bool {
    let s = &shared.settings;
    let elapsed = shared.started.elapsed();
    let secs = s.segment.as_secs_f64();
    let extinf = format!("{secs:.3}");
    let target = format!("{}", s.segment.as_secs_f64().ceil().max(1.0) as u64);
    let now = live_msn(s, elapsed);
    let first = now.saturating_sub(s.window - 1);
    let healthy = || media_text(&target, &extinf, first, s.window);
    let phase = elapsed.as_millis() / s.switch_after.as_millis().max(1);
    let text = match case {
        Case::EndlessPlaylist => return endless_playlist(s, out).await,
        Case::HugePlaylist => return huge_playlist(s, out).await,
        Case::RedirectLoop => {
            let hop: u64 = req
                .query
                .strip_prefix("hop=")
                .and_then(|h| h.parse().ok())
                .unwrap_or(0);
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {}?hop={}\r\nContent-Length: 0\r\n\r\n",
                req.path,
                hop + 1
            );
            if out.head(&head).await {
                out.done();
                return true;
            }
            return false;
        }
        Case::Gzip => return gzip_playlist(out, &healthy()).await,
        Case::GzipIfAccepted
            if req
                .accept_encoding
                .as_deref()
                .is_some_and(|a| a.to_ascii_lowercase().contains("gzip")) =>
        {
            return gzip_playlist(out, &healthy()).await;
        }
        Case::TargetZero => media_text("0", &extinf, first, s.window),
        Case::TargetHuge => media_text("86400", &extinf, first, s.window),
        Case::ExtinfZero => media_text(&target, "0", first, s.window),
        Case::ExtinfNegative => media_text(&target, "-1", first, s.window),
        Case::ExtinfNan => media_text(&target, "NaN", first, s.window),
        Case::ExtinfHuge => media_text(&target, "80000", first, s.window),
        Case::HugeSequence => {
            let base = u64::MAX - 2 * s.window;
            let first = base.saturating_add(first).min(u64::MAX - (s.window - 1));
            media_text(&target, &extinf, first, s.window)
        }
        Case::SeqBackwards => {
            let base = 1_000_000u64.saturating_sub(100_000 * phase as u64);
            media_text(&target, &extinf, base + first, s.window)
        }
        Case::SeqFarForward => {
            let base = (phase as u64).min(15) << 60;
            media_text(&target, &extinf, base + first, s.window)
        }
        Case::SeqRandom => {
            let r = {
                let mut state = shared.rng.lock().expect("rng lock");
                // xorshift64: deterministic, anywhere in u64.
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                *state
            };
            media_text(&target, &extinf, r.min(u64::MAX - s.window), s.window)
        }
        _ => healthy(),
    };
    if case == Case::Http10Close {
        return http10(out, PLAYLIST_TYPE, text.as_bytes()).await;
    }
    out.simple(200, PLAYLIST_TYPE, text.as_bytes(), true).await
}

/// A multivariant playlist with `n` variants `v<i>.m3u8`.
fn huge_master(n: usize) -> String {
    let mut t = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for i in 0..n {
        t.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION=640x360\nv{i}.m3u8\n",
            100_000 + i
        ));
    }
    t
}

/// The gzip-encoded `text`, with `Content-Encoding: gzip`.
async fn gzip_playlist(out: &mut Out<'_>, text: &str) -> bool {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip in memory");
    let body = enc.finish().expect("gzip in memory");
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {PLAYLIST_TYPE}\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if out.head(&head).await && out.body(&body).await {
        out.done();
        return true;
    }
    false
}

/// `HTTP/1.0`, `Connection: close`, then close.
async fn http10(out: &mut Out<'_>, ctype: &str, body: &[u8]) -> bool {
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if out.head(&head).await && out.body(body).await {
        out.done();
    }
    false
}

/// About 64 KiB of whole `#EXTINF` entries (segment names repeat from one block to the
/// next, which a parser does not mind), built once: endless and huge playlists are written
/// from it at socket speed.
fn entry_block() -> &'static [u8] {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| {
        let mut block = String::new();
        let mut msn = 0u64;
        while block.len() < 64 * 1024 {
            block.push_str(&format!("#EXTINF:1.000,\ns{msn}.ts\n"));
            msn += 1;
        }
        block.into_bytes()
    })
}

/// Segment lines for ever (close-delimited), until the client goes or the cap is hit.
async fn endless_playlist(s: &Settings, out: &mut Out<'_>) -> bool {
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {PLAYLIST_TYPE}\r\nConnection: close\r\n\r\n");
    if !out.head(&head).await
        || !out
            .body(b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n")
            .await
    {
        return false;
    }
    let block = entry_block();
    let mut sent = 0u64;
    while sent < s.endless_cap {
        if !out.body(block).await {
            return false;
        }
        sent += block.len() as u64;
    }
    false
}

/// A valid playlist of exactly `huge_playlist_bytes` bytes (the tail padded with blank
/// lines), with Content-Length.
async fn huge_playlist(s: &Settings, out: &mut Out<'_>) -> bool {
    let start: &[u8] =
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n";
    let block = entry_block();
    let total = s.huge_playlist_bytes.max(start.len() as u64);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {PLAYLIST_TYPE}\r\nContent-Length: {total}\r\n\r\n"
    );
    if !out.head(&head).await || !out.body(start).await {
        return false;
    }
    let mut left = total - start.len() as u64;
    while left >= block.len() as u64 {
        if !out.body(block).await {
            return false;
        }
        left -= block.len() as u64;
    }
    // The tail: whole entries that fit, then blank lines.
    let mut tail = Vec::with_capacity(left as usize);
    let lines: Vec<&[u8]> = block.split_inclusive(|&b| b == b'\n').collect();
    for entry in lines.chunks_exact(2) {
        let len = entry[0].len() + entry[1].len();
        if (tail.len() + len) as u64 > left {
            break;
        }
        tail.extend_from_slice(entry[0]);
        tail.extend_from_slice(entry[1]);
    }
    tail.resize(left as usize, b'\n');
    if out.body(&tail).await {
        out.done();
        return true;
    }
    false
}

/// Serve a segment of `case`.
async fn segment(s: &Settings, case: Case, out: &mut Out<'_>) -> bool {
    let n = s.segment_bytes;
    let body = vec![0x47u8; n];
    match case {
        Case::ResetMidBody => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {n}\r\n\r\n"
            );
            if out.head(&head).await {
                out.body(&body[..n / 4]).await;
                let _ = out.stream.flush().await;
            }
            // A zero linger makes the close a reset.
            #[allow(deprecated)]
            let _ = out.stream.set_linger(Some(Duration::ZERO));
            false
        }
        Case::StalledBody => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {n}\r\n\r\n"
            );
            if out.head(&head).await && out.body(&body[..n / 4]).await {
                out.hold_open().await;
            }
            false
        }
        Case::SlowHead => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {n}\r\n\r\n"
            );
            out.entry.status.store(200, Ordering::SeqCst);
            for b in head.as_bytes() {
                if out.stream.write_all(&[*b]).await.is_err() {
                    return false;
                }
                out.entry.head_bytes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if out.body(&body).await {
                out.done();
                return true;
            }
            false
        }
        Case::EndlessChunked => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n";
            if !out.head(head).await {
                return false;
            }
            // Body bytes count the chunk payload; the framing is counted as head bytes.
            let chunk = vec![0x47u8; 16 * 1024];
            let frame = format!("{:x}\r\n", chunk.len());
            let mut sent = 0u64;
            while sent < s.endless_cap {
                if out.stream.write_all(frame.as_bytes()).await.is_err() {
                    return false;
                }
                out.entry
                    .head_bytes
                    .fetch_add(frame.len() as u64 + 2, Ordering::SeqCst);
                if !out.body(&chunk).await || out.stream.write_all(b"\r\n").await.is_err() {
                    return false;
                }
                sent += chunk.len() as u64;
            }
            false
        }
        Case::ContentLengthShort => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\n\r\n",
                n / 2
            );
            if out.head(&head).await && out.body(&body).await {
                out.done();
                return true;
            }
            false
        }
        Case::ContentLengthLong => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\n\r\n",
                n * 2
            );
            if out.head(&head).await && out.body(&body).await {
                out.done();
            }
            false
        }
        Case::EmptySegment => out.simple(200, "video/mp2t", b"", true).await,
        Case::Http10Close => http10(out, "video/mp2t", &body).await,
        _ => out.simple(200, "video/mp2t", &body, true).await,
    }
}

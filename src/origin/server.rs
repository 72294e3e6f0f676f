//! The HTTP shell: accept loop, per-connection hyper server (HTTP/1.1, or HTTP/2 with
//! prior knowledge), request handling.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::access_log::{AccessLogSender, LogRecord, unix_seconds};
use super::asset::{Flavor, Media};
use super::body::{AbortFlag, AbortableStream, Gate, OriginBody, PendingLog};
use super::cache::{PlaylistCache, SegmentRing};
use super::control;
use super::faults::{Decision, FaultControl, FaultKind};
use super::ll::{self, Directives};
use super::playlist::{self, LlView, VariantInfo};
use super::routes::{self, Route, Track};
use super::timeline::Timeline;
use super::ts;

/// Bitrate the audio rendition's segments are padded to (bit/s).
pub const AUDIO_RENDITION_BPS: u64 = 64_000;
/// How long shutdown waits for in-flight responses before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

const PLAYLIST_TYPE: HeaderValue = HeaderValue::from_static("application/vnd.apple.mpegurl");
const SEGMENT_TYPE: HeaderValue = HeaderValue::from_static("video/mp2t");
const TEXT_TYPE: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const PLAYLIST_CACHE: HeaderValue = HeaderValue::from_static("max-age=1");
/// LL-HLS playlists change every part: a shared cache may keep them no longer than that.
const LL_PLAYLIST_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
/// Segments' worth of parts kept built per track.
const PART_CACHE_SEGMENTS: usize = 6;
/// Longest single sleep of a held request, so run-time fault changes are seen.
const HOLD_RECHECK: Duration = Duration::from_millis(500);
const SEGMENT_CACHE: HeaderValue = HeaderValue::from_static("max-age=60, immutable");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

/// One servable track (variant or audio rendition).
#[derive(Debug)]
pub struct TrackState {
    flavor: Flavor,
    target_len: usize,
    ring: SegmentRing,
    playlist: PlaylistCache,
    /// LL-HLS parts of this track (with `--part-duration`).
    parts: Option<TrackParts>,
    /// `../vJ/playlist.m3u8` of the other variants (rendition reports).
    reports: Vec<String>,
}

/// The LL-HLS parts of one track.
#[derive(Debug)]
struct TrackParts {
    layout: ts::PartLayout,
    /// Padded length of part k of every segment.
    target_len: Vec<usize>,
    /// Whether part k of every segment opens with a key frame.
    independent: Vec<bool>,
    ring: SegmentRing,
    delta: PlaylistCache,
}

/// Everything request handlers share.
#[derive(Debug)]
pub struct State {
    timeline: Timeline,
    media: Media,
    epoch_unix: Duration,
    start: Instant,
    master: Bytes,
    variants: Vec<TrackState>,
    audio: Option<TrackState>,
    /// Live fault configuration.
    pub faults: FaultControl,
    log: Option<AccessLogSender>,
    fault_api: bool,
    /// Channels served (`/ch{c}/`, see [`routes::channel`]).
    channels: u32,
    /// TCP connections accepted so far (HTTP/1.1 and h2c alike).
    connections_accepted: std::sync::atomic::AtomicU64,
    /// TCP connections closed so far (served to their end, either side closing).
    connections_closed: std::sync::atomic::AtomicU64,
}

/// Inputs of [`State::new`].
#[derive(Debug)]
pub struct StateParams {
    /// Segment timing.
    pub timeline: Timeline,
    /// Embedded media for the segment duration.
    pub media: Media,
    /// Variant bitrates.
    pub variants_bps: Vec<u64>,
    /// Whether to serve a separate audio rendition.
    pub audio_rendition: bool,
    /// Faults.
    pub faults: FaultControl,
    /// Access log sink.
    pub log: Option<AccessLogSender>,
    /// Origin start (monotonic).
    pub start: Instant,
    /// Origin start (wall clock).
    pub start_wall: SystemTime,
    /// Serve the fault API ([`control`]) to loopback peers.
    pub fault_api: bool,
    /// Channels served, each under `/ch{c}/`.
    pub channels: u32,
}

impl State {
    /// Builds the shared state and renders the master playlist.
    pub fn new(p: StateParams) -> Self {
        let tl = p.timeline;
        let dur = tl.segment_duration();
        let dur_ms = u64::try_from(dur.as_millis()).unwrap_or(u64::MAX);
        let media = p.media;
        let track = |flavor: Flavor, bps: u64| {
            let template = media.template(flavor);
            let content = template.len() * media.copies as usize;
            let parts = tl.part_duration().map(|p| {
                let part_ms = u64::try_from(p.as_millis()).unwrap_or(u64::MAX);
                let layout = ts::PartLayout {
                    copies: media.copies,
                    part_90k: part_ms * 90,
                };
                let k = tl.parts_per_segment();
                TrackParts {
                    layout,
                    target_len: (0..k)
                        .map(|j| {
                            let c = ts::part_content_len(template, layout, j);
                            ts::padded_len(c, bps, part_ms)
                        })
                        .collect(),
                    independent: (0..k).map(|j| layout.independent(template, j)).collect(),
                    // Bounded whatever the window: the parts a playlist lists (3 target
                    // durations) and the segment in production; older parts are rebuilt
                    // on demand (the same bytes).
                    ring: SegmentRing::new(
                        usize::try_from(k)
                            .unwrap_or(1)
                            .saturating_mul(PART_CACHE_SEGMENTS)
                            .saturating_add(16),
                    ),
                    delta: PlaylistCache::default(),
                }
            });
            TrackState {
                flavor,
                target_len: parts.as_ref().map_or_else(
                    || ts::padded_len(content, bps, dur_ms),
                    |p| p.target_len.iter().sum(),
                ),
                ring: SegmentRing::new(tl.cache_slots()),
                playlist: PlaylistCache::default(),
                parts,
                reports: Vec::new(),
            }
        };
        let (video_flavor, audio) = if p.audio_rendition {
            (
                Flavor::Video,
                Some(track(Flavor::Audio, AUDIO_RENDITION_BPS)),
            )
        } else {
            (Flavor::Muxed, None)
        };
        let mut variants: Vec<TrackState> = p
            .variants_bps
            .iter()
            .map(|&bps| track(video_flavor, bps))
            .collect();
        let count = variants.len();
        for (i, v) in variants.iter_mut().enumerate() {
            v.reports = (0..count)
                .filter(|&j| j != i)
                .map(|j| format!("../v{j}/playlist.m3u8"))
                .collect();
        }
        let bandwidth = |t: &TrackState| (t.target_len as u64 * 8 * 1000).div_ceil(dur_ms.max(1));
        let audio_bw = audio.as_ref().map_or(0, bandwidth);
        let codecs = format!("{},{}", media.video_codec, media.audio_codec);
        let infos: Vec<VariantInfo> = variants
            .iter()
            .zip(&p.variants_bps)
            .enumerate()
            .map(|(i, (t, &bps))| VariantInfo {
                bandwidth: bps.max(bandwidth(t)) + audio_bw,
                resolution: media.resolution,
                codecs: codecs.clone(),
                uri: format!("v{i}/playlist.m3u8"),
            })
            .collect();
        let master = playlist::render_master(&infos, audio.as_ref().map(|_| "a/playlist.m3u8"));
        let epoch_unix = p
            .start_wall
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(dur.saturating_mul(u32::try_from(tl.window()).unwrap_or(u32::MAX)));
        Self {
            timeline: tl,
            media,
            epoch_unix,
            start: p.start,
            master: Bytes::from(master),
            variants,
            audio,
            faults: p.faults,
            log: p.log,
            fault_api: p.fault_api,
            channels: p.channels.max(1),
            connections_accepted: std::sync::atomic::AtomicU64::new(0),
            connections_closed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.connections_accepted
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// TCP connections closed so far (accepted − closed = open now).
    pub fn connections_closed(&self) -> u64 {
        self.connections_closed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Time since origin start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn track(&self, t: Track) -> Option<&TrackState> {
        match t {
            Track::Variant(i) => self.variants.get(i),
            Track::Audio => self.audio.as_ref(),
        }
    }

    fn playlist(&self, t: &TrackState, elapsed: Duration) -> Bytes {
        let edge = self.timeline.live_edge(self.faults.playlist_time(elapsed));
        t.playlist.get_or_render(edge, || {
            playlist::render_media(&self.timeline, edge, self.epoch_unix)
        })
    }

    /// The LL-HLS playlist of a track that has parts, with `published` parts.
    fn ll_playlist(
        &self,
        t: &TrackState,
        parts: &TrackParts,
        published: u64,
        d: Directives,
    ) -> Bytes {
        let view = LlView {
            timeline: &self.timeline,
            published,
            epoch_unix: self.epoch_unix,
            independent: &parts.independent,
            reports: &t.reports,
            skip: d.skip,
            skip_v2: d.skip_v2,
        };
        if d.skip_v2 {
            return Bytes::from(playlist::render_ll_media(&view));
        }
        let cache = if d.skip { &parts.delta } else { &t.playlist };
        cache.get_or_render(published, || playlist::render_ll_media(&view))
    }

    fn segment(&self, t: &TrackState, n: u64) -> Bytes {
        let template = self.media.template(t.flavor);
        match &t.parts {
            None => t.ring.get_or_build(n, || {
                ts::build_segment(template, n, self.media.copies, t.target_len)
            }),
            Some(p) => t.ring.get_or_build(n, || {
                let k = self.timeline.parts_per_segment();
                let mut out = Vec::with_capacity(t.target_len);
                for j in 0..k {
                    out.extend_from_slice(&self.part(t, p, n * k + j));
                }
                out
            }),
        }
    }

    /// Part `abs` (numbered over the stream) of a track with parts.
    fn part(&self, t: &TrackState, p: &TrackParts, abs: u64) -> Bytes {
        let template = self.media.template(t.flavor);
        let k = self.timeline.parts_per_segment().max(1);
        let len = p.target_len.get((abs % k) as usize).copied().unwrap_or(0);
        p.ring
            .get_or_build(abs, || ts::build_part(template, p.layout, abs, len))
    }

    /// Parts published by the playlist clock (`playlist`) or the production clock.
    fn published(&self, elapsed: Duration, playlist: bool) -> u64 {
        let t = if playlist {
            self.faults.playlist_time(elapsed)
        } else {
            self.faults.production_time(elapsed)
        };
        self.timeline.parts_done(t)
    }

    /// Waits until `target` parts are published by the chosen clock, or `deadline`
    /// passes; returns whether they are.
    async fn wait_published(&self, target: u64, playlist: bool, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if self.published(now.saturating_duration_since(self.start), playlist) >= target {
                return true;
            }
            if now >= deadline {
                return false;
            }
            let due = self.timeline.parts_done_at(target);
            let at = if playlist {
                self.faults.playlist_time_reaches(due)
            } else {
                self.faults.production_time_reaches(due)
            };
            let wake = (self.start + at)
                .max(now + Duration::from_millis(1))
                .min(now + HOLD_RECHECK)
                .min(deadline);
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

/// Accepts connections until `cancel`, then lets in-flight responses finish (bounded).
pub async fn serve(listener: TcpListener, state: Arc<State>, cancel: CancellationToken) {
    let conn_cancel = cancel.clone();
    crate::listener::accept_until(listener, cancel, SHUTDOWN_GRACE, "origin", move |stream| {
        serve_conn(stream, state.clone(), conn_cancel.clone())
    })
    .await;
}

async fn serve_conn(stream: TcpStream, state: Arc<State>, cancel: CancellationToken) {
    let _ = stream.set_nodelay(true);
    state
        .connections_accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _closed = CountClosed(state.clone());
    let loopback = stream.peer_addr().is_ok_and(control::allowed_peer);
    let abort = AbortFlag::default();
    let io = TokioIo::new(AbortableStream::new(stream, abort.clone()));
    let svc = service_fn(move |req| handle(state.clone(), abort.clone(), loopback, req));
    // HTTP/1.1, or HTTP/2 with prior knowledge (h2c: the client opens with the HTTP/2
    // preface); the origin has no TLS, so no ALPN.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Counts a connection closed when its task ends (or is cut off at shutdown): its socket
/// is dropped with the task.
struct CountClosed(Arc<State>);

impl Drop for CountClosed {
    fn drop(&mut self) {
        self.0
            .connections_closed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The access log's name of an HTTP version.
fn proto_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn log_kind(route: Route, blocking: bool) -> &'static str {
    match route {
        Route::Master => "master",
        Route::Playlist(_) if blocking => "blocking",
        Route::Playlist(_) => "playlist",
        Route::Segment(..) => "segment",
        Route::Part(..) => "part",
        Route::Health | Route::NotFound => "other",
    }
}

async fn handle(
    state: Arc<State>,
    abort: AbortFlag,
    loopback: bool,
    req: Request<Incoming>,
) -> Result<Response<OriginBody>, Infallible> {
    let arrived = Instant::now();
    let (channel, channel_path) = routes::channel(req.uri().path(), state.channels);
    let mut route = match channel {
        Some(_) => routes::route(channel_path),
        None => Route::NotFound,
    };
    if let Route::Playlist(t) | Route::Segment(t, _) | Route::Part(t, ..) = route
        && state.track(t).is_none()
    {
        route = Route::NotFound;
    }
    let ll = state.timeline.part_duration().is_some();
    if matches!(route, Route::Part(..)) && !ll {
        route = Route::NotFound;
    }
    // Delivery directives only mean something on an LL-HLS media playlist.
    let directives = match route {
        Route::Playlist(_) if ll => ll::parse_query(req.uri().query()),
        _ => Ok(Directives::default()),
    };
    let blocking = directives.as_ref().map_or(true, |d| d.msn.is_some());
    let record = LogRecord {
        ts: unix_seconds(SystemTime::now()),
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        status: 499,
        bytes: 0,
        duration_ms: 0.0,
        ua: req
            .headers()
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
        proto: proto_name(req.version()),
        kind: log_kind(route, blocking),
        complete: false,
        fault: None,
        hold_ms: None,
        channel,
    };
    let mut log = PendingLog::new(state.log.clone(), arrived, record);
    let head = req.method() == Method::HEAD;
    if state.fault_api && req.uri().path() == control::PATH {
        return Ok(fault_api(&state, req, loopback, log).await);
    }
    if req.method() != Method::GET && !head {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT_TYPE,
            NO_STORE,
            Bytes::from_static(b"method not allowed\n"),
            false,
            log,
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let fault_kind = match route {
        Route::Master => Some(FaultKind::Master),
        Route::Playlist(_) if blocking => Some(FaultKind::Blocking),
        Route::Playlist(_) => Some(FaultKind::Playlist),
        Route::Segment(..) => Some(FaultKind::Segment),
        Route::Part(..) => Some(FaultKind::Part),
        Route::Health | Route::NotFound => None,
    };
    let decision = fault_kind.map(|k| {
        state
            .faults
            .decide(k, arrived.saturating_duration_since(state.start))
    });
    if let Some(d) = decision.filter(|d| !d.delay.is_zero()) {
        log.add_fault("delay");
        tokio::time::sleep(d.delay).await;
    }
    if let Some(status) = decision.and_then(|d| d.error) {
        log.add_fault("error");
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(reply(
            status,
            TEXT_TYPE,
            NO_STORE,
            Bytes::from_static(b"injected fault\n"),
            head,
            log,
        ));
    }
    match route {
        Route::Playlist(t) if ll => {
            return Ok(ll_playlist(&state, t, directives, head, log).await);
        }
        Route::Part(t, n, k) => {
            return Ok(part(&state, (t, n, k), head, decision, abort, log).await);
        }
        _ => {}
    }
    let elapsed = state.elapsed();
    let (ctype, cache, data) = match route {
        Route::Health => (TEXT_TYPE, NO_STORE, Bytes::from_static(b"ok\n")),
        Route::NotFound => return Ok(not_found(head, log)),
        Route::Master => (PLAYLIST_TYPE, PLAYLIST_CACHE, state.master.clone()),
        Route::Playlist(t) => match state.track(t) {
            Some(t) => (PLAYLIST_TYPE, PLAYLIST_CACHE, state.playlist(t, elapsed)),
            None => return Ok(not_found(head, log)),
        },
        Route::Segment(t, n) => match state.track(t) {
            Some(t)
                if state
                    .timeline
                    .is_available(n, state.faults.production_time(elapsed)) =>
            {
                (SEGMENT_TYPE, SEGMENT_CACHE, state.segment(t, n))
            }
            _ => return Ok(not_found(head, log)),
        },
        Route::Part(..) => return Ok(not_found(head, log)),
    };
    Ok(media_response(
        ctype, cache, data, head, decision, abort, log,
    ))
}

/// The 200 answer for `data` with the decided body faults (pacing, reset).
fn media_response(
    ctype: HeaderValue,
    cache: HeaderValue,
    data: Bytes,
    head: bool,
    decision: Option<Decision>,
    abort: AbortFlag,
    mut log: PendingLog,
) -> Response<OriginBody> {
    let rate = decision.and_then(|d| d.body_rate);
    let reset = decision.and_then(|d| d.reset_at);
    if rate.is_some() && !head {
        log.add_fault("slow");
    }
    if reset.is_some() && !head {
        log.add_fault("reset");
    }
    log.set_status(StatusCode::OK.as_u16());
    let len = data.len();
    let body = if head {
        OriginBody::empty(log)
    } else {
        let mut body = OriginBody::new(data, log);
        if let Some(r) = rate {
            body = body.with_rate(r);
        }
        if let Some(f) = reset {
            body = body.with_reset(f, abort);
        }
        body
    };
    response(StatusCode::OK, ctype, cache, len, body)
}

/// A media playlist request on an LL-HLS origin (rfc8216bis §6.2.5): 400 for bad
/// directives, held until the asked-for part is in the playlist (at most three target
/// durations, then 503), a delta update for `_HLS_skip`.
async fn ll_playlist(
    state: &State,
    track: Track,
    directives: Result<Directives, ll::BadDirective>,
    head: bool,
    mut log: PendingLog,
) -> Response<OriginBody> {
    let bad = |e: String, log| {
        reply(
            StatusCode::BAD_REQUEST,
            TEXT_TYPE,
            NO_STORE,
            Bytes::from(e),
            head,
            log,
        )
    };
    // `--fault-no-block`: the query string is dropped before it reaches the origin, so a
    // blocking reload (or a malformed one) gets the plain playlist at once.
    let d = if state.faults.ignores_directives(state.elapsed()) {
        Directives::default()
    } else {
        match directives {
            Ok(d) => d,
            Err(e) => return bad(format!("{e}\n"), log),
        }
    };
    let (Some(t), Some(parts)) = (
        state.track(track),
        state.track(track).and_then(|t| t.parts.as_ref()),
    ) else {
        return not_found(head, log);
    };
    let tl = &state.timeline;
    let part_target = tl.part_duration().unwrap_or_default();
    let now = state.published(state.elapsed(), true);
    let target = match ll::blocking_target(d, tl.parts_per_segment(), part_target, now) {
        Ok(t) => t,
        Err(e) => return bad(format!("{e}\n"), log),
    };
    if let Some(target) = target {
        // The hold (and its limit) counts from here, after any injected delay.
        let held_from = Instant::now();
        let limit = ll::hold_limit(playlist::target_duration_secs(tl));
        let ok = state.wait_published(target, true, held_from + limit).await;
        log.set_hold(held_from.elapsed());
        if !ok {
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT_TYPE,
                NO_STORE,
                Bytes::from_static(
                    b"the requested part did not appear within three target durations\n",
                ),
                head,
                log,
            );
        }
    }
    let published = state.published(state.elapsed(), true);
    let data = state.ll_playlist(t, parts, published, d);
    reply(
        StatusCode::OK,
        PLAYLIST_TYPE,
        LL_PLAYLIST_CACHE,
        data,
        head,
        log,
    )
}

/// A part request (`seg{N}.{k}.ts`): a published part at once; the part in production
/// (the preload hint) with its head at once and its bytes when it is complete (chunked,
/// rfc8216bis §6.2.6: no byte of a part before all of it can be sent), at most three
/// target durations; anything else 404.
async fn part(
    state: &Arc<State>,
    (track, n, k): (Track, u64, u64),
    head: bool,
    decision: Option<Decision>,
    abort: AbortFlag,
    log: PendingLog,
) -> Response<OriginBody> {
    let tl = &state.timeline;
    let per = tl.parts_per_segment();
    let (Some(t), true) = (state.track(track), k < per) else {
        return not_found(head, log);
    };
    let Some(parts) = t.parts.as_ref() else {
        return not_found(head, log);
    };
    let abs = n.saturating_mul(per).saturating_add(k);
    let elapsed = state.elapsed();
    let published = state.published(elapsed, false);
    if abs < published {
        // Published: downloadable as long as its segment would be.
        let edge = published / per;
        if n.saturating_add(tl.window() + tl.retain()) < edge {
            return not_found(head, log);
        }
        let data = state.part(t, parts, abs);
        return media_response(
            SEGMENT_TYPE,
            SEGMENT_CACHE,
            data,
            head,
            decision,
            abort,
            log,
        );
    }
    if abs != published {
        return not_found(head, log);
    }
    // The part in production: hold its bytes until it is complete.
    let data = state.part(t, parts, abs);
    let limit = ll::hold_limit(playlist::target_duration_secs(tl));
    let mut log = log;
    log.set_status(StatusCode::OK.as_u16());
    let body = if head {
        log.set_holdable();
        OriginBody::empty(log)
    } else {
        let st = Arc::clone(state);
        let deadline = Instant::now() + limit;
        let gate = Gate::new(async move { st.wait_published(abs + 1, false, deadline).await });
        let mut body = OriginBody::new(data, log).with_gate(gate);
        if let Some(f) = decision.and_then(|d| d.reset_at) {
            body = body.with_reset(f, abort);
        }
        body
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, SEGMENT_TYPE);
    h.insert(header::CACHE_CONTROL, SEGMENT_CACHE);
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    r
}

/// A request to the fault API ([`control`]); `loopback`: the peer is on loopback.
async fn fault_api(
    state: &State,
    req: Request<Incoming>,
    loopback: bool,
    log: PendingLog,
) -> Response<OriginBody> {
    let head = req.method() == Method::HEAD;
    let answer = |status: u16, text: String, log| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = reply(status, TEXT_TYPE, NO_STORE, Bytes::from(text), head, log);
        if status == StatusCode::METHOD_NOT_ALLOWED {
            r.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, PUT, DELETE"),
            );
        }
        r
    };
    if !loopback {
        return answer(403, "fault API: loopback clients only\n".into(), log);
    }
    let method = req.method().as_str().to_owned();
    let body = if req.method() == Method::PUT {
        match Limited::new(req.into_body(), control::MAX_BODY)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                let text = format!(
                    "fault specification larger than {} bytes\n",
                    control::MAX_BODY
                );
                return answer(413, text, log);
            }
            Err(e) => return answer(400, format!("cannot read the body: {e}\n"), log),
        }
    } else {
        Bytes::new()
    };
    let r = match control::parse_request(&method, &body) {
        Ok(request) => {
            let changes = !matches!(request, control::ControlRequest::Get);
            let r = control::respond(request, &state.faults);
            if changes {
                tracing::info!(method, faults = %r.body.trim_end(), "origin faults changed");
            }
            r
        }
        Err(r) => r,
    };
    answer(r.status, r.body, log)
}

/// 404 with a short text body.
fn not_found(head: bool, log: PendingLog) -> Response<OriginBody> {
    reply(
        StatusCode::NOT_FOUND,
        TEXT_TYPE,
        NO_STORE,
        Bytes::from_static(b"not found\n"),
        head,
        log,
    )
}

/// A response with the usual headers; HEAD keeps the Content-Length but sends no body.
fn reply(
    status: StatusCode,
    ctype: HeaderValue,
    cache: HeaderValue,
    data: Bytes,
    head: bool,
    mut log: PendingLog,
) -> Response<OriginBody> {
    log.set_status(status.as_u16());
    let len = data.len();
    let body = if head {
        OriginBody::empty(log)
    } else {
        OriginBody::new(data, log)
    };
    response(status, ctype, cache, len, body)
}

/// A response with Content-Type, Content-Length (`len`), Cache-Control and CORS headers.
fn response(
    status: StatusCode,
    ctype: HeaderValue,
    cache: HeaderValue,
    len: usize,
    body: OriginBody,
) -> Response<OriginBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, ctype);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, cache);
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    r
}

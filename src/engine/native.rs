//! The native engine: one lightweight task per viewer playing the stream like an RFC 8216
//! live client, timing every request with its own HTTP client.
//!
//! A viewer fetches the entry URL; for a multivariant playlist it picks variants per
//! `-variant` plus the audio renditions they reference, and plays each as a *track*. Each
//! track runs two loops at once, like a real player: a playlist loader reloading on the
//! RFC 8216 §6.3.4 cadence, and a segment loader fetching the next segment (lowest MSN
//! above the last loaded) as soon as a playlist lists it. The loops of a viewer share its
//! keep-alive connections the way a player's HTTP stack does: a load reuses the most
//! recently idle connection or opens its own when the others are busy (see
//! [`Connections`]); no connection is ever shared between viewers. A [`Player`] per viewer
//! turns buffered media into startup, stall and latency figures. With `--viewer-bandwidth`
//! each viewer's connections sit behind its own last-mile link ([`crate::engine::link`]),
//! its rate drawn once per viewer id when its slot starts. With `--ll-hls` a track whose
//! first media playlist offers Low-Latency HLS plays it instead ([`crate::engine::ll_track`]:
//! blocking reloads, parts, preload hints), falling back to the classic loops above when
//! the server does not block. With `-variant abr` a viewer plays one rung of the ladder
//! at a time ([`crate::engine::abr_viewer`]): track 0's segment loader decides the rung
//! at each segment boundary and the playlist loaders follow it; ABR viewers play classic
//! HLS.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use url::Url;

use crate::backoff::Backoff;
use crate::config::{Config, LlHlsMode};
use crate::engine::abandon_watch::AbandonWatch;
use crate::engine::abr::AbrSettings;
use crate::engine::abr_viewer::{self, AbrViewer};
use crate::engine::http::{Connections, Fetch, HttpSettings};
use crate::engine::ll::{self, Mode};
use crate::engine::ll_track::{self, LlEnd};
use crate::engine::reload::{LoadOutcome, ReloadScheduler};
use crate::engine::request_meter::RequestMeter;
use crate::engine::runtimes::ViewerRuntimes;
use crate::engine::sequence::{self, Step};
use crate::engine::{BoxFuture, Engine, LifeEnd, SlotPlayer, Viewer};
use crate::hls::{self, MediaPlaylist, Playlist, VariantChoice};
use crate::player::{Player, PlayerState, Transition};
use crate::stats::event::{ErrorClass, Event, LifecycleEvent, PlaybackEvent, RequestKind};
use crate::stats::link_rates::LinkRates;

/// VOD/ENDLIST streams are paced at real time with at most this much buffered ahead.
pub const VOD_BUFFER_CAP: Duration = Duration::from_secs(30);

/// Target duration assumed before any media playlist has been read.
const DEFAULT_TARGET: Duration = Duration::from_secs(2);

/// Per-run viewer settings, shared by every viewer.
#[derive(Debug)]
pub struct ViewerParams {
    /// Entry URL (multivariant or media playlist) of each stream, in the run's order; a
    /// viewer plays `urls[viewer.stream]`.
    pub urls: Vec<Url>,
    /// HTTP client settings.
    pub http: Arc<HttpSettings>,
    /// Which variants to play.
    pub variant: VariantChoice,
    /// Retries of a failed segment before skipping it.
    pub seg_retry: u32,
    /// Reconnect after connection errors (else the viewer fails).
    pub reconnect: bool,
    /// Media buffered before playback starts.
    pub startup_buffer: Duration,
    /// Seed for backoff jitter.
    pub seed: u64,
    /// `-restart-on-stall`: a stall longer than the threshold ends the viewer with
    /// [`ViewerExit::StallRestart`] (its slot starts a fresh one at the live edge).
    pub restart_on_stall: bool,
    /// `-stall-threshold`; `None` = 2 × the target duration of the viewer's first track.
    pub stall_threshold: Option<Duration>,
    /// `--max-tracks`: most tracks (variants plus audio renditions) one viewer plays.
    pub max_tracks: usize,
    /// `--viewer-bandwidth`: draws each viewer's link rate and records it; `None` =
    /// viewers' reads are not paced.
    pub links: Option<Arc<LinkRates>>,
    /// `--ll-hls`: whether tracks play Low-Latency HLS (see [`crate::engine::ll`]).
    pub ll_hls: LlHlsMode,
    /// `--abr-start-rung`, `--abr-ewma` (with `-variant abr`).
    pub abr: AbrSettings,
}

/// The native engine of one run: every viewer plays with the same [`ViewerParams`], its
/// slot on the per-core runtime of its id.
#[derive(Debug)]
pub struct NativeEngine {
    params: Arc<ViewerParams>,
    runtimes: Arc<ViewerRuntimes>,
}

impl NativeEngine {
    /// The engine for a run of `cfg` playing the streams `urls`.
    pub fn new(
        cfg: &Config,
        urls: &[Url],
        http: Arc<HttpSettings>,
        runtimes: Arc<ViewerRuntimes>,
    ) -> Self {
        let params = Arc::new(ViewerParams {
            urls: urls.to_vec(),
            http,
            variant: cfg.stream.variant,
            seg_retry: cfg.http.seg_retry,
            max_tracks: cfg.limits.max_tracks,
            reconnect: cfg.http.reconnect,
            startup_buffer: Duration::from_millis(1),
            seed: cfg.audience.seed,
            restart_on_stall: cfg.stalls.restart,
            stall_threshold: cfg.stalls.threshold,
            links: cfg.audience.bandwidth.map(|m| Arc::new(LinkRates::new(m))),
            ll_hls: cfg.stream.ll_hls,
            abr: cfg.stream.abr,
        });
        NativeEngine { params, runtimes }
    }

    /// The link rates drawn for the viewers started so far (`None` without
    /// `--viewer-bandwidth`).
    pub fn link_rates(&self) -> Option<Arc<LinkRates>> {
        self.params.links.clone()
    }
}

impl Engine for NativeEngine {
    fn player(self: Arc<Self>, id: u64) -> Box<dyn SlotPlayer> {
        let link = self
            .params
            .links
            .as_ref()
            .map(|l| l.draw(self.params.seed, id));
        Box::new(NativePlayer {
            params: self.params.clone(),
            link,
        })
    }

    fn runtime(&self, id: u64) -> Option<tokio::runtime::Handle> {
        Some(self.runtimes.for_viewer(id).clone())
    }
}

/// A native viewer slot: each life is a fresh [`run_viewer`], behind the slot's link.
struct NativePlayer {
    params: Arc<ViewerParams>,
    /// The viewer's link rate, bits per second (`None`: unpaced).
    link: Option<u64>,
}

impl SlotPlayer for NativePlayer {
    fn backoff_seed(&self, viewer: &Viewer) -> u64 {
        self.params.seed ^ viewer.id ^ 0xA5A5
    }

    fn play<'a>(&'a mut self, viewer: &'a Viewer) -> BoxFuture<'a, LifeEnd> {
        Box::pin(async move {
            match run_viewer(viewer.clone(), self.params.clone(), self.link).await {
                ViewerExit::Cancelled => LifeEnd::Stopped,
                ViewerExit::Finished | ViewerExit::StallRestart => LifeEnd::Replaced,
                ViewerExit::Failed => LifeEnd::Ended { failure: true },
            }
        })
    }
}

/// How a viewer's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerExit {
    /// Played to the end (VOD/ENDLIST); the slot starts a fresh viewer.
    Finished,
    /// The swarm stopped it.
    Cancelled,
    /// It could not go on (e.g. connection error with `-reconnect=false`).
    Failed,
    /// It stalled longer than the stall threshold with `-restart-on-stall`: its
    /// connections are dropped and the slot re-tunes a fresh viewer (a restart, not a
    /// failure).
    StallRestart,
}

/// Player state shared by a viewer's tracks and its stall watchdog.
struct Playback {
    player: Player,
}

/// What a viewer's tracks share: the viewer, its settings and its player.
pub(crate) struct Shared {
    pub(crate) viewer: Viewer,
    pub(crate) params: Arc<ViewerParams>,
    playback: Mutex<Playback>,
    changed: Notify,
    /// Target duration of track 0 in ms (for the default stall threshold).
    target_ms: AtomicU64,
    /// The rendition reports of track 0's first media playlist, once it loaded (with
    /// `--ll-hls` other than off): the other tracks start at the live edge they report.
    first_reports: watch::Sender<Option<Arc<Vec<hls::RenditionReport>>>>,
    /// With `-variant abr` on a multivariant playlist: the ladder, the controller and the
    /// rung the tracks follow.
    abr: Option<AbrViewer>,
}

impl Shared {
    pub(crate) fn emit(&self, ev: Event) {
        self.viewer.sink.send(ev);
    }

    /// GET `url` as a request of `kind`, counted live and reported by the returned meter
    /// (which reports it as aborted if the fetch is cut off before it returns).
    pub(crate) async fn fetch<'s>(
        &'s self,
        conn: &mut Connections,
        url: &'s Url,
        range: Option<(u64, u64)>,
        keep_body: bool,
        kind: RequestKind,
        retry: bool,
    ) -> (Fetch, RequestMeter<'s>) {
        let mut meter = RequestMeter::start(&self.viewer.sink, url, kind, retry);
        // Boxed: a request's state (hyper's response future, the body reader, the
        // deadline) is several KB, and unboxed it would be part of every loop's future,
        // held for the viewer's whole life though a request is in flight only a fraction
        // of it. Boxed, the loops stay small and the memory exists while the request does.
        let f = Box::pin(conn.get_observed(url, range, keep_body, &mut meter)).await;
        (f, meter)
    }

    /// Tell the stats about an ABR rung switch (rungs past the last counted one share it).
    pub(crate) fn emit_abr_switch(&self, s: crate::engine::abr::Switch) {
        let cap = |r: usize| r.min(crate::engine::abr::MAX_RUNGS - 1) as u8;
        self.emit(Event::Playback(PlaybackEvent::AbrSwitch {
            from: cap(s.from),
            to: cap(s.to),
        }));
    }

    /// Media buffered ahead of the playhead on `track` at `now`, and the player's state.
    pub(crate) fn buffer_and_state(&self, track: usize, now: Instant) -> (Duration, PlayerState) {
        self.playback
            .lock()
            .map(|pb| (pb.player.buffer_ahead(track, now), pb.player.state()))
            .unwrap_or((Duration::ZERO, PlayerState::Startup))
    }

    /// Run `f` on the player and turn what it decided into events (which also move the
    /// viewer's state, see [`crate::stats::viewer_state`]).
    pub(crate) fn with_player<R>(&self, f: impl FnOnce(&mut Player) -> (R, Vec<Transition>)) -> R {
        let Ok(mut pb) = self.playback.lock() else {
            // A poisoned lock means a panic elsewhere in this viewer; nothing sane to do.
            return f(&mut Player::new(Instant::now(), 1, Duration::ZERO)).0;
        };
        let (r, transitions) = f(&mut pb.player);
        for t in transitions {
            match t {
                Transition::Started { startup } => {
                    self.emit(Event::Playback(PlaybackEvent::Started { startup }))
                }
                Transition::StallStarted { .. } => {
                    self.emit(Event::Playback(PlaybackEvent::StallStarted))
                }
                Transition::StallEnded { stalled } => {
                    self.emit(Event::Playback(PlaybackEvent::StallEnded { stalled }))
                }
                Transition::Ended => {}
            }
        }
        drop(pb);
        self.changed.notify_one();
        r
    }

    /// Record track 0's target duration (for the default stall threshold).
    pub(crate) fn set_target(&self, track: usize, target: Duration) {
        if track == 0 {
            self.target_ms
                .store(target.as_millis() as u64, Ordering::Relaxed);
        }
    }

    /// `media` of `track` (starting at `date`, if dated) finished downloading: feed the
    /// player, report what track 0 played, and sample the live latency.
    pub(crate) fn buffered(&self, track: usize, media: Duration, date: Option<SystemTime>) {
        let now = Instant::now();
        self.with_player(|p| ((), p.on_buffered_dated(track, media, now, date)));
        if track != 0 {
            return;
        }
        let Ok(mut pb) = self.playback.lock() else {
            return;
        };
        let played = pb.player.take_played(now);
        let latency = pb
            .player
            .playhead_date(now)
            .and_then(|at| SystemTime::now().duration_since(at).ok());
        drop(pb);
        self.report_played(played);
        if let Some(latency) = latency {
            self.emit(Event::Playback(PlaybackEvent::LiveLatency { latency }));
        }
    }

    /// Start playback at media time `at` of the buffer (see [`Player::set_start`]).
    pub(crate) fn set_start(&self, at: Duration) {
        self.with_player(|p| {
            p.set_start(at);
            ((), Vec::new())
        });
    }

    /// `track` skipped ahead: its buffer continues from the playhead.
    pub(crate) fn resync(&self, track: usize) {
        let now = Instant::now();
        self.with_player(|p| {
            p.resync(track, now);
            ((), Vec::new())
        });
    }

    /// Close the books at the end of the viewer: an ongoing stall ends now, played media is
    /// reported.
    fn finish(&self) {
        let now = Instant::now();
        let Ok(mut pb) = self.playback.lock() else {
            return;
        };
        if let Some(stalled) = pb.player.current_stall(now) {
            self.emit(Event::Playback(PlaybackEvent::StallEnded { stalled }));
        }
        let played = pb.player.take_played(now);
        drop(pb);
        self.report_played(played);
        if let Some(abr) = &self.abr {
            let (switches_up, switches_down, mean_bitrate, _) = abr.totals();
            self.emit(Event::Playback(PlaybackEvent::AbrViewerDone {
                switches_up,
                switches_down,
                mean_bitrate,
            }));
        }
    }

    /// Report `played` media (and, for an ABR viewer, the rungs it came from).
    fn report_played(&self, played: Duration) {
        if played.is_zero() {
            return;
        }
        self.emit(Event::Playback(PlaybackEvent::Played { media: played }));
        if let Some(abr) = &self.abr {
            for (rung, media) in abr.played(played) {
                self.emit(Event::Playback(PlaybackEvent::AbrPlayed { rung, media }));
            }
        }
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.viewer.cancel.is_cancelled()
    }

    /// With `-restart-on-stall`: how long a stall may last before the viewer is replaced.
    fn stall_limit(&self) -> Option<Duration> {
        let p = &self.params;
        p.restart_on_stall.then(|| {
            p.stall_threshold.unwrap_or_else(|| {
                Duration::from_millis(self.target_ms.load(Ordering::Relaxed)) * 2
            })
        })
    }

    /// Sleep until `at`; false if cancelled first.
    pub(crate) async fn sleep_until(&self, at: Instant) -> bool {
        tokio::select! {
            _ = sleep_until(at) => true,
            _ = self.viewer.cancel.cancelled() => false,
        }
    }
}

/// A media playlist already loaded (from the entry URL): parsed, raw, and when its load began.
pub(crate) type LoadedPlaylist = (Arc<MediaPlaylist>, bytes::Bytes, Instant);

/// Outcome of a track's playlist or segment loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackEnd {
    EndOfStream,
    Cancelled,
    Failed,
}

/// Play the stream as one viewer until cancelled, finished or failed; with `link` (bits
/// per second) every download of the viewer shares a link of that rate.
pub async fn run_viewer(
    viewer: Viewer,
    params: Arc<ViewerParams>,
    link: Option<u64>,
) -> ViewerExit {
    let tune_in = Instant::now();
    let mut entry_conn = Connections::new(params.http.clone(), viewer.user_agent.clone());
    if let Some(bits_per_second) = link {
        entry_conn = entry_conn.with_link(bits_per_second);
    }
    let mut backoff = Backoff::standard(params.seed ^ viewer.id);

    let entry_url = params
        .urls
        .get(viewer.stream as usize)
        .unwrap_or(&params.urls[0]);
    // 1. The entry playlist, retried with backoff until it loads or the swarm stops.
    let (entry, entry_fetch_began, body) = loop {
        if viewer.cancel.is_cancelled() {
            return ViewerExit::Cancelled;
        }
        let began = Instant::now();
        let mut meter = RequestMeter::start(
            &viewer.sink,
            entry_url,
            RequestKind::Master,
            backoff.attempts() > 0,
        );
        // Boxed, as in `Shared::fetch`: the viewer's future outlives this request.
        let f = Box::pin(entry_conn.get_observed(entry_url, None, true, &mut meter)).await;
        let parsed = match (&f.error, &f.body) {
            (None, Some(body)) => Some(hls::parse(body, &f.final_url)),
            _ => None,
        };
        let kind = match parsed {
            Some(Ok(Playlist::Media(_))) => RequestKind::Playlist,
            _ => RequestKind::Master,
        };
        let error = match &parsed {
            Some(Err(e)) => {
                tracing::debug!(url = %f.final_url, error = %e, "entry playlist is invalid");
                Some(ErrorClass::PlaylistInvalid)
            }
            _ => f.error,
        };
        meter.finish(&f, kind, error);
        match parsed {
            Some(Ok(pl)) => break (pl, began, f.body.unwrap_or_default()),
            _ => {
                if f.connect_error {
                    entry_conn.reset();
                    if !params.reconnect {
                        return ViewerExit::Failed;
                    }
                }
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = viewer.cancel.cancelled() => return ViewerExit::Cancelled,
                }
                if f.connect_error {
                    viewer
                        .sink
                        .send(Event::Lifecycle(LifecycleEvent::Reconnected));
                }
            }
        }
    };

    // 2. The tracks to play.
    let mut tracks: Vec<(Url, Option<LoadedPlaylist>)> = Vec::new();
    let mut abr = None;
    // The entry body is moved in here so that a master playlist's is dropped with it: a
    // single-chunk body shares hyper's read buffer, which it would otherwise pin (8 KiB or
    // more per viewer) for the viewer's whole life.
    match (entry, body) {
        (Playlist::Master(master), _) if params.variant == VariantChoice::Abr => {
            abr = AbrViewer::new(&master, params.abr);
            if let Some(a) = &abr {
                tracks.extend(a.start_tracks().into_iter().map(|u| (u, None)));
            }
        }
        (Playlist::Media(pl), body) => tracks.push((
            entry_url.clone(),
            Some((Arc::new(pl), body, entry_fetch_began)),
        )),
        (Playlist::Master(master), _) => {
            for v in hls::select_variants(&master, params.variant) {
                tracks.push((v.uri.clone(), None));
                for r in hls::audio_renditions_for(&master, v) {
                    if let Some(u) = &r.uri
                        && !tracks.iter().any(|(t, _)| t == u)
                    {
                        tracks.push((u.clone(), None));
                    }
                }
            }
        }
    }
    if tracks.is_empty() {
        return ViewerExit::Failed;
    }
    if tracks.len() > params.max_tracks {
        warn_tracks_capped(tracks.len(), params.max_tracks);
        tracks.truncate(params.max_tracks.max(1));
    }

    let shared = Arc::new(Shared {
        playback: Mutex::new(Playback {
            player: Player::new(tune_in, tracks.len(), params.startup_buffer),
        }),
        changed: Notify::new(),
        target_ms: AtomicU64::new(DEFAULT_TARGET.as_millis() as u64),
        first_reports: watch::channel(None).0,
        abr,
        viewer,
        params,
    });

    // 3. Tracks and the stall watchdog, until the player ends or the swarm stops.
    let mut set = JoinSet::new();
    for (i, (url, initial)) in tracks.into_iter().enumerate() {
        // Every loop gets a handle onto the viewer's one pool of connections, so the
        // entry playlist's connection carries on, like in a real player.
        set.spawn(run_track(
            shared.clone(),
            i,
            url,
            initial,
            entry_conn.handle(),
        ));
    }
    drop(entry_conn);
    let exit = tokio::select! {
        end = watchdog(shared.clone()) => match end {
            WatchEnd::Ended => ViewerExit::Finished,
            WatchEnd::Cancelled => ViewerExit::Cancelled,
            WatchEnd::StallRestart => ViewerExit::StallRestart,
        },
        failed = async {
            let mut failed = false;
            while let Some(r) = set.join_next().await {
                if !matches!(r, Ok(TrackEnd::EndOfStream)) {
                    failed |= matches!(r, Ok(TrackEnd::Failed) | Err(_));
                }
            }
            // All tracks ended of their own accord: on ENDLIST wait for playback to end.
            if !failed && !shared.cancelled() {
                watchdog(shared.clone()).await;
            }
            failed
        } => if failed { ViewerExit::Failed } else if shared.cancelled() { ViewerExit::Cancelled } else { ViewerExit::Finished },
    };
    if shared.cancelled() {
        // Let requests in flight finish so what the origin served is also counted here;
        // tracks start nothing new once cancelled (the swarm bounds this wait).
        while set.join_next().await.is_some() {}
    } else {
        set.abort_all();
    }
    shared.finish();
    if shared.cancelled() {
        ViewerExit::Cancelled
    } else {
        exit
    }
}

/// How the watchdog ended.
enum WatchEnd {
    /// Playback ended (ENDLIST played out).
    Ended,
    /// The swarm stopped the viewer.
    Cancelled,
    /// A stall lasted longer than the threshold with `-restart-on-stall`.
    StallRestart,
}

/// Wakes when the playhead would run dry and lets the model record the stall; with
/// `-restart-on-stall` also when a stall outlasts the threshold.
async fn watchdog(shared: Arc<Shared>) -> WatchEnd {
    loop {
        let now = Instant::now();
        let limit = shared.stall_limit();
        let (at, ended, restart_at) = match shared.playback.lock() {
            Ok(pb) => (
                pb.player.next_stall_at(),
                pb.player.state() == PlayerState::Ended,
                limit.and_then(|l| pb.player.current_stall(now).map(|s| now - s + l)),
            ),
            Err(_) => return WatchEnd::Cancelled,
        };
        if ended {
            return WatchEnd::Ended;
        }
        if restart_at.is_some_and(|r| now > r) {
            return WatchEnd::StallRestart;
        }
        let wake = match (at, restart_at) {
            (Some(a), Some(r)) => Some(a.min(r + Duration::from_millis(1))),
            (a, r) => a.or(r.map(|r| r + Duration::from_millis(1))),
        };
        tokio::select! {
            _ = async { match wake { Some(at) => sleep_until(at).await, None => std::future::pending().await } } => {
                shared.with_player(|p| ((), p.advance(Instant::now())));
            }
            _ = shared.changed.notified() => {}
            _ = shared.viewer.cancel.cancelled() => return WatchEnd::Cancelled,
        }
    }
}

/// Play one track: with `--ll-hls` other than off, its first media playlist decides
/// between LL-HLS ([`ll_track`]) and classic HLS; an LL-HLS track whose server does not
/// block goes on as a classic one.
async fn run_track(
    shared: Arc<Shared>,
    track: usize,
    url: Url,
    mut initial: Option<LoadedPlaylist>,
    mut conn: Connections,
) -> TrackEnd {
    let mut url = url;
    // ABR viewers play classic HLS (config refuses `-variant abr --ll-hls on`).
    if shared.params.ll_hls != LlHlsMode::Off && shared.abr.is_none() {
        let at = match (track, &initial) {
            (0, _) | (_, Some(_)) => None,
            _ => reported_edge(&shared, &url).await,
        };
        let first = match initial.take() {
            Some(loaded) => loaded,
            None => match first_load(&shared, track, &url, at, &mut conn).await {
                Ok((loaded, final_url)) => {
                    url = final_url;
                    loaded
                }
                Err(end) => return end,
            },
        };
        if track == 0 {
            let reports = Arc::new(first.0.rendition_reports.clone());
            shared.first_reports.send_replace(Some(reports));
        }
        match ll::mode_for(shared.params.ll_hls, &first.0) {
            Mode::Low => {
                match ll_track::run(shared.clone(), track, url.clone(), first, conn.handle()).await
                {
                    LlEnd::Done(end) => return end,
                    LlEnd::FellBack => {
                        say_fallback(
                            &shared,
                            "the server answered a blocking reload at once without the part asked for",
                        );
                    }
                }
            }
            Mode::FallBack => {
                say_fallback(&shared, "the stream lists no parts (EXT-X-PART-INF)");
                initial = Some(first);
            }
            Mode::Classic => initial = Some(first),
        }
    }
    classic_track(shared, track, url, initial, conn).await
}

/// Count a track's fall back from LL-HLS to classic HLS, and say so once per process.
fn say_fallback(shared: &Shared, why: &str) {
    shared.emit(Event::Playback(PlaybackEvent::LlFallback));
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "LL-HLS: {why}; playing classic HLS instead (counted in playback.ll_fallbacks)"
        );
    }
}

/// How long a track other than the first waits for the first track's playlist (and
/// its rendition reports) before loading its own without them.
const REPORTS_WAIT: Duration = Duration::from_secs(3);

/// The live edge track 0's first playlist reports for the playlist at `url`, waiting
/// (at most [`REPORTS_WAIT`]) for that playlist.
async fn reported_edge(shared: &Shared, url: &Url) -> Option<ll::PartPos> {
    let mut rx = shared.first_reports.subscribe();
    let waited = tokio::time::timeout(REPORTS_WAIT, async {
        tokio::select! {
            r = rx.wait_for(Option::is_some) => r.ok().and_then(|r| r.clone()),
            _ = shared.viewer.cancel.cancelled() => None,
        }
    })
    .await;
    ll::reported(&waited.ok()??, url)
}

/// The track's first media playlist, retried with backoff until it loads (or the
/// viewer is stopped or fails); also the URL it was finally loaded from (without
/// delivery directives). With `at` (the live edge another rendition reported) the first
/// attempt is a blocking request for that part, answered at once.
async fn first_load(
    shared: &Shared,
    track: usize,
    url: &Url,
    at: Option<ll::PartPos>,
    conn: &mut Connections,
) -> Result<(LoadedPlaylist, Url), TrackEnd> {
    let mut at = at;
    let params = &shared.params;
    let mut backoff =
        Backoff::standard(params.seed ^ shared.viewer.id ^ ((track as u64) << 32) ^ 0xF1);
    let mut retry = false;
    loop {
        if shared.cancelled() {
            return Err(TrackEnd::Cancelled);
        }
        let began = Instant::now();
        let (request, kind) = match at.take() {
            Some(pos) => (ll::blocking_url(url, pos, false), RequestKind::Blocking),
            None => (url.clone(), RequestKind::Playlist),
        };
        let (f, meter) = shared.fetch(conn, &request, None, true, kind, retry).await;
        let parsed = parse_media(&f);
        let error = parse_error(&f, &parsed);
        meter.finish(&f, kind, error);
        if let Some(Ok(pl)) = parsed {
            let body = f.body.clone().unwrap_or_default();
            return Ok(((Arc::new(pl), body, began), ll::plain_url(&f.final_url)));
        }
        retry = true;
        if f.connect_error {
            conn.reset();
            if !params.reconnect {
                return Err(TrackEnd::Failed);
            }
        }
        if !shared
            .sleep_until(Instant::now() + backoff.next_delay())
            .await
        {
            return Err(TrackEnd::Cancelled);
        }
        if f.connect_error {
            shared.emit(Event::Lifecycle(LifecycleEvent::Reconnected));
        }
    }
}

/// The media playlist a fetch brought, if it brought a body: parsed, or why not.
pub(crate) fn parse_media(f: &Fetch) -> Option<Result<MediaPlaylist, String>> {
    match (&f.error, &f.body) {
        (None, Some(body)) => Some(match hls::parse(body, &f.final_url) {
            Ok(Playlist::Media(pl)) => Ok(pl),
            Ok(Playlist::Master(_)) => {
                Err("a multivariant playlist where a media playlist was expected".to_string())
            }
            Err(e) => Err(e.to_string()),
        }),
        _ => None,
    }
}

/// The error class of a media playlist fetch, given what [`parse_media`] made of it.
pub(crate) fn parse_error(
    f: &Fetch,
    parsed: &Option<Result<MediaPlaylist, String>>,
) -> Option<ErrorClass> {
    match parsed {
        Some(Err(cause)) => {
            tracing::debug!(url = %f.final_url, error = %cause, "media playlist is invalid");
            Some(ErrorClass::PlaylistInvalid)
        }
        _ => f.error,
    }
}

/// A media playlist as a track's loader published it: the rung it was loaded for (0
/// without ABR) and its source (a new number each time the loader's URL changed).
#[derive(Clone)]
pub(crate) struct Version {
    pl: Arc<MediaPlaylist>,
    rung: usize,
    source: u64,
}

/// A classic HLS track: the playlist loader and the segment loader.
async fn classic_track(
    shared: Arc<Shared>,
    track: usize,
    url: Url,
    initial: Option<LoadedPlaylist>,
    conn: Connections,
) -> TrackEnd {
    let (tx, rx) = watch::channel::<Option<Version>>(None);
    let fetcher = segment_loop(shared.clone(), track, conn.handle(), rx);
    let loader = playlist_loop(shared.clone(), track, url, initial, conn, tx);
    let (a, b) = tokio::join!(loader, fetcher);
    match (a, b) {
        (_, TrackEnd::EndOfStream) => TrackEnd::EndOfStream,
        (TrackEnd::Failed, _) | (_, TrackEnd::Failed) => TrackEnd::Failed,
        _ => TrackEnd::Cancelled,
    }
}

/// Reload the media playlist on the RFC 8216 cadence and publish each changed version.
async fn playlist_loop(
    shared: Arc<Shared>,
    track: usize,
    url: Url,
    initial: Option<LoadedPlaylist>,
    mut conn: Connections,
    tx: watch::Sender<Option<Version>>,
) -> TrackEnd {
    let params = &shared.params;
    let mut sched = ReloadScheduler::new();
    let mut backoff = Backoff::standard(params.seed ^ shared.viewer.id ^ ((track as u64) << 32));
    let mut target = DEFAULT_TARGET;
    let mut next_at = Instant::now();
    let mut url = url;
    // With ABR the loader follows the rung: on a switch it loads the new rung's playlist
    // at once and publishes it even if unchanged.
    let mut rung_rx = shared.abr.as_ref().map(AbrViewer::subscribe);
    let mut rung = rung_rx.as_ref().map_or(0, |rx| *rx.borrow());
    let mut source = 0u64;
    let mut switched = false;

    if let Some((pl, body, began)) = initial {
        let outcome = sched.observe(&body);
        let pl = Arc::new(sane_timing(
            &shared,
            &url,
            Arc::try_unwrap(pl).unwrap_or_else(|a| (*a).clone()),
        ));
        target = pl.target_duration;
        if track == 0 {
            shared
                .target_ms
                .store(target.as_millis() as u64, Ordering::Relaxed);
        }
        let ended = pl.end_list;
        tx.send_replace(Some(Version { pl, rung, source }));
        if ended {
            return TrackEnd::EndOfStream;
        }
        next_at = ReloadScheduler::next_load(began, outcome, target);
    }

    let mut retry = false;
    loop {
        let rung_changed = match rung_rx.as_mut() {
            Some(rx) => tokio::select! {
                woke = shared.sleep_until(next_at) => if woke { false } else { return TrackEnd::Cancelled },
                r = rx.changed() => {
                    if r.is_err() {
                        // The rung can no longer change: plain reloads from now on.
                        rung_rx = None;
                        continue;
                    }
                    true
                }
            },
            None => {
                if !shared.sleep_until(next_at).await {
                    return TrackEnd::Cancelled;
                }
                false
            }
        };
        if let (true, Some(rx), Some(abr)) = (rung_changed, rung_rx.as_mut(), &shared.abr) {
            rung = *rx.borrow_and_update();
            let new = abr.url_for(track, rung).filter(|u| *u != url);
            // Track 0 always loads the new rung's playlist (its segment loader waits for
            // it); the audio track only when the rung's group brings another rendition.
            let reload = new.is_some() || track == 0;
            if let Some(new) = new {
                url = new;
                source += 1;
            }
            if !reload {
                continue;
            }
            sched = ReloadScheduler::new();
            switched = true;
        }
        let began = Instant::now();
        let (f, meter) = shared
            .fetch(&mut conn, &url, None, true, RequestKind::Playlist, retry)
            .await;
        if let Some(abr) = shared
            .abr
            .as_ref()
            .filter(|_| track == 0 && f.error.is_none())
        {
            abr.playlist_loaded(f.total);
        }
        // A byte-identical reload (RFC 8216 "unchanged") needs no parse: the previous,
        // equal body parsed fine (only good bodies are recorded) and did not end the list.
        if f.error.is_none() && f.body.as_deref().is_some_and(|b| sched.is_unchanged(b)) {
            meter.finish(&f, RequestKind::Playlist, None);
            retry = false;
            backoff.reset();
            url = f.final_url.clone();
            next_at = ReloadScheduler::next_load(began, LoadOutcome::Unchanged, target);
            continue;
        }
        let parsed = parse_media(&f);
        let error = parse_error(&f, &parsed);
        meter.finish(&f, RequestKind::Playlist, error);
        retry = error.is_some();
        let outcome = match parsed {
            Some(Ok(pl)) => {
                backoff.reset();
                // Reload from where the playlist really is (after redirects).
                url = f.final_url.clone();
                let outcome = sched.observe(f.body.as_deref().unwrap_or_default());
                let pl = Arc::new(sane_timing(&shared, &url, pl));
                target = pl.target_duration;
                if track == 0 {
                    shared
                        .target_ms
                        .store(target.as_millis() as u64, Ordering::Relaxed);
                }
                let ended = pl.end_list;
                if outcome == LoadOutcome::Changed || switched {
                    tx.send_replace(Some(Version { pl, rung, source }));
                    switched = false;
                }
                if ended {
                    return TrackEnd::EndOfStream;
                }
                outcome
            }
            _ => {
                if f.connect_error {
                    conn.reset();
                    if !params.reconnect {
                        return TrackEnd::Failed;
                    }
                    let delay = backoff.next_delay();
                    if !shared.sleep_until(Instant::now() + delay).await {
                        return TrackEnd::Cancelled;
                    }
                    shared.emit(Event::Lifecycle(LifecycleEvent::Reconnected));
                    next_at = Instant::now();
                    continue;
                }
                LoadOutcome::Failed
            }
        };
        next_at = ReloadScheduler::next_load(began, outcome, target);
    }
}

/// Fetch segments in order as the playlists list them, feeding the player.
async fn segment_loop(
    shared: Arc<Shared>,
    track: usize,
    mut conn: Connections,
    mut rx: watch::Receiver<Option<Version>>,
) -> TrackEnd {
    let params = &shared.params;
    let mut backoff =
        Backoff::standard(params.seed ^ shared.viewer.id.rotate_left(17) ^ track as u64);
    let mut next_msn: Option<u64> = None;
    let mut current_map: Option<hls::InitSection> = None;
    let mut seen_version = false;
    let mut previous_seen = Instant::now();
    // The source of the playlist last played from, and the date the buffer reaches (for
    // continuity when a rung switch changes the source).
    let mut last_source = 0u64;
    let mut next_date: Option<SystemTime> = None;
    // Track 0 of an ABR viewer decides the rung at its segment boundaries.
    let abr = shared.abr.as_ref().filter(|_| track == 0);

    loop {
        if shared.cancelled() {
            return TrackEnd::Cancelled;
        }
        let version = rx.borrow_and_update().clone();
        // Track 0 of an ABR viewer plays only the rung it asked for.
        let version = version.filter(|v| abr.is_none_or(|a| v.rung == a.current()));
        let Some(Version {
            pl,
            rung: pl_rung,
            source,
        }) = version
        else {
            if !wait_for_change(&shared, &mut rx).await {
                return if shared.cancelled() {
                    TrackEnd::Cancelled
                } else {
                    TrackEnd::Failed
                };
            }
            continue;
        };
        if source != last_source {
            // A rung switch: go on from where the buffer reaches in the new playlist.
            last_source = source;
            next_msn = next_msn.map(|m| abr_viewer::continue_at(&pl, m, next_date));
        }
        if seen_version && track == 0 {
            sample_latency(&shared, &pl, next_msn);
        }
        seen_version = true;

        // Where to (re)start: the RFC 8216 §6.3.3 live point, or the start for VOD.
        let start_msn = |pl: &MediaPlaylist| pl.segments.get(pl.live_start_index()).map(|s| s.msn);
        let msn = match next_msn {
            None => match start_msn(&pl) {
                Some(m) => m,
                None => {
                    if !wait_for_change(&shared, &mut rx).await {
                        return end_of(&shared, &pl, track);
                    }
                    continue;
                }
            },
            Some(m) => {
                let now = Instant::now();
                let len = pl.segments.len() as u64;
                match sequence::step(m, pl.media_sequence, len, now - previous_seen) {
                    Step::Continue(m) => m,
                    other => {
                        // Fell behind the window (what we missed has expired), or the
                        // numbering jumped (a stream reset): re-tune at the live point.
                        let ev = match other {
                            Step::Expired { count } => PlaybackEvent::SegmentsExpired { count },
                            _ => {
                                tracing::debug!(
                                    track,
                                    expected = m,
                                    media_sequence = pl.media_sequence,
                                    "media sequence jumped: stream reset"
                                );
                                PlaybackEvent::StreamReset
                            }
                        };
                        shared.emit(Event::Playback(ev));
                        shared.with_player(|p| {
                            p.resync(track, now);
                            ((), Vec::new())
                        });
                        start_msn(&pl).unwrap_or(pl.media_sequence)
                    }
                }
            }
        };
        previous_seen = Instant::now();
        next_msn = Some(msn);

        // Download every listed segment from `msn` on, then wait for the next playlist.
        let mut cursor = msn;
        // Set once the segment numbered u64::MAX was loaded: nothing can follow it.
        let mut exhausted = false;
        while let Some(seg) = pl
            .segments
            .iter()
            .find(|s| s.msn == cursor)
            .filter(|_| !exhausted)
        {
            if pl.end_list || pl.playlist_type == Some(hls::PlaylistType::Vod) {
                // Real-time pacing: keep at most VOD_BUFFER_CAP ahead.
                let ahead = shared
                    .playback
                    .lock()
                    .map(|pb| pb.player.buffer_ahead(track, Instant::now()))
                    .unwrap_or_default();
                if ahead > VOD_BUFFER_CAP
                    && !shared
                        .sleep_until(Instant::now() + (ahead - VOD_BUFFER_CAP))
                        .await
                {
                    return TrackEnd::Cancelled;
                }
            }
            if let Some(abr) = abr {
                // A segment boundary: the rung of this segment is decided now.
                let buffer = shared
                    .playback
                    .lock()
                    .map(|pb| pb.player.buffer_ahead(track, Instant::now()))
                    .unwrap_or_default();
                if let Some(switch) = abr.at_boundary(buffer, seg.duration, pl.is_live()) {
                    shared.emit_abr_switch(switch);
                    // Wait for the new rung's playlist; `next_msn` is this segment.
                    break;
                }
            }
            if let Err(end) = load_init_section(
                &shared,
                &mut conn,
                &mut backoff,
                seg.map.as_ref(),
                &mut current_map,
            )
            .await
            {
                return end;
            }
            let range = seg.byte_range.map(|r| (r.offset, r.length));
            let (uri, kind) = (&seg.uri, RequestKind::Segment);
            let fetched = match abr {
                // Track 0 of an ABR viewer: under the emergency abandon rule.
                Some(a) => {
                    let mut watch = AbandonWatch::new(a, pl_rung, seg.duration, pl.is_live());
                    fetch_retrying(
                        &shared,
                        &mut conn,
                        &mut backoff,
                        uri,
                        range,
                        kind,
                        &mut watch,
                    )
                    .await
                }
                None => Ok(
                    fetch_with_retries(&shared, &mut conn, &mut backoff, uri, range, kind).await,
                ),
            };
            next_date = seg.program_date_time.map(|d| d + seg.duration);
            let Ok(fetched) = fetched else {
                // Reload this segment's media from the new rung: wait for its playlist
                // and go on from this segment's start (`next_msn` is it).
                next_date = seg.program_date_time;
                break;
            };
            match fetched {
                Fetched::Ok(load) => {
                    if let Some(abr) = abr {
                        abr.segment_loaded(load.total, load.ttfb, load.bytes);
                        abr.buffered(pl_rung, seg.duration);
                    }
                    shared.buffered(track, seg.duration, seg.program_date_time)
                }
                Fetched::GaveUp => shared.emit(Event::Playback(PlaybackEvent::SegmentSkipped)),
                Fetched::Cancelled => return TrackEnd::Cancelled,
                Fetched::Failed => return TrackEnd::Failed,
            }
            match cursor.checked_add(1) {
                Some(c) => {
                    cursor = c;
                    next_msn = Some(c);
                }
                None => {
                    // No number after the last one: re-tune on the next version.
                    exhausted = true;
                    next_msn = None;
                }
            }
            if shared.cancelled() {
                return TrackEnd::Cancelled;
            }
            if abr.is_some_and(|a| a.current() != pl_rung) {
                // The abandon rule switched rungs and let the download finish: the next
                // segment comes from the new rung's playlist (as after a switch at the
                // boundary; `next_msn` and `next_date` are the next segment's).
                break;
            }
        }

        if pl.end_list && (exhausted || pl.last_msn().is_none_or(|last| cursor > last)) {
            return end_of(&shared, &pl, track);
        }
        // Only wait if no newer playlist arrived while downloading.
        if !rx.has_changed().unwrap_or(false) && !wait_for_change(&shared, &mut rx).await {
            // The loader stopped: ENDLIST reached (handled above on the next pass) or failure.
            let latest = rx.borrow().clone();
            match latest {
                Some(l) if l.pl.end_list => continue,
                _ => {
                    return if shared.cancelled() {
                        TrackEnd::Cancelled
                    } else {
                        TrackEnd::Failed
                    };
                }
            }
        }
    }
}

pub(crate) fn end_of(shared: &Shared, pl: &MediaPlaylist, track: usize) -> TrackEnd {
    if shared.cancelled() {
        return TrackEnd::Cancelled;
    }
    if pl.end_list {
        let now = Instant::now();
        shared.with_player(|p| ((), p.on_end_of_stream(track, now)));
        TrackEnd::EndOfStream
    } else {
        TrackEnd::Failed
    }
}

/// Wait for a newer playlist; false if cancelled or the loader is gone.
async fn wait_for_change(shared: &Shared, rx: &mut watch::Receiver<Option<Version>>) -> bool {
    tokio::select! {
        r = rx.changed() => r.is_ok(),
        _ = shared.viewer.cancel.cancelled() => false,
    }
}

/// Without PROGRAM-DATE-TIME: the distance behind the live edge is the media buffered
/// ahead of the playhead plus what the playlist lists beyond what was loaded.
fn sample_latency(shared: &Shared, pl: &MediaPlaylist, next_msn: Option<u64>) {
    let Some(next) = next_msn else { return };
    let now = Instant::now();
    let Ok(pb) = shared.playback.lock() else {
        return;
    };
    if !matches!(
        pb.player.state(),
        PlayerState::Playing | PlayerState::Stalled
    ) || pb.player.playhead_date(now).is_some()
    {
        // Dated media: the latency is sampled from PROGRAM-DATE-TIME as media arrives
        // (`Shared::buffered`).
        return;
    }
    let pending: Duration = pl
        .segments
        .iter()
        .filter(|s| s.msn >= next)
        .map(|s| s.duration)
        .sum();
    let latency = pb.player.buffer_ahead(0, now) + pending;
    drop(pb);
    shared.emit(Event::Playback(PlaybackEvent::LiveLatency { latency }));
}

/// A successful download's timing and size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// Request start to the last body byte.
    pub(crate) total: Duration,
    /// Request start to the response head.
    pub(crate) ttfb: Option<Duration>,
    /// Body bytes.
    pub(crate) bytes: u64,
}

/// How [`fetch_with_retries`] ended.
pub(crate) enum Fetched {
    /// Loaded.
    Ok(Load),
    /// Failed `-seg-retry` + 1 times: skip it.
    GaveUp,
    /// The swarm stopped the viewer.
    Cancelled,
    /// A connection error with `-reconnect=false`.
    Failed,
}

/// Load the init section `map` (`EXT-X-MAP`) the next media needs, unless it is
/// `current`, the one loaded last, which it then becomes (one given up on stays not
/// loaded, so the next media asks again). `Err`: how the track ends (stopped, or a
/// connection error with `-reconnect=false`).
pub(crate) async fn load_init_section(
    shared: &Shared,
    conn: &mut Connections,
    backoff: &mut Backoff,
    map: Option<&hls::InitSection>,
    current: &mut Option<hls::InitSection>,
) -> Result<(), TrackEnd> {
    let Some(map) = map.filter(|m| current.as_ref() != Some(*m)) else {
        return Ok(());
    };
    let range = map.byte_range.map(|r| (r.offset, r.length));
    match fetch_with_retries(shared, conn, backoff, &map.uri, range, RequestKind::Init).await {
        Fetched::Ok(_) => *current = Some(map.clone()),
        Fetched::Cancelled => return Err(TrackEnd::Cancelled),
        Fetched::Failed => return Err(TrackEnd::Failed),
        Fetched::GaveUp => {}
    }
    Ok(())
}

/// GET with up to `-seg-retry` retries (backoff between them), reconnecting after
/// connection errors.
pub(crate) async fn fetch_with_retries(
    shared: &Shared,
    conn: &mut Connections,
    backoff: &mut Backoff,
    url: &Url,
    range: Option<(u64, u64)>,
    kind: RequestKind,
) -> Fetched {
    let Ok(f) = fetch_retrying(shared, conn, backoff, url, range, kind, &mut Plain).await;
    f
}

/// How each attempt of [`fetch_retrying`] is made: [`Plain`]ly (it cannot be cut short),
/// or under the ABR abandon rule ([`AbandonWatch`]).
pub(crate) trait Attempt {
    /// Why the segment is to be loaded again elsewhere instead ([`Infallible`]: never).
    type Reload;

    /// GET `url` as a request of `kind` ([`Shared::fetch`]'s arguments without the body).
    fn get<'s>(
        &mut self,
        shared: &'s Shared,
        conn: &mut Connections,
        url: &'s Url,
        range: Option<(u64, u64)>,
        kind: RequestKind,
        retry: bool,
    ) -> impl Future<Output = Result<(Fetch, RequestMeter<'s>), Self::Reload>> + Send;

    /// An attempt failed and another follows: whether to make it.
    fn before_retry(&mut self) -> Result<(), Self::Reload>;
}

/// Attempts that are [`Shared::fetch`].
pub(crate) struct Plain;

impl Attempt for Plain {
    type Reload = Infallible;

    async fn get<'s>(
        &mut self,
        shared: &'s Shared,
        conn: &mut Connections,
        url: &'s Url,
        range: Option<(u64, u64)>,
        kind: RequestKind,
        retry: bool,
    ) -> Result<(Fetch, RequestMeter<'s>), Infallible> {
        Ok(shared.fetch(conn, url, range, false, kind, retry).await)
    }

    fn before_retry(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// [`fetch_with_retries`], each attempt made by `attempt`: `Err` when it says the media
/// is to be loaded again elsewhere.
async fn fetch_retrying<A: Attempt>(
    shared: &Shared,
    conn: &mut Connections,
    backoff: &mut Backoff,
    url: &Url,
    range: Option<(u64, u64)>,
    kind: RequestKind,
    attempt_with: &mut A,
) -> Result<Fetched, A::Reload> {
    let params = &shared.params;
    let mut attempt = 0u32;
    loop {
        let (f, meter) = attempt_with
            .get(shared, conn, url, range, kind, attempt > 0)
            .await?;
        // A 2xx with no body bytes holds no media: a failure of its own class.
        let error = match f.error {
            None if f.bytes == 0 => Some(ErrorClass::EmptyBody),
            e => e,
        };
        meter.finish(&f, kind, error);
        if error.is_none() {
            backoff.reset();
            return Ok(Fetched::Ok(Load {
                total: f.total,
                ttfb: f.ttfb,
                bytes: f.bytes,
            }));
        }
        if f.connect_error {
            conn.reset();
            if !params.reconnect {
                return Ok(Fetched::Failed);
            }
        }
        if attempt >= params.seg_retry {
            return Ok(Fetched::GaveUp);
        }
        attempt_with.before_retry()?;
        attempt += 1;
        let delay = backoff.next_delay();
        if !shared.sleep_until(Instant::now() + delay).await {
            return Ok(Fetched::Cancelled);
        }
        if f.connect_error {
            shared.emit(Event::Lifecycle(LifecycleEvent::Reconnected));
        }
    }
}

/// Clamp absurd playlist timing (see [`hls::timing`]) and make it visible: one
/// [`PlaybackEvent::TimingClamped`] per load that needed it, the details at `-v`, and a
/// warning the first time in the process.
pub(crate) fn sane_timing(shared: &Shared, url: &Url, mut pl: MediaPlaylist) -> MediaPlaylist {
    let given = pl.target_duration;
    let clamped = hls::timing::clamp(&mut pl);
    if !clamped.any() {
        return pl;
    }
    shared.emit(Event::Playback(PlaybackEvent::TimingClamped));
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let first = !WARNED.swap(true, Ordering::Relaxed);
    let (target, reload, segments) = (given, pl.target_duration, clamped.segments);
    if first {
        tracing::warn!(%url, ?target, ?reload, segments, "absurd playlist timing clamped: target duration {target:?} reloads every {reload:?}, {segments} segment durations replaced (counted in playback.timing_clamped; more at -v)");
    } else {
        tracing::debug!(%url, ?target, ?reload, segments, "absurd playlist timing clamped");
    }
    pl
}

/// Say once per process that `-variant` selected more tracks than `--max-tracks`.
fn warn_tracks_capped(selected: usize, max: usize) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            selected,
            max,
            "-variant selected {selected} tracks (variants plus audio renditions); each viewer plays the first {max} (--max-tracks)"
        );
    }
}

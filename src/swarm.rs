//! The orchestrator: starts the built-in origin when needed, ramps viewers at the exact
//! mean rate, ticks the stats once a second, stops on duration or signal, and hands the
//! final snapshot to the outputs.
//!
//! Shutdown: the first SIGINT/SIGTERM/SIGHUP (or the end of `-duration`, a quit from the
//! TUI, an `--slo-abort`, the FFmpeg crash-loop breaker) stops the ramp and cancels every
//! viewer; viewers get a short grace to finish the requests they have in flight, then
//! are cut off (each request still in flight is reported as *aborted*, with the bytes it
//! had received), the stats pipeline is drained, and the final snapshot is returned so
//! the summary and reports are written. A second signal skips the grace.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::backoff::Backoff;
use crate::config::{Config, StreamSource, redact_url};
use crate::engine::ffmpeg::{self, EngineInputs, FfmpegEngine};
use crate::engine::http::{Connections, HttpSettings};
use crate::engine::native::{Viewer, ViewerExit, ViewerParams, run_viewer};
use crate::engine::runtimes::ViewerRuntimes;
use crate::origin::{self, OriginHandle};
use crate::output::console::say;
use crate::output::progress;
use crate::output::series::{Series, SeriesRecorder};
use crate::ramp::RampSchedule;
use crate::signals::{StopSignal, StopSignals};
use crate::stats::collector::Collector;
use crate::stats::event::{ErrorClass, Event, LifecycleEvent, RequestDone, RequestKind};
use crate::stats::gauges::LiveGauges;
use crate::stats::hub::{EventSink, StatsHub};
use crate::stats::snapshot::Snapshot;
use crate::stats::viewer_state::startup_timer;
use crate::stats::viewers::{MAX_VIEWER_SERIES, SERIES_PER_VIEWER, ViewerTable};

/// Stats tick.
pub const TICK: Duration = Duration::from_secs(1);
/// How often the progress line is printed when there is no TUI.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Grace for viewers to finish their requests in flight after cancellation.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// After the grace, how long cutting the viewers off may take (their tasks are aborted,
/// which only waits for them to be dropped).
const ABORT_WAIT: Duration = Duration::from_secs(1);
/// Capacity of each stats shard's event channel.
pub const EVENT_BUFFER: usize = 65_536;

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `-duration` elapsed.
    Duration,
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(StopSignal),
    /// Stopped by the embedding code (tests, TUI quit).
    Requested,
    /// The FFmpeg engine's crash-loop breaker tripped and no FFmpeg ever played.
    CrashLoop,
    /// `--slo-abort`: an SLO failed for good.
    SloAbort,
}

impl StopReason {
    /// The name in the JSON report (`stop_reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Signal(_) => "signal",
            StopReason::Requested => "requested",
            StopReason::CrashLoop => "crash_loop",
            StopReason::SloAbort => "slo_abort",
        }
    }

    /// What ended the run, for people (summary, HTML report).
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Duration => "-duration elapsed",
            StopReason::Signal(_) => "signal",
            StopReason::Requested => "stopped by the user (TUI)",
            StopReason::CrashLoop => "FFmpeg crash loop (breaker tripped)",
            StopReason::SloAbort => "--slo-abort (an SLO failed for good)",
        }
    }
}

/// What a finished run hands to the outputs.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The final snapshot.
    pub snapshot: Snapshot,
    /// The stream played, safe to print (no credentials, no query).
    pub stream_url: String,
    /// Engine name.
    pub engine: &'static str,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// What exactly ended it, for people (the signal, the failed SLO, the crash loop).
    pub stop_detail: Option<String>,
    /// `-startup-timeout` of the run (for the summary's wording).
    pub startup_timeout: Duration,
    /// Viewers active (playing) when the stop began.
    pub active_at_end: u64,
    /// Viewers stalled when the stop began (out of buffer, or never started).
    pub stalled_at_end: u64,
    /// The run over time, one sample per tick (bounded; see `output::series`).
    pub series: Series,
    /// The load host (read once at the start, after the open-files limit was raised).
    pub host: crate::host::HostFacts,
}

/// Hooks for embedding a run (tests, future TUI): a stop token and a snapshot feed.
#[derive(Debug, Clone, Default)]
pub struct RunHooks {
    /// Cancel to stop the run as if by signal.
    pub stop: CancellationToken,
    /// Receives every tick's snapshot.
    pub snapshots: Option<watch::Sender<Option<Snapshot>>>,
    /// Print progress lines to stderr.
    pub progress: bool,
    /// Where the run records its time series (shared with a live sink such as the TUI);
    /// `None` = a recorder of its own. Either way the series ends up in the report.
    pub series: Option<Arc<SeriesRecorder>>,
    /// Receives the run's stream and engine once the stream answered.
    pub info: Option<watch::Sender<Option<RunInfo>>>,
}

/// What a run plays, known once it has started (for headers of live sinks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The stream played, safe to print (no credentials, no query).
    pub stream_url: String,
    /// Engine name.
    pub engine: &'static str,
}

/// Build the HTTP settings every viewer shares from the config.
pub fn http_settings(cfg: &Config, stream: &Url) -> Arc<HttpSettings> {
    let mut headers = http::HeaderMap::new();
    for h in &cfg.http.headers {
        headers.append(h.name.clone(), h.value.clone());
    }
    let mut s = HttpSettings::new(cfg.http.timeout, cfg.http.user_agent.clone());
    s.extra_headers = headers;
    s.resolve = cfg.http.resolve;
    s.max_kept_body = cfg.limits.max_playlist_size;
    s.resolve_host = stream.host_str().map(str::to_string);
    s.insecure_tls = cfg.http.dangerous;
    Arc::new(s)
}

/// Raise the soft open-files limit to the hard limit (each viewer holds a few sockets).
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        Some((lim.rlim_cur, lim.rlim_max))
    }
}

/// Start the built-in origin if the config has no URL; returns the stream URL.
pub async fn resolve_target(cfg: &Config) -> Result<(Url, Option<OriginHandle>)> {
    match &cfg.stream.source {
        StreamSource::Url(u) => Ok((u.clone(), None)),
        StreamSource::Builtin => {
            let handle = origin::start(origin::OriginConfig::default())
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
pub async fn probe_stream(
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
        sink.send(Event::Request(RequestDone {
            kind: RequestKind::Master,
            status: f.status,
            ttfb: f.ttfb,
            total: f.total,
            bytes: f.bytes,
            streamed: 0,
            error: match parsed {
                Some(Err(_)) => Some(ErrorClass::PlaylistInvalid),
                _ => f.error,
            },
            redirects: f.redirects,
            retry: false,
            aborted: false,
        }));
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

/// Run a swarm to completion.
pub async fn run(cfg: Arc<Config>, hooks: RunHooks) -> Result<RunReport> {
    raise_nofile_limit();
    let host = crate::host::gather();
    let (url, origin) = resolve_target(&cfg).await?;
    if origin.is_some() {
        say!("hls-swarm: no URL given; playing the built-in origin at {url}");
    }
    let settings = http_settings(&cfg, &url);
    // Native viewers and the stats shards they report to live on one runtime per core.
    let runtimes = Arc::new(ViewerRuntimes::per_core().context("starting the viewer runtimes")?);
    let shards = runtimes.handles().len();
    let mut hub = StatsHub::start_on(runtimes.handles(), EVENT_BUFFER);
    probe_stream(
        settings.clone(),
        &url,
        &cfg.http.user_agent,
        Some(&hub.sink(0)),
    )
    .await?;
    if cfg.http.dangerous {
        tracing::warn!("--dangerous: TLS certificate verification is DISABLED");
        say!("hls-swarm: WARNING --dangerous: TLS certificate verification is disabled");
    }

    let params = Arc::new(ViewerParams {
        url: url.clone(),
        http: settings,
        variant: cfg.stream.variant,
        seg_retry: cfg.http.seg_retry,
        max_tracks: cfg.limits.max_tracks,
        reconnect: cfg.http.reconnect,
        startup_buffer: Duration::from_millis(1),
        seed: cfg.audience.seed,
        restart_on_stall: cfg.stalls.restart,
        stall_threshold: cfg.stalls.threshold,
        startup_timeout: cfg.stalls.startup_timeout,
    });
    if let Some(tx) = &hooks.info {
        tx.send_replace(Some(RunInfo {
            stream_url: redact_url(&url),
            engine: cfg.engine.kind.as_str(),
        }));
    }
    let started_at = SystemTime::now();
    let start = Instant::now();
    let gauges = Arc::new(LiveGauges::default());
    let mut collector = Collector::new(cfg.audience.viewers, cfg.audience.duration);
    if matches!(cfg.engine.kind, crate::config::Engine::Native) {
        collector.set_lag_source(runtimes.lag());
    }
    // Live tasks of every runtime the swarm uses (scripts/soak.sh watches it for leaks).
    let mut task_runtimes = runtimes.handles().to_vec();
    task_runtimes.push(tokio::runtime::Handle::current());
    collector.set_task_source(task_runtimes);
    let viewer_table = cfg.outputs.metrics.is_some_and(|m| m.per_viewer).then(|| {
        Arc::new(ViewerTable::new(
            cfg.audience.first_viewer_id,
            cfg.audience.viewers,
        ))
    });
    if let Some(t) = &viewer_table {
        collector.set_viewers(t.clone());
        say!(
            "hls-swarm: WARNING -prom-client-metrics: {} per-viewer series ({SERIES_PER_VIEWER} for each of {} viewers, capped at {MAX_VIEWER_SERIES}); mind Prometheus cardinality",
            SERIES_PER_VIEWER * t.len() as u64,
            t.len()
        );
    }
    let series = hooks.series.clone().unwrap_or_default();
    let cancel = CancellationToken::new();
    // Origin host metrics: scraped in the background, read into each tick's snapshot.
    let origin_metrics = cfg
        .origin_metrics
        .as_ref()
        .map(|m| crate::origin_metrics::OriginScraper::start(m, cfg.http.dangerous, start));
    let engine = match cfg.engine.kind {
        crate::config::Engine::Native => None,
        crate::config::Engine::Ffmpeg => {
            let e = FfmpegEngine::start(EngineInputs {
                cfg: &cfg,
                url: &url,
                settings: params.http.clone(),
                sinks: (0..shards as u64).map(|i| hub.sink(i)).collect(),
                gauges: gauges.clone(),
                counters: hub.counters(),
            })
            .await?;
            collector.set_ffmpeg_source(e.clone());
            Some(e)
        }
    };
    let halt = engine.as_ref().map(|e| e.ramp_halt()).unwrap_or_default();
    let abort = engine.as_ref().map(|e| e.abort()).unwrap_or_default();

    // The ramp.
    let ramp = {
        let cfg = cfg.clone();
        let params = params.clone();
        let gauges = gauges.clone();
        let cancel = cancel.clone();
        let engine = engine.clone();
        let sinks: Vec<_> = (0..shards as u64).map(|i| hub.sink(i)).collect();
        let viewer_table = viewer_table.clone();
        let runtimes = runtimes.clone();
        tokio::spawn(async move {
            let schedule = RampSchedule::new(
                cfg.audience.ramp_rate,
                cfg.audience.ramp_jitter,
                cfg.audience.seed,
            );
            let mut slots = JoinSet::new();
            for i in 0..cfg.audience.viewers {
                let at = start + schedule.start_offset(i);
                tokio::select! {
                    _ = sleep_until(at) => {}
                    _ = cancel.cancelled() => break,
                    _ = halt.cancelled() => break,
                }
                let id = cfg.audience.first_viewer_id + i;
                let viewer = Viewer {
                    id,
                    user_agent: cfg.http.viewer_user_agent(id),
                    params: params.clone(),
                    sink: sinks[(id as usize) % sinks.len()]
                        .for_viewer(viewer_table.as_ref().and_then(|t| t.cell(id)))
                        .with_status(gauges.new_viewer()),
                    gauges: gauges.clone(),
                    cancel: cancel.child_token(),
                };
                match &engine {
                    // FFmpeg viewers are processes; their supervision stays here.
                    Some(e) => slots.spawn(viewer_slot(viewer, Some(e.clone()))),
                    None => slots.spawn_on(viewer_slot(viewer, None), runtimes.for_viewer(id)),
                };
            }
            drop(sinks);
            while slots.join_next().await.is_some() {}
        })
    };

    // Ticks until the end.
    let mut signals = StopSignals::install().context("installing the signal handlers")?;
    let deadline = cfg.audience.duration.map(|d| start + d);
    let mut ticker = interval_at(start + TICK, TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_progress = start;
    let mut slo_watch = cfg
        .slo
        .abort
        .map(|grace| crate::slo::AbortWatch::new(cfg.slo.clone(), grace));
    let mut slo_failure = None;
    let stop_reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let mut snap = collector.tick(&hub, &gauges, start.elapsed(), false);
                snap.origin = origin_metrics.as_ref().map(|m| m.stats(snap.elapsed));
                if hooks.progress && last_progress.elapsed() + Duration::from_millis(50) >= PROGRESS_EVERY {
                    last_progress = Instant::now();
                    say!("{}", progress::line(&snap));
                    if let Some(o) = &snap.origin {
                        say!("{}", crate::origin_metrics::report::status_line(o));
                    }
                }
                series.record(&snap);
                slo_failure = slo_watch.as_mut().and_then(|w| w.observe(&snap));
                if let Some(tx) = &hooks.snapshots {
                    tx.send_replace(Some(snap));
                }
                if slo_failure.is_some() {
                    break StopReason::SloAbort;
                }
            }
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => break StopReason::Duration,
            sig = signals.recv() => break StopReason::Signal(sig),
            _ = hooks.stop.cancelled() => break StopReason::Requested,
            _ = abort.cancelled() => break StopReason::CrashLoop,
        }
    };

    let stop_detail = match stop_reason {
        StopReason::Signal(sig) => Some(sig.name().to_string()),
        // The message's first line; the whole text (with FFmpeg's stderr) is in `ffmpeg`.
        StopReason::CrashLoop => engine
            .as_ref()
            .and_then(|e| e.crash_message())
            .and_then(|m| m.lines().next().map(str::to_string)),
        StopReason::SloAbort => slo_failure.clone(),
        StopReason::Duration | StopReason::Requested => None,
    };
    if let Some(why) = &slo_failure {
        say!("hls-swarm: --slo-abort: {why}; stopping");
    }

    // Stop: record who was there, cancel, give viewers a grace, drain the stats.
    if let Some(tx) = &hooks.snapshots {
        // Readiness turns false as the stop begins, not after the grace.
        tx.send_modify(|s| {
            if let Some(s) = s {
                s.stopping = true;
            }
        });
    }
    let active_at_end = gauges.active();
    let stalled_at_end = gauges.stalled();
    let (starting_at_end, failed_at_end) = (gauges.starting(), gauges.failed());
    let elapsed = start.elapsed();
    cancel.cancel();
    // The origin figures as of the stop; dropping the scraper ends its tasks.
    let origin_final = origin_metrics.map(|m| m.stats(elapsed));
    if let StopReason::Signal(sig) = stop_reason {
        say!(
            "hls-swarm: {} received, stopping (signal again to exit at once)",
            sig.name()
        );
    }
    let mut ramp = ramp;
    let (ramp_done, second_signal) = tokio::select! {
        r = tokio::time::timeout(STOP_GRACE, &mut ramp) => (r.is_ok(), false),
        _ = signals.recv() => (false, true),
    };
    if !ramp_done && engine.is_none() {
        // Native requests still running after the grace (an endless or stalled body) are
        // cut off: aborting the ramp drops its set of viewer slots, which aborts them, and
        // each request still in flight reports itself as aborted as its task is dropped.
        // The handle is awaited only here, never after it completed above. (FFmpeg slots
        // supervise processes: the engine's shutdown below kills those, and the measuring
        // proxy reports its own requests in flight as aborted.)
        ramp.abort();
        let _ = tokio::time::timeout(ABORT_WAIT, &mut ramp).await;
    }
    if let Some(e) = &engine {
        e.shutdown(if second_signal {
            Duration::ZERO
        } else {
            ffmpeg::process::KILL_GRACE
        })
        .await;
    }
    hub.close(if second_signal {
        Duration::ZERO
    } else {
        Duration::from_millis(500)
    })
    .await;
    let mut snapshot = collector.tick(&hub, &gauges, elapsed, true);
    snapshot.origin = origin_final;
    snapshot.active = active_at_end;
    snapshot.stalled = stalled_at_end;
    snapshot.starting = starting_at_end;
    snapshot.failed = failed_at_end;
    series.record(&snapshot);
    if let Some(tx) = &hooks.snapshots {
        tx.send_replace(Some(snapshot.clone()));
    }
    if let Some(o) = origin {
        o.shutdown().await;
    }
    Ok(RunReport {
        snapshot,
        stream_url: redact_url(&url),
        engine: cfg.engine.kind.as_str(),
        started_at,
        stop_reason,
        stop_detail,
        startup_timeout: cfg.stalls.startup_timeout,
        active_at_end,
        stalled_at_end,
        series: series.series(),
        host,
    })
}

/// One viewer slot: keeps a viewer running until the swarm stops, replacing it when it
/// finishes (VOD end), stalls too long (`-restart-on-stall`) or fails (after a backoff).
/// FFmpeg viewers are supervised by their engine.
async fn viewer_slot(viewer: Viewer, engine: Option<Arc<FfmpegEngine>>) {
    if let Some(engine) = engine {
        return ffmpeg::run_slot(viewer, engine).await;
    }
    let sink = viewer.sink.clone();
    let gauges = viewer.gauges.clone();
    sink.send(Event::Lifecycle(LifecycleEvent::Started));
    gauges.add_ramped();
    let mut backoff = Backoff::standard(viewer.params.seed ^ viewer.id ^ 0xA5A5);
    loop {
        let began = Instant::now();
        // The run that just tuned in (Started/Restarted) has its startup timeout.
        let exit = tokio::select! {
            exit = run_viewer(viewer.clone()) => exit,
            never = startup_timer(&sink, viewer.params.startup_timeout) => match never {},
        };
        match exit {
            ViewerExit::Cancelled => {
                sink.send(Event::Lifecycle(LifecycleEvent::Exited { failure: false }));
                return;
            }
            ViewerExit::Finished => {
                sink.send(Event::Lifecycle(LifecycleEvent::Exited { failure: false }));
                backoff.reset();
            }
            ViewerExit::StallRestart => {
                sink.send(Event::Lifecycle(LifecycleEvent::Exited { failure: false }));
                backoff.reset();
            }
            ViewerExit::Failed => {
                sink.send(Event::Lifecycle(LifecycleEvent::Exited { failure: true }));
                backoff.healthy_for(began.elapsed());
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = viewer.cancel.cancelled() => return,
                }
            }
        }
        if viewer.cancel.is_cancelled() {
            return;
        }
        sink.send(Event::Lifecycle(LifecycleEvent::Restarted));
    }
}

//! The orchestrator: starts the built-in origin when needed, ramps viewers at the exact
//! mean rate, ticks the stats once a second, stops on duration or signal, and returns the
//! run's report.
//!
//! Shutdown: the first SIGINT/SIGTERM/SIGHUP (or the end of `-duration`, a quit from the
//! TUI, an `--slo-abort`, the FFmpeg crash-loop breaker) stops the ramp and cancels every
//! viewer; viewers get a short grace to finish the requests they have in flight, then
//! are cut off (each request still in flight is reported as *aborted*, with the bytes it
//! had received), the stats pipeline is drained, and the final snapshot is returned so
//! the summary and reports are written. A second signal skips the grace.
//!
//! The swarm publishes and knows no sink: each tick's snapshot goes to the feed in
//! [`RunHooks::snapshots`] (the TUI, /metrics and the progress lines subscribe to it), and
//! the run ends with a [`RunReport`] for the written reports.
//!
//! Interim reports: a SIGUSR1 never stops the run. At the next tick the swarm publishes
//! the run as it stands (that tick's snapshot and the series so far, stop reason
//! [`StopReason::Running`]) on [`RunHooks::interim`]; the subscriber writes the files.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::arrivals::ArrivalSchedule;
use crate::config::streams::display_names;
use crate::config::{Config, redact_url};
use crate::console::say;
use crate::engine::http::HttpSettings;
use crate::engine::runtimes::ViewerRuntimes;
use crate::engine::session::{SessionPlan, run_session};
use crate::engine::slot::run_slot;
use crate::engine::{self, EngineInputs, Viewer};
use crate::ramp::{RampAnchor, RampSchedule};
use crate::signals::{REPORT_SIGNAL_NAME, ReportSignals, StopSignals};
use crate::stats::collector::Collector;
use crate::stats::event::Event;
use crate::stats::gauges::LiveGauges;
use crate::stats::hub::StatsHub;
use crate::stats::request_log::RequestLog;
use crate::stats::request_log::line::{FORMAT_VERSION, Header};
use crate::stats::series::SeriesRecorder;
use crate::stats::sessions::SessionTally;
use crate::stats::snapshot::Snapshot;
use crate::stats::streams::StreamInfo;
use crate::stats::viewers::{MAX_VIEWER_SERIES, SERIES_PER_VIEWER, ViewerTable};
use crate::{host_limits, stream};

// The run's report model lives in Stats; re-exported here because `run` returns it.
pub use crate::stats::report::{RunInfo, RunReport, StopReason};

/// Stats tick.
pub const TICK: Duration = Duration::from_secs(1);
/// Grace for viewers to finish their requests in flight after cancellation.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// After the grace, how long cutting the viewers off may take (their tasks are aborted,
/// which only waits for them to be dropped).
const ABORT_WAIT: Duration = Duration::from_secs(1);
/// Capacity of each stats shard's event channel.
pub const EVENT_BUFFER: usize = 65_536;

/// At the end of a run, how long the request log's writer may take to write out its
/// queue before the lines left count as failed (a destination that blocks, such as a FIFO
/// nobody reads, must not hold the run's end).
const REQUEST_LOG_GRACE: Duration = Duration::from_secs(5);

/// The same after a second stop signal ("exit at once").
const REQUEST_LOG_GRACE_AT_ONCE: Duration = Duration::from_secs(1);

/// Hooks for embedding a run (the CLI, tests): a stop token and the feeds the run
/// publishes to. Sinks (TUI, /metrics, progress lines) subscribe to the snapshot feed;
/// the run knows none of them.
#[derive(Debug, Clone, Default)]
pub struct RunHooks {
    /// Cancel to stop the run as if by signal.
    pub stop: CancellationToken,
    /// Receives every tick's snapshot.
    pub snapshots: Option<watch::Sender<Option<Snapshot>>>,
    /// Where the run records its time series (shared with a live sink such as the TUI);
    /// `None` = a recorder of its own. Either way the series ends up in the report.
    pub series: Option<Arc<SeriesRecorder>>,
    /// Receives the run's stream and engine once the stream answered.
    pub info: Option<watch::Sender<Option<RunInfo>>>,
    /// Receives an interim report (stop reason [`StopReason::Running`]) at the first tick
    /// after a SIGUSR1; SIGUSR1s between two ticks make one report. `None` = SIGUSR1 is
    /// answered with a line saying so and otherwise ignored.
    pub interim: Option<watch::Sender<Option<Arc<RunReport>>>>,
    /// `--request-log`, already opened (so a path that cannot be opened is a usage error
    /// before the run); `None` = the run opens `cfg`'s own, if any.
    pub request_log: Option<Arc<RequestLog>>,
}

/// Open `cfg`'s `--request-log` (none without the flag) and start its writer.
pub fn open_request_log(cfg: &Config) -> Result<Option<Arc<RequestLog>>> {
    let Some(c) = &cfg.outputs.request_log else {
        return Ok(None);
    };
    let header = Header {
        request_log: FORMAT_VERSION,
        run_id: cfg.run.id.clone(),
        shard_index: cfg.audience.shard.index(),
        shard_count: cfg.audience.shard.count(),
        engine: cfg.engine.kind.as_str(),
    };
    RequestLog::open(&c.path, c.buffer, &header).map(Some)
}

/// Run a swarm to completion.
pub async fn run(cfg: Arc<Config>, hooks: RunHooks) -> Result<RunReport> {
    // First of all: from here on a SIGUSR1 (whose default action is to kill) can only ask
    // for an interim report, answered from the first tick on.
    let mut report_signals = ReportSignals::install().context("installing the SIGUSR1 handler")?;
    host_limits::raise_nofile_limit();
    let host = crate::host::gather();
    let (urls, origin) = stream::resolve(&cfg).await?;
    let url = urls[0].clone();
    match (&origin, urls.len()) {
        (None, _) => {}
        (Some(_), 1) => {
            say!("hls-swarm: no URL given; playing the built-in origin at {url}");
        }
        (Some(_), n) => {
            say!(
                "hls-swarm: no URL given; playing the built-in origin's {n} channels at {}",
                url.as_str().replace("/ch0/", "/ch{c}/")
            );
        }
    }
    let mix = cfg.stream.mix();
    let stream_infos: Vec<StreamInfo> = display_names(&urls)
        .into_iter()
        .enumerate()
        .map(|(i, url)| StreamInfo {
            url,
            share: mix.share(i),
        })
        .collect();
    let settings = HttpSettings::for_run(&cfg, &url);
    // Native viewers and the stats shards they report to live on one runtime per core.
    let runtimes = Arc::new(ViewerRuntimes::per_core().context("starting the viewer runtimes")?);
    let shards = runtimes.handles().len();
    let mut hub = StatsHub::start_on(runtimes.handles(), EVENT_BUFFER);
    let request_log = match hooks.request_log.clone() {
        Some(log) => Some(log),
        None => open_request_log(&cfg)?,
    };
    hub.set_request_log(request_log.clone());
    if request_log.is_some()
        && matches!(cfg.engine.kind, crate::config::Engine::Ffmpeg)
        && url.scheme() == "https"
    {
        say!(
            "hls-swarm: WARNING --request-log: FFmpeg fetches an https:// stream itself, unmeasured; the log holds only the swarm's own probe requests"
        );
    }
    stream::probe_all(settings.clone(), &urls, &cfg.http.user_agent, &hub.sink(0)).await?;
    if cfg.http.dangerous {
        tracing::warn!("--dangerous: TLS certificate verification is DISABLED");
        say!("hls-swarm: WARNING --dangerous: TLS certificate verification is disabled");
    }

    if let Some(tx) = &hooks.info {
        tx.send_replace(Some(RunInfo {
            stream_url: redact_url(&url),
            engine: cfg.engine.kind.as_str(),
        }));
    }
    let gauges = Arc::new(LiveGauges::default());
    let mut collector = Collector::new(cfg.audience.shard_viewers(), cfg.audience.duration);
    if let Some(log) = &request_log {
        collector.set_request_log(log.clone());
    }
    if let Some(g) = cfg.stream.metrics_groups() {
        collector.set_stream_groups(g.group_of, g.names.len());
    }
    if matches!(cfg.engine.kind, crate::config::Engine::Native) {
        collector.set_lag_source(runtimes.lag());
    }
    // Live tasks of every runtime the swarm uses (scripts/soak.sh watches it for leaks).
    let mut task_runtimes = runtimes.handles().to_vec();
    task_runtimes.push(tokio::runtime::Handle::current());
    collector.set_task_source(task_runtimes);
    let viewer_table = cfg.outputs.metrics.is_some_and(|m| m.per_viewer).then(|| {
        let shard = cfg.audience.shard;
        Arc::new(ViewerTable::strided(
            cfg.audience.viewer_id(shard.index()),
            shard.count(),
            cfg.audience.shard_viewers(),
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
    // Arrival mode's session counts; the cap is this shard's share of -clients.
    let sessions = cfg.audience.arrival_rate.map(|rate| {
        Arc::new(SessionTally::new(
            cfg.audience.session,
            rate / cfg.audience.shard.count() as f64,
            cfg.audience.shard_viewers(),
        ))
    });
    if let Some(t) = &sessions {
        collector.set_sessions(t.clone());
    }
    let cancel = CancellationToken::new();
    let started = engine::start(
        EngineInputs {
            cfg: &cfg,
            url: &url,
            urls: &urls,
            settings,
            sinks: (0..shards as u64).map(|i| hub.sink(i)).collect(),
            gauges: gauges.clone(),
            counters: hub.counters(),
        },
        runtimes.clone(),
    )
    .await?;
    if let Some(f) = started.ffmpeg {
        collector.set_ffmpeg_source(f);
    }
    let links = started.links;
    if let Some(l) = &links {
        collector.set_link_rates(l.clone());
    }
    let engine = started.engine;
    let halt = engine.ramp_halt();
    let abort = engine.abort();

    // Time zero of the ramp and of -duration: now, or the --start-at instant (ahead: the
    // ramp and the ticks wait for it, the stop signals are answered meanwhile; passed:
    // the schedule stays anchored to it and the late viewers start at once).
    let (started_at, start, start_late) = ramp_start(&cfg)?;
    // Origin host metrics: scraped in the background, read into each tick's snapshot.
    let origin_metrics = cfg
        .origin_metrics
        .as_ref()
        .map(|m| crate::origin_metrics::OriginScraper::start(m, cfg.http.dangerous, start));

    // The ramp.
    let ramp = {
        let cfg = cfg.clone();
        let gauges = gauges.clone();
        let cancel = cancel.clone();
        let engine = engine.clone();
        let sinks: Vec<_> = (0..shards as u64).map(|i| hub.sink(i)).collect();
        let viewer_table = viewer_table.clone();
        let mix = mix.clone();
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let mut slots = JoinSet::new();
            let new_viewer = |id: u64, cancel: CancellationToken| {
                let stream = mix.stream_for(cfg.audience.seed, id) as u32;
                let mut sink = sinks[(id as usize) % sinks.len()].clone();
                if mix.len() > 1 {
                    sink = sink.with_stream(stream);
                    sink.send(Event::StreamViewer { stream });
                }
                Viewer {
                    id,
                    user_agent: cfg.http.viewer_user_agent(id),
                    sink: sink
                        .with_viewer_id(id)
                        .for_viewer(viewer_table.as_ref().and_then(|t| t.cell(id)))
                        .with_status(gauges.new_viewer()),
                    gauges: gauges.clone(),
                    cancel,
                    startup_timeout: cfg.stalls.startup_timeout,
                    stream,
                }
            };
            if let (Some(rate), Some(tally)) = (cfg.audience.arrival_rate, sessions) {
                // Arrival mode: this shard's arrivals of the whole test's schedule.
                let seed = cfg.audience.seed;
                for arrival in ArrivalSchedule::new(rate, seed).for_shard(cfg.audience.shard) {
                    // Reap the sessions that ended, so the set stays as small as the
                    // sessions open.
                    while slots.try_join_next().is_some() {}
                    if cfg.audience.duration.is_some_and(|d| arrival.offset >= d) {
                        // The run ends before this arrival.
                        break;
                    }
                    tokio::select! {
                        _ = sleep_until(start + arrival.offset) => {}
                        _ = cancel.cancelled() => break,
                        _ = halt.cancelled() => break,
                    }
                    let id = cfg.audience.viewer_id(arrival.index);
                    let length = cfg.audience.session.map(|m| m.length_for(seed, id));
                    if !tally.try_open(length) {
                        tracing::debug!(viewer = id, "arrival refused: -clients sessions open");
                        continue;
                    }
                    tracing::debug!(
                        viewer = id,
                        offset_us = arrival.offset.as_micros() as u64,
                        length_ms = length.map(|l| l.as_millis() as u64),
                        "session starts"
                    );
                    let plan = SessionPlan {
                        length,
                        cut_off: engine.cut_off_after_grace(),
                    };
                    let session = run_session(
                        new_viewer(id, cancel.child_token()),
                        engine.clone().player(id),
                        plan,
                        tally.clone(),
                    );
                    match engine.runtime(id) {
                        Some(rt) => slots.spawn_on(session, &rt),
                        None => slots.spawn(session),
                    };
                }
            } else {
                let schedule = RampSchedule::new(
                    cfg.audience.ramp_rate,
                    cfg.audience.ramp_jitter,
                    cfg.audience.seed,
                );
                // This shard's viewers of the whole test, each at its slot of the whole ramp.
                for index in cfg.audience.viewer_indices() {
                    let slot = schedule.start_offset(index);
                    tokio::select! {
                        _ = sleep_until(start + slot) => {}
                        _ = cancel.cancelled() => break,
                        _ = halt.cancelled() => break,
                    }
                    let id = cfg.audience.viewer_id(index);
                    tracing::debug!(
                        viewer = id,
                        index,
                        slot_us = slot.as_micros() as u64,
                        "viewer starts"
                    );
                    let slot = run_slot(
                        new_viewer(id, cancel.child_token()),
                        engine.clone().player(id),
                    );
                    match engine.runtime(id) {
                        Some(rt) => slots.spawn_on(slot, &rt),
                        None => slots.spawn(slot),
                    };
                }
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
    let mut slo_watch = cfg
        .slo
        .abort
        .map(|grace| crate::slo::AbortWatch::new(cfg.slo.clone(), grace));
    let mut slo_failure = None;
    let mut interim_due = false;
    let stop_reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let mut snap = collector.tick(&hub, &gauges, start.elapsed(), false);
                snap.origin = origin_metrics.as_ref().map(|m| m.stats(snap.elapsed));
                series.record(&snap);
                slo_failure = slo_watch.as_mut().and_then(|w| w.observe(&snap));
                if interim_due && let Some(tx) = &hooks.interim {
                    interim_due = false;
                    // The run as it stands; whoever subscribed writes it, off this loop.
                    tx.send_replace(Some(Arc::new(RunReport {
                        run: cfg.run.clone(),
                        start_late,
                        merged: None,
                        snapshot: snap.clone(),
                        accumulator: Arc::new(collector.cumulative().clone()),
                        stream_url: redact_url(&url),
                        engine: cfg.engine.kind.as_str(),
                        started_at,
                        stop_reason: StopReason::Running,
                        stop_detail: Some(REPORT_SIGNAL_NAME.to_string()),
                        startup_timeout: cfg.stalls.startup_timeout,
                        active_at_end: snap.active,
                        stalled_at_end: snap.stalled,
                        series: series.series(),
                        host: host.clone(),
                        bandwidth: links.as_ref().map(|l| l.state()),
                        sessions: sessions.as_ref().map(|t| t.state(false)),
                        streams: stream_infos.clone(),
                    })));
                }
                if let Some(tx) = &hooks.snapshots {
                    tx.send_replace(Some(snap));
                }
                if slo_failure.is_some() {
                    break StopReason::SloAbort;
                }
            }
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => break StopReason::Duration,
            sig = signals.recv() => break StopReason::Signal(sig),
            () = report_signals.recv() => {
                if hooks.interim.is_some() {
                    interim_due = true;
                } else {
                    say!("hls-swarm: {REPORT_SIGNAL_NAME} ignored: this run publishes no interim reports");
                }
            }
            _ = hooks.stop.cancelled() => break StopReason::Requested,
            _ = abort.cancelled() => break StopReason::CrashLoop,
        }
    };

    let stop_detail = match stop_reason {
        StopReason::Signal(sig) => Some(sig.name().to_string()),
        // The message's first line; the whole text (with FFmpeg's stderr) is in `ffmpeg`.
        StopReason::CrashLoop => engine
            .abort_message()
            .and_then(|m| m.lines().next().map(str::to_string)),
        StopReason::SloAbort => slo_failure.clone(),
        // `Running` only names interim reports and `Merged` merged ones; neither ends the
        // loop above.
        StopReason::Duration | StopReason::Requested | StopReason::Running | StopReason::Merged => {
            None
        }
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
    if !ramp_done && engine.cut_off_after_grace() {
        // Requests still running after the grace (an endless or stalled body) are cut
        // off: aborting the ramp drops its set of viewer slots, which aborts them, and
        // each request still in flight reports itself as aborted as its task is dropped.
        // The handle is awaited only here, never after it completed above. (An engine
        // that stops its viewers itself does so in its shutdown below.)
        ramp.abort();
        let _ = tokio::time::timeout(ABORT_WAIT, &mut ramp).await;
    }
    engine.shutdown(second_signal).await;
    hub.close(if second_signal {
        Duration::ZERO
    } else {
        Duration::from_millis(500)
    })
    .await;
    // Every request has reported itself: write out the request log's queue, so the
    // final snapshot carries its final counts.
    if let Some(log) = &request_log {
        log.close(if second_signal {
            REQUEST_LOG_GRACE_AT_ONCE
        } else {
            REQUEST_LOG_GRACE
        })
        .await;
    }
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
        run: cfg.run.clone(),
        start_late,
        merged: None,
        snapshot,
        accumulator: Arc::new(collector.cumulative().clone()),
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
        bandwidth: links.as_ref().map(|l| l.state()),
        sessions: sessions.as_ref().map(|t| t.state(true)),
        streams: stream_infos,
    })
}

/// Time zero of the ramp: now, or the `--start-at` instant; says which run and shard this
/// is, and what it waits for or how late it is. Returns time zero on the wall clock and
/// on the monotonic clock, and how late this process reached the instant (`None` without
/// `--start-at`, zero when it was early). Late past the end of `-duration` is an error.
fn ramp_start(cfg: &Config) -> Result<(SystemTime, Instant, Option<Duration>)> {
    let run = &cfg.run;
    // One reading of each clock, taken together.
    let (wall, now) = (SystemTime::now(), Instant::now());
    let Some(at) = run.start_at else {
        say!("hls-swarm: run {} shard {}", run.id, run.shard);
        return Ok((wall, now, None));
    };
    let anchor = RampAnchor::at(at, wall);
    let when = humantime::format_rfc3339_millis(at);
    let late_past_the_end = cfg.audience.duration.is_some_and(|d| anchor.late >= d);
    let start = anchor.ramp_start(now).filter(|_| !late_past_the_end);
    let Some(start) = start else {
        anyhow::bail!(
            "--start-at {when}: this process is {:.3} s late, past the end of the run",
            anchor.late.as_secs_f64()
        );
    };
    if anchor.late.is_zero() {
        say!(
            "hls-swarm: run {} shard {}: waiting {:.3} s for --start-at {when}",
            run.id,
            run.shard,
            anchor.wait.as_secs_f64()
        );
    } else {
        say!(
            "hls-swarm: run {} shard {}: {:.3} s late for --start-at {when}; catching up (viewers whose ramp slot has passed start at once)",
            run.id,
            run.shard,
            anchor.late.as_secs_f64()
        );
    }
    Ok((at, start, Some(anchor.late)))
}

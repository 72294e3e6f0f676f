//! The FFmpeg engine: one real FFmpeg process per viewer, measured from the outside.
//!
//! * [`caps`] probes the installed FFmpeg once (options, `datetime` log flag, version).
//! * [`probe`] decides what FFmpeg plays with the core playlist parser (`-variant`).
//! * [`command`] builds each viewer's argument list (pure; golden-tested); [`recipe`]
//!   holds what every process of a run is started and watched with.
//! * [`proxy`] is the measuring proxy every FFmpeg talks through (`-http_proxy`): exact
//!   per-request figures for http:// streams, a CONNECT tunnel for https://;
//!   [`proxy_handle`] owns it for the run.
//! * [`progress`] turns `-progress pipe:3` into startup, stalls, latency and speed
//!   ([`speed`] keeps the mean).
//! * [`stderr`] splits stderr on `\r`/`\n`, keeps warnings/errors in a bounded ring, and
//!   for https:// parses approximate request figures.
//! * [`process`] spawns (own process group, `PR_SET_PDEATHSIG`) and stops (SIGTERM → 3 s →
//!   SIGKILL); [`supervisor`] follows one process life and is the engine's
//!   [`SlotPlayer`] (the respawn loop is the engine-neutral [`crate::engine::slot`]);
//!   [`processes`] knows which run now.
//! * [`crashloop`] is the breaker's rule, [`crash_guard`] applies it to the run.
//! * [`tally`] counts spawns, exits and stderr lines.
//! * [`procfs`] reads the children's CPU and memory; [`resources`] samples them.
//! * [`check`] is the engine's part of `--check` and `--print-cmd`.
//!
//! Everything it reports uses the one event model; the engine-specific figures
//! ([`crate::stats::ffmpeg::FfmpegStats`]) are read once per tick through
//! [`FfmpegStatsSource`].

pub mod caps;
pub mod check;
pub mod classify;
pub mod command;
pub mod crash_guard;
pub mod crashloop;
pub mod probe;
pub mod process;
pub mod processes;
pub mod procfs;
pub mod progress;
pub mod proxy;
pub mod proxy_handle;
pub mod recipe;
pub mod resources;
pub mod speed;
pub mod stderr;
pub mod supervisor;
pub mod tally;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;
use url::Url;

use self::caps::Capabilities;
use self::classify::Classifier;
use self::command::{HeaderArg, Plan};
use self::crash_guard::CrashGuard;
use self::probe::Choice;
use self::processes::Processes;
use self::proxy::Proxy;
use self::proxy_handle::ProxyHandle;
use self::recipe::Recipe;
use self::resources::Resources;
use self::speed::SpeedGauge;
use self::tally::Tally;
use crate::config::{Config, ProbeFailurePolicy};
use crate::engine::http::HttpSettings;
use crate::engine::{BoxFuture, Engine, EngineInputs, SlotPlayer};
use crate::stats::ffmpeg::{FfmpegStats, FfmpegStatsSource};
use crate::stats::hub::EventSink;

pub use resources::{PSS_CYCLE_SECS, PSS_MIN_EVERY_SECS, PSS_SETTLE_SECS};
pub use supervisor::FfmpegPlayer;

/// Stall threshold when neither `-stall-threshold` nor a target duration is known
/// (2 × Apple's recommended 6 s segments).
pub const FALLBACK_STALL_THRESHOLD: Duration = Duration::from_secs(12);

/// The FFmpeg engine of one run, shared by every viewer slot: a few parts with one job
/// each.
#[derive(Debug)]
pub struct FfmpegEngine {
    /// What every process is started and watched with.
    pub recipe: Recipe,
    /// Mean playback speed of the running processes.
    pub speed: SpeedGauge,
    /// The processes running now.
    pub processes: Arc<Processes>,
    /// Spawns, exits, stderr lines, the latest error.
    pub tally: Tally,
    /// The crash-loop breaker and what it trips.
    pub guard: CrashGuard,
    resources: Arc<Resources>,
    proxy: ProxyHandle,
}

/// The headers of the config as `-headers` entries.
pub fn header_args(cfg: &Config) -> Vec<HeaderArg> {
    cfg.http
        .headers
        .iter()
        .map(|h| HeaderArg {
            name: h.name.to_string(),
            value: h.value.to_str().unwrap_or_default().to_string(),
            secret: h.secret,
        })
        .collect()
}

/// The command plan for a probed choice.
pub fn plan_for(cfg: &Config, choice: &Choice) -> Plan {
    let https = choice.input.scheme() == "https";
    Plan {
        input: choice.input.clone(),
        map: choice.map,
        loglevel: cfg
            .engine
            .ffmpeg
            .loglevel
            .clone()
            .unwrap_or_else(|| if https { "debug" } else { "warning" }.to_string()),
        user_agent: cfg.http.user_agent.clone(),
        headers: header_args(cfg),
        timeout: cfg.http.timeout,
        reconnect: cfg.http.reconnect,
        seg_retry: cfg.http.seg_retry,
        dangerous: cfg.http.dangerous,
    }
}

/// Probe the binary and fail with a clear message if it lacks what the engine needs.
pub async fn probe_binary(cfg: &Config) -> Result<Capabilities> {
    let caps = caps::probe(&cfg.engine.ffmpeg.binary).await?;
    let missing = caps.missing_required();
    if !missing.is_empty() {
        anyhow::bail!(
            "{} (FFmpeg {}) lacks options the ffmpeg engine needs: -{}; install a full FFmpeg build",
            caps.binary,
            caps.version,
            missing.join(", -")
        );
    }
    Ok(caps)
}

/// Run the variant probe, applying `-probe-failure-policy`.
pub async fn choose(
    cfg: &Config,
    url: &Url,
    settings: Arc<HttpSettings>,
    sink: Option<&EventSink>,
) -> Result<Choice> {
    match probe::choose(
        url,
        cfg.stream.variant,
        settings,
        &cfg.http.user_agent,
        sink,
    )
    .await
    {
        Ok(c) => Ok(c),
        Err(e) => match cfg.engine.ffmpeg.probe_failure_policy {
            ProbeFailurePolicy::Fail => anyhow::bail!(
                "variant probe failed: {e} (-probe-failure-policy fail; use fallback to play the URL as given)"
            ),
            ProbeFailurePolicy::Fallback => {
                tracing::warn!(error = %e, "variant probe failed; FFmpeg plays the URL with its own stream choice");
                eprintln!(
                    "hls-swarm: variant probe failed ({e}); falling back to FFmpeg's own stream choice"
                );
                Ok(Choice::fallback(url))
            }
        },
    }
}

impl FfmpegEngine {
    /// Probe FFmpeg and the stream, start the proxy and the resource sampler.
    pub async fn start(inp: EngineInputs<'_>) -> Result<Arc<FfmpegEngine>> {
        let cfg = inp.cfg;
        let caps = probe_binary(cfg).await?;
        let choice = choose(cfg, inp.url, inp.settings.clone(), inp.sinks.first()).await?;
        let stall_threshold = cfg
            .stalls
            .threshold
            .or(choice.target_duration.map(|td| td * 2))
            .unwrap_or(FALLBACK_STALL_THRESHOLD);
        let plan = plan_for(cfg, &choice);
        let proxy = Proxy::start(inp.settings.clone(), inp.sinks, choice.master.as_ref())
            .await
            .context("starting the measuring proxy")?;
        if plan.https() {
            eprintln!(
                "hls-swarm: https:// stream: FFmpeg tunnels through the proxy, so request counts come from its log and are APPROXIMATE (no timings, no bytes)"
            );
        }
        let processes = Arc::new(Processes::default());
        Ok(Arc::new(FfmpegEngine {
            recipe: Recipe {
                proxy_url: proxy.url(),
                classifier: Classifier::new(choice.master.as_ref()),
                tune_in_latency: choice.tune_in_latency,
                caps,
                plan,
                stall_threshold,
                restart_on_stall: cfg.stalls.restart,
                stderr_buffer: cfg.engine.ffmpeg.stderr_buffer,
                seed: cfg.audience.seed,
            },
            speed: SpeedGauge::default(),
            resources: Resources::start(processes.clone()),
            processes,
            tally: Tally::new(inp.counters),
            guard: CrashGuard::new(inp.gauges),
            proxy: ProxyHandle::new(proxy),
        }))
    }

    /// Process `pid` started.
    pub(crate) fn register(&self, pid: u32) {
        self.tally.spawned();
        self.processes.add(pid);
    }

    /// Process `pid` is gone.
    pub(crate) fn unregister(&self, pid: u32) {
        self.processes.remove(pid);
        self.resources.forget(pid);
    }

    /// Stop: wait up to `grace` for the viewers' processes to be gone (they were told to
    /// stop by the swarm's cancellation), SIGKILL what is left, let the proxy report what
    /// is in flight, then close it and take a last resource sample.
    pub async fn stop(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.processes.count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.processes.kill_all();
        self.proxy.close(grace).await;
        self.resources.last_sample(self.processes.pids()).await;
    }
}

impl Engine for FfmpegEngine {
    fn player(self: Arc<Self>, _id: u64) -> Box<dyn SlotPlayer> {
        Box::new(FfmpegPlayer::new(self))
    }

    fn ramp_halt(&self) -> CancellationToken {
        self.guard.ramp_halt()
    }

    fn abort(&self) -> CancellationToken {
        self.guard.abort()
    }

    fn abort_message(&self) -> Option<String> {
        self.guard.message()
    }

    /// FFmpeg slots supervise processes: [`FfmpegEngine::stop`] kills those, and the
    /// measuring proxy reports its own requests in flight as aborted.
    fn cut_off_after_grace(&self) -> bool {
        false
    }

    fn shutdown(&self, hurry: bool) -> BoxFuture<'_, ()> {
        Box::pin(self.stop(if hurry {
            Duration::ZERO
        } else {
            process::KILL_GRACE
        }))
    }
}

impl FfmpegStatsSource for FfmpegEngine {
    fn ffmpeg_stats(&self) -> FfmpegStats {
        let t = self.tally.figures();
        let usage = self.resources.usage();
        let (speed_mean, below) = self.speed.read();
        FfmpegStats {
            binary: self.recipe.caps.binary.clone(),
            version: self.recipe.caps.version.clone(),
            stall_threshold: self.recipe.stall_threshold,
            processes: self.processes.count(),
            spawns: t.spawns,
            spawn_failures: t.spawn_failures,
            exits: t.exits,
            stall_restarts: t.stall_restarts,
            cpu_seconds_total: usage.cpu,
            memory_rss_bytes: usage.rss,
            memory_pss_bytes: usage.pss,
            memory_rss_peak_bytes: usage.rss_peak,
            memory_pss_peak_bytes: usage.pss_peak,
            processes_at_pss_peak: usage.n_at_pss_peak,
            swarm_cpu_seconds: usage.self_cpu,
            speed_mean,
            below_realtime: below,
            stderr_lines: t.stderr_lines,
            stderr_dropped: t.stderr_dropped,
            requests_approximate: self.recipe.plan.https(),
            tunnel_bytes: self.proxy.tunnel_bytes(),
            crash_loop: self.guard.state(),
            last_error: t.last_error,
        }
    }
}

impl Drop for FfmpegEngine {
    fn drop(&mut self) {
        // Last resort (an early return or panic in the run): no FFmpeg outlives the engine.
        self.processes.kill_all();
        self.resources.stop();
    }
}

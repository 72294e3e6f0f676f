//! The FFmpeg engine: one real FFmpeg process per viewer, measured from the outside.
//!
//! * [`caps`] probes the installed FFmpeg once (options, `datetime` log flag, version).
//! * [`probe`] decides what FFmpeg plays with the core playlist parser (`-variant`).
//! * [`command`] builds each viewer's argument list (pure; golden-tested).
//! * [`proxy`] is the measuring proxy every FFmpeg talks through (`-http_proxy`): exact
//!   per-request figures for http:// streams, a CONNECT tunnel for https://.
//! * [`progress`] turns `-progress pipe:3` into startup, stalls, latency and speed.
//! * [`stderr`] splits stderr on `\r`/`\n`, keeps warnings/errors in a bounded ring, and
//!   for https:// parses approximate request figures.
//! * [`process`] spawns (own process group, `PR_SET_PDEATHSIG`) and stops (SIGTERM → 3 s →
//!   SIGKILL); [`supervisor`] respawns with backoff; [`crashloop`] is the breaker.
//! * [`procfs`] measures the children's CPU and memory.
//! * [`check`] is the engine's part of `--check` and `--print-cmd`.
//!
//! Everything it reports uses the one event model; the engine-specific figures
//! ([`crate::stats::ffmpeg::FfmpegStats`]) are read once per tick through
//! [`FfmpegStatsSource`].

pub mod caps;
pub mod check;
pub mod classify;
pub mod command;
pub mod crashloop;
pub mod probe;
pub mod process;
pub mod procfs;
pub mod progress;
pub mod proxy;
pub mod stderr;
pub mod supervisor;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use self::caps::Capabilities;
use self::classify::Classifier;
use self::command::{HeaderArg, Plan};
use self::crashloop::{Breaker, SlotStreak, Trip};
use self::probe::Choice;
use self::proxy::Proxy;
use self::supervisor::{KillReason, ProcessEnd};
use crate::config::{Config, ProbeFailurePolicy};
use crate::engine::http::HttpSettings;
use crate::stats::ffmpeg::{CrashLoopState, ExitCounts, FfmpegStats, FfmpegStatsSource};
use crate::stats::gauges::LiveGauges;
use crate::stats::hub::{EventSink, PipelineCounters};

pub use supervisor::run_slot;

/// Stall threshold when neither `-stall-threshold` nor a target duration is known
/// (2 × Apple's recommended 6 s segments).
pub const FALLBACK_STALL_THRESHOLD: Duration = Duration::from_secs(12);

/// Every running FFmpeg's PSS is re-measured about this often. Reading `smaps_rollup`
/// costs 1–2 ms of kernel time per FFmpeg (a page-table walk) — as much as a `-c copy`
/// FFmpeg spends in a couple of seconds — so `processes / PSS_CYCLE_SECS` processes are
/// measured per second on average (one every 0.6 s at 200 processes; at least one every
/// [`PSS_MIN_EVERY_SECS`], and one at once while none has a figure), unmeasured ones
/// first.
///
/// The sum stays true despite the slow rotation because it is built from two parts: each
/// process's *private* memory, which is its own and does not drift as other FFmpegs come
/// and go, and the *shared* pages' share (PSS − private), which all FFmpegs sharing the
/// same libraries have alike and which shrinks as more of them share: that part is taken
/// from the latest measurement for every process. A stale PSS figure measured while 20
/// processes shared the libraries would overstate the sum once 200 share them.
pub const PSS_CYCLE_SECS: u64 = 120;

/// A process's PSS is first measured once it has run this long: an FFmpeg that is still
/// probing the stream has not grown its buffers yet, and would stand for the unmeasured
/// ones at too low a figure.
pub const PSS_SETTLE_SECS: u64 = 10;

/// At least one process's PSS is measured this often (keeps the shared share fresh when
/// there are few processes).
pub const PSS_MIN_EVERY_SECS: u64 = 5;

/// How many of `n` processes to measure PSS for in sample round `round` (1, 2, …):
/// `n / PSS_CYCLE_SECS` per round on average, spread evenly, and at least one when
/// `none_known` (so a figure exists from the first second).
fn pss_quota(n: usize, round: u64, none_known: bool) -> usize {
    let n = n as u64;
    let due = |r: u64| n.saturating_mul(r) / PSS_CYCLE_SECS;
    let k = usize::try_from(due(round) - due(round.saturating_sub(1))).unwrap_or(usize::MAX);
    if n > 0 && (none_known || round.is_multiple_of(PSS_MIN_EVERY_SECS)) {
        k.max(1)
    } else {
        k
    }
}

/// Memory figures kept between samples: private bytes per process and the shared share.
#[derive(Debug, Default)]
struct PssBook {
    /// (pid, private bytes, sample round) of the processes measured so far.
    private: Vec<(u32, u64, u64)>,
    /// PSS − private of the latest measurement round (mean over its processes).
    shared_share: u64,
    /// Sample round in which each running process was first seen.
    first_seen: std::collections::HashMap<u32, u64>,
}

impl PssBook {
    /// Record `measured` and return (estimated PSS sum over `live`, `live.len()`).
    fn update(
        &mut self,
        live: &[u32],
        measured: &[(u32, procfs::Rollup)],
        round: u64,
    ) -> (u64, u64) {
        for (pid, r) in measured {
            match self.private.iter_mut().find(|(p, _, _)| p == pid) {
                Some(e) => *e = (*pid, r.private, round),
                None => self.private.push((*pid, r.private, round)),
            }
        }
        if !measured.is_empty() {
            let shared: u64 = measured.iter().map(|(_, r)| r.shared_share()).sum();
            self.shared_share = shared / measured.len() as u64;
        }
        self.private.retain(|(p, _, _)| live.contains(p));
        let n_live = live.len() as u64;
        let n = self.private.len() as u64;
        if n == 0 {
            return (0, n_live);
        }
        let private: u64 = self.private.iter().map(|(_, b, _)| b).sum();
        let unmeasured = n_live.saturating_sub(n);
        (
            private + private / n * unmeasured + self.shared_share * n_live,
            n_live,
        )
    }
}

/// Mean speed of the running processes, kept as sums so updates are O(1).
#[derive(Debug, Default)]
pub struct SpeedGauge {
    sum_milli: AtomicI64,
    n: AtomicI64,
    below: AtomicI64,
}

impl SpeedGauge {
    /// Replace one process's contribution `old` by `new`.
    pub fn replace(&self, old: Option<f64>, new: Option<f64>) {
        let milli = |s: f64| (s * 1000.0).round() as i64;
        if let Some(o) = old {
            self.sum_milli.fetch_sub(milli(o), Ordering::Relaxed);
            self.n.fetch_sub(1, Ordering::Relaxed);
            if o < 0.9 {
                self.below.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if let Some(s) = new {
            self.sum_milli.fetch_add(milli(s), Ordering::Relaxed);
            self.n.fetch_add(1, Ordering::Relaxed);
            if s < 0.9 {
                self.below.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// (mean speed, processes below 0.9).
    pub fn read(&self) -> (f64, u64) {
        let n = self.n.load(Ordering::Relaxed);
        let mean = if n > 0 {
            self.sum_milli.load(Ordering::Relaxed) as f64 / 1000.0 / n as f64
        } else {
            0.0
        };
        (mean, self.below.load(Ordering::Relaxed).max(0) as u64)
    }
}

#[derive(Debug, Default)]
struct Counts {
    spawns: AtomicU64,
    spawn_failures: AtomicU64,
    clean: AtomicU64,
    error: AtomicU64,
    signal: AtomicU64,
    killed: AtomicU64,
    stall_restarts: AtomicU64,
    stderr_lines: AtomicU64,
    stderr_dropped: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct UsageCache {
    cpu: f64,
    rss: u64,
    pss: u64,
    rss_peak: u64,
    pss_peak: u64,
    n_at_pss_peak: u64,
    self_cpu: f64,
}

/// The FFmpeg engine of one run, shared by every viewer slot.
#[derive(Debug)]
pub struct FfmpegEngine {
    /// Probed capabilities of the binary.
    pub caps: Capabilities,
    /// The command plan (same for every viewer).
    pub plan: Plan,
    /// `-http_proxy` value.
    pub proxy_url: String,
    /// Stall threshold in effect.
    pub stall_threshold: Duration,
    /// Media FFmpeg tunes in behind the live edge.
    pub tune_in_latency: Duration,
    /// `-restart-on-stall`.
    pub restart_on_stall: bool,
    /// `-stats-buffer`.
    pub stderr_buffer: usize,
    /// Path classifier for approximate (stderr) request figures.
    pub classifier: Classifier,
    /// Seed for backoff jitter.
    pub seed: u64,
    /// Speed gauge.
    pub speed: SpeedGauge,
    proxy: Mutex<Option<Proxy>>,
    gauges: Arc<LiveGauges>,
    counters: Arc<PipelineCounters>,
    started: Instant,
    live: Mutex<Vec<u32>>,
    /// Latest memory figures of the running processes.
    pss: Mutex<PssBook>,
    counts: Counts,
    usage: Mutex<UsageCache>,
    last_error: Mutex<Option<String>>,
    breaker: Mutex<Breaker>,
    crash: Mutex<CrashLoopState>,
    halt: CancellationToken,
    abort: CancellationToken,
    stop_sampler: CancellationToken,
    tunnel_at_stop: AtomicU64,
}

/// What the engine needs from the run.
#[derive(Debug)]
pub struct EngineInputs<'a> {
    /// The run configuration.
    pub cfg: &'a Config,
    /// The stream URL.
    pub url: &'a Url,
    /// HTTP settings (timeout, `-resolve`) for the probe and the proxy's upstream side.
    pub settings: Arc<HttpSettings>,
    /// One sink per stats shard.
    pub sinks: Vec<EventSink>,
    /// Live gauges.
    pub gauges: Arc<LiveGauges>,
    /// Pipeline counters (stderr drops are added here).
    pub counters: Arc<PipelineCounters>,
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
        let engine = Arc::new(FfmpegEngine {
            proxy_url: proxy.url(),
            classifier: Classifier::new(choice.master.as_ref()),
            tune_in_latency: choice.tune_in_latency,
            caps,
            plan,
            stall_threshold,
            restart_on_stall: cfg.stalls.restart,
            stderr_buffer: cfg.engine.ffmpeg.stderr_buffer,
            seed: cfg.audience.seed,
            speed: SpeedGauge::default(),
            proxy: Mutex::new(Some(proxy)),
            gauges: inp.gauges,
            counters: inp.counters,
            started: Instant::now(),
            live: Mutex::new(Vec::new()),
            pss: Mutex::new(PssBook::default()),
            counts: Counts::default(),
            usage: Mutex::new(UsageCache::default()),
            last_error: Mutex::new(None),
            breaker: Mutex::new(Breaker::default()),
            crash: Mutex::new(CrashLoopState::default()),
            halt: CancellationToken::new(),
            abort: CancellationToken::new(),
            stop_sampler: CancellationToken::new(),
            tunnel_at_stop: AtomicU64::new(0),
        });
        tokio::spawn(sampler(
            Arc::downgrade(&engine),
            engine.stop_sampler.clone(),
        ));
        Ok(engine)
    }

    /// Viewer `id`'s argument list.
    pub fn args(&self, id: u64) -> Vec<String> {
        command::build_args(&self.plan, &self.caps, id, &self.proxy_url)
    }

    /// Cancelled when the crash-loop breaker trips: the ramp must start no more viewers.
    pub fn ramp_halt(&self) -> CancellationToken {
        self.halt.clone()
    }

    /// Cancelled when the run cannot measure anything (every FFmpeg crash-loops and none
    /// ever played): the run should end with exit code 1.
    pub fn abort(&self) -> CancellationToken {
        self.abort.clone()
    }

    /// The crash-loop message, if the breaker tripped.
    pub fn crash_message(&self) -> Option<String> {
        self.crash.lock().ok().and_then(|c| c.message.clone())
    }

    pub(crate) fn register(&self, pid: u32) {
        self.counts.spawns.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.live.lock() {
            l.push(pid);
        }
    }

    pub(crate) fn unregister(&self, pid: u32) {
        if let Ok(mut l) = self.live.lock() {
            l.retain(|p| *p != pid);
        }
        if let Ok(mut p) = self.pss.lock() {
            p.private.retain(|(q, _, _)| *q != pid);
        }
    }

    /// The processes whose PSS to measure in sample round `round` (1, 2, …): settled
    /// ones (running for [`PSS_SETTLE_SECS`]) never measured first, then the longest
    /// unmeasured; `n / PSS_CYCLE_SECS` of them per round on average. While none has a
    /// figure, the oldest process is measured even if not settled yet.
    fn pss_due(&self, live: &[u32], round: u64) -> Vec<u32> {
        let Ok(mut book) = self.pss.lock() else {
            return Vec::new();
        };
        let alive: std::collections::HashSet<u32> = live.iter().copied().collect();
        book.first_seen.retain(|p, _| alive.contains(p));
        for p in live {
            book.first_seen.entry(*p).or_insert(round);
        }
        let k = pss_quota(live.len(), round, book.private.is_empty());
        let last_measured: std::collections::HashMap<u32, u64> =
            book.private.iter().map(|(p, _, r)| (*p, *r + 1)).collect();
        let seen = |p: &u32| book.first_seen.get(p).copied().unwrap_or(round);
        let mut order: Vec<(u64, u32)> = live
            .iter()
            .filter(|p| round - seen(p) >= PSS_SETTLE_SECS)
            .map(|p| (last_measured.get(p).copied().unwrap_or(0), *p))
            .collect();
        if order.is_empty() && book.private.is_empty() {
            order.extend(live.iter().map(|p| (seen(p), *p)));
        }
        order.sort_unstable();
        order.into_iter().take(k).map(|(_, p)| p).collect()
    }

    /// Record measured figures; returns (PSS summed over `live`, processes counted).
    /// The sum is every process's private memory (the mean of the measured ones for
    /// processes not measured yet) plus, for each process, the shared share of the latest
    /// measurement (see [`PSS_CYCLE_SECS`]).
    fn pss_update(
        &self,
        live: &[u32],
        measured: &[(u32, procfs::Rollup)],
        round: u64,
    ) -> Option<(u64, u64)> {
        let mut book = self.pss.lock().ok()?;
        Some(book.update(live, measured, round)).filter(|_| !book.private.is_empty())
    }

    /// Pids of the FFmpeg processes running now.
    pub fn live_pids(&self) -> Vec<u32> {
        self.live.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub(crate) fn spawn_failed(&self, line: &str) {
        self.counts.spawn_failures.fetch_add(1, Ordering::Relaxed);
        self.note_error(line);
    }

    pub(crate) fn note_error(&self, line: &str) {
        if let Ok(mut e) = self.last_error.lock() {
            match e.as_mut() {
                Some(s) if s == line => {}
                Some(s) => {
                    s.clear();
                    s.push_str(line);
                }
                None => *e = Some(line.to_string()),
            }
        }
    }

    pub(crate) fn stderr_counted(&self, offered: u64, dropped: u64) {
        if offered == 0 {
            return;
        }
        self.counts
            .stderr_lines
            .fetch_add(offered, Ordering::Relaxed);
        self.counts
            .stderr_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        self.counters.add_external(offered, dropped);
    }

    pub(crate) fn played(&self) {
        if let Ok(mut b) = self.breaker.lock() {
            b.played();
        }
    }

    pub(crate) fn count_exit(&self, end: &ProcessEnd) {
        let c = &self.counts;
        let counter = match (end.killed, end.exit) {
            (Some(k), _) => {
                if k == KillReason::Stall {
                    c.stall_restarts.fetch_add(1, Ordering::Relaxed);
                }
                &c.killed
            }
            (None, None) => return,
            (None, Some(process::ExitKind::Clean)) => &c.clean,
            (None, Some(process::ExitKind::Error(_))) => &c.error,
            (None, Some(process::ExitKind::Signal(_))) => &c.signal,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if end.killed.is_none()
            && let Some(exit) = end.exit
        {
            tracing::debug!(%exit, uptime = ?end.uptime, last = ?end.ring.last(), "ffmpeg exited");
        }
    }

    pub(crate) fn slot_healthy(&self, streak: &mut SlotStreak) {
        if let Ok(mut b) = self.breaker.lock() {
            b.healthy(streak);
        }
    }

    /// A process of viewer `id` ended on its own: feed the crash-loop breaker.
    pub(crate) fn own_exit(&self, id: u64, streak: &mut SlotStreak, end: &ProcessEnd) {
        let trip = self
            .breaker
            .lock()
            .ok()
            .and_then(|mut b| b.on_exit(streak, end.uptime, self.gauges.ramped()));
        if let Some(t) = trip {
            self.trip(id, end, t);
        }
    }

    fn trip(&self, id: u64, end: &ProcessEnd, t: Trip) {
        let lines: Vec<&str> = end.ring.lines().collect();
        let how = match end.exit {
            Some(e) => format!("{e} after {:.2} s", end.uptime.as_secs_f64()),
            None => "could not be started".into(),
        };
        let mut msg = format!(
            "crash loop: {} of {} FFmpeg viewers died within {} s of starting, {} times in a row; the ramp is stopped{}.\n  last stderr of viewer {id} ({how}):\n",
            t.looping,
            t.ramped,
            crashloop::QUICK.as_secs(),
            crashloop::STREAK,
            if t.ever_played {
                ""
            } else {
                " and the run ends (no FFmpeg ever played)"
            },
        );
        if lines.is_empty() {
            msg.push_str("    | (nothing on stderr)\n");
        }
        for l in &lines {
            msg.push_str("    | ");
            msg.push_str(l);
            msg.push('\n');
        }
        msg.push_str("  hint: ");
        msg.push_str(crashloop::hint(&lines));
        crate::output::console::say!("hls-swarm: {msg}");
        tracing::debug!(viewer = id, "crash-loop breaker tripped");
        if let Ok(mut c) = self.crash.lock() {
            *c = CrashLoopState {
                tripped: true,
                tripped_at_seconds: Some(self.started.elapsed().as_secs_f64()),
                ramp_stopped_at: Some(self.gauges.ramped()),
                message: Some(msg),
            };
        }
        self.halt.cancel();
        if !t.ever_played {
            self.abort.cancel();
        }
    }

    /// Stop: wait up to `grace` for the viewers' processes to be gone (they were told to
    /// stop by the swarm's cancellation), SIGKILL what is left, let the proxy report what
    /// is in flight, then close it and take a last resource sample.
    pub async fn shutdown(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while !self.live_pids().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for pid in self.live_pids() {
            process::signal_group(pid, libc::SIGKILL);
        }
        let proxy = self.proxy.lock().ok().and_then(|mut p| p.take());
        if let Some(p) = proxy {
            p.quiesce(grace.max(Duration::from_millis(500))).await;
            self.tunnel_final(p.tunnel_bytes());
            p.shutdown().await;
        }
        self.stop_sampler.cancel();
        let pids = self.live_pids();
        let sampled = tokio::task::spawn_blocking(move || {
            procfs::sample(&mut procfs::StatFiles::default(), &pids, &[])
        });
        if let Ok(u) = sampled.await {
            self.store_usage(u, None);
        }
    }

    fn tunnel_final(&self, bytes: u64) {
        self.tunnel_at_stop.store(bytes, Ordering::Relaxed);
    }

    fn store_usage(&self, u: procfs::Usage, pss: Option<(u64, u64)>) {
        if let Ok(mut c) = self.usage.lock() {
            c.cpu = c.cpu.max(u.cpu_seconds);
            c.rss = u.rss_bytes;
            c.rss_peak = c.rss_peak.max(u.rss_bytes);
            c.pss = pss.map(|(b, _)| b).unwrap_or(0);
            if let Some((p, n)) = pss
                && p > c.pss_peak
            {
                c.pss_peak = p;
                c.n_at_pss_peak = n;
            }
            c.self_cpu = c.self_cpu.max(u.self_cpu_seconds);
        }
    }
}

impl FfmpegStatsSource for FfmpegEngine {
    fn ffmpeg_stats(&self) -> FfmpegStats {
        let c = &self.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let usage = self.usage.lock().map(|u| *u).unwrap_or_default();
        let (speed_mean, below) = self.speed.read();
        let tunnel = self
            .proxy
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(Proxy::tunnel_bytes))
            .unwrap_or_else(|| self.tunnel_at_stop.load(Ordering::Relaxed));
        FfmpegStats {
            binary: self.caps.binary.clone(),
            version: self.caps.version.clone(),
            stall_threshold: self.stall_threshold,
            processes: self.live.lock().map(|l| l.len() as u64).unwrap_or(0),
            spawns: n(&c.spawns),
            spawn_failures: n(&c.spawn_failures),
            exits: ExitCounts {
                clean: n(&c.clean),
                error: n(&c.error),
                signal: n(&c.signal),
                killed_by_swarm: n(&c.killed),
            },
            stall_restarts: n(&c.stall_restarts),
            cpu_seconds_total: usage.cpu,
            memory_rss_bytes: usage.rss,
            memory_pss_bytes: usage.pss,
            memory_rss_peak_bytes: usage.rss_peak,
            memory_pss_peak_bytes: usage.pss_peak,
            processes_at_pss_peak: usage.n_at_pss_peak,
            swarm_cpu_seconds: usage.self_cpu,
            speed_mean,
            below_realtime: below,
            stderr_lines: n(&c.stderr_lines),
            stderr_dropped: n(&c.stderr_dropped),
            requests_approximate: self.plan.https(),
            tunnel_bytes: tunnel,
            crash_loop: self.crash.lock().map(|c| c.clone()).unwrap_or_default(),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

impl Drop for FfmpegEngine {
    fn drop(&mut self) {
        // Last resort (an early return or panic in the run): no FFmpeg outlives the engine.
        for pid in self.live_pids() {
            process::signal_group(pid, libc::SIGKILL);
        }
        self.stop_sampler.cancel();
    }
}

/// Samples procfs once a second (CPU and RSS of every process, PSS of a few).
async fn sampler(engine: Weak<FfmpegEngine>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut i = 0u64;
    let mut files = procfs::StatFiles::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let Some(e) = engine.upgrade() else { return };
        let pids = e.live_pids();
        i += 1;
        let due = e.pss_due(&pids, i);
        drop(e);
        let live = pids.clone();
        let sampled = tokio::task::spawn_blocking(move || {
            let u = procfs::sample(&mut files, &pids, &due);
            (u, files)
        });
        let Ok((u, kept)) = sampled.await else {
            return;
        };
        files = kept;
        let Some(e) = engine.upgrade() else { return };
        let pss = e.pss_update(&live, &u.pss, i);
        e.store_usage(u, pss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_sum_uses_the_latest_shared_share_for_every_process() {
        const MB: u64 = 1 << 20;
        let r = |pss: u64, private: u64| procfs::Rollup {
            pss: pss * MB,
            private: private * MB,
        };
        let mut book = PssBook::default();
        // Early: two processes share the libraries, 10 MB share each.
        assert_eq!(
            book.update(&[1, 2], &[(1, r(14, 4)), (2, r(15, 5))], 1),
            (29 * MB, 2)
        );
        // Later 100 processes share them: one fresh measurement shows a 1 MB share.
        let live: Vec<u32> = (1..=100).collect();
        let (sum, n) = book.update(&live, &[(3, r(7, 6))], 2);
        assert_eq!(n, 100);
        // Private: 4 + 5 + 6 measured, 97 unmeasured at their mean 5; shared 1 × 100.
        assert_eq!(sum, (15 + 97 * 5 + 100) * MB);
        // Gone processes leave the sum.
        assert_eq!(book.update(&[3], &[], 3), (7 * MB, 1));
    }

    #[test]
    fn pss_quota_spreads_a_cycle_evenly() {
        let total = |n: usize| {
            (1..=PSS_CYCLE_SECS)
                .map(|r| pss_quota(n, r, false))
                .sum::<usize>()
        };
        // Every process once per cycle, plus the minimum rate's extra measurements.
        let extra = (PSS_CYCLE_SECS / PSS_MIN_EVERY_SECS) as usize;
        for n in [100, 200, 1500] {
            let t = total(n);
            assert!(
                (n..=n + extra).contains(&t),
                "{n} processes: {t} measurements"
            );
        }
        assert_eq!(
            total(3000),
            3000,
            "above one per round the minimum adds nothing"
        );
        let most = 200usize.div_ceil(PSS_CYCLE_SECS as usize);
        assert!(
            (1..=PSS_CYCLE_SECS).all(|r| pss_quota(200, r, false) <= most),
            "spread evenly"
        );
        assert_eq!(
            pss_quota(3, PSS_MIN_EVERY_SECS, false),
            1,
            "the shared share stays fresh"
        );
        assert_eq!(pss_quota(3, 1, false), 0);
        assert_eq!(pss_quota(3, 1, true), 1, "a first figure at once");
        assert_eq!(pss_quota(0, 1, true), 0);
    }
}

//! FFmpeg engine figures carried in the Snapshot: process lifecycle, resource use from
//! procfs, the crash-loop breaker and what is approximate. Read once per tick from the
//! engine through [`FfmpegStatsSource`], so the Collector tick stays the single place a
//! Snapshot is made.
//!
//! Prometheus names (wired by the metrics endpoint; see docs/ffmpeg-engine.md):
//! `hls_swarm_ffmpeg_cpu_seconds_total` ← [`FfmpegStats::cpu_seconds_total`],
//! `hls_swarm_ffmpeg_memory_bytes{kind="rss"|"pss"}` ← `memory_rss_bytes` / `memory_pss_bytes`,
//! `hls_swarm_ffmpeg_processes` ← `processes`, `hls_swarm_ffmpeg_spawns_total` ← `spawns`,
//! `hls_swarm_ffmpeg_exits_total{class}` ← `exits`, `hls_swarm_ffmpeg_crash_loop` ←
//! `crash_loop.tripped`.

use std::time::Duration;

use serde::Serialize;

/// FFmpeg process exits by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExitCounts {
    /// Exited with status 0 on its own (e.g. end of a VOD stream).
    pub clean: u64,
    /// Exited with a non-zero status on its own.
    pub error: u64,
    /// Killed by a signal the swarm did not send (OOM killer, crash).
    pub signal: u64,
    /// Stopped by the swarm (shutdown or stall restart): never a failure.
    pub killed_by_swarm: u64,
}

/// State of the crash-loop breaker.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CrashLoopState {
    /// The breaker tripped: most viewers kept dying within seconds of their start.
    pub tripped: bool,
    /// Run time at which it tripped.
    pub tripped_at_seconds: Option<f64>,
    /// Viewer slots the ramp had started when it stopped the ramp.
    pub ramp_stopped_at: Option<u64>,
    /// What the operator sees: the failing process's last stderr lines and a hint.
    pub message: Option<String>,
}

/// Everything the FFmpeg engine reports per tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FfmpegStats {
    /// The binary run.
    pub binary: String,
    /// Its version (first line of `ffmpeg -version`).
    pub version: String,
    /// `-stall-threshold` in effect (explicit, or 2 × target duration).
    #[serde(serialize_with = "secs")]
    pub stall_threshold: Duration,
    /// FFmpeg processes running now.
    pub processes: u64,
    /// Processes spawned so far (first starts and respawns).
    pub spawns: u64,
    /// Spawns that failed before the process ran (binary missing, fork failure).
    pub spawn_failures: u64,
    /// Exits by class.
    pub exits: ExitCounts,
    /// Processes the swarm replaced because they stalled (`-restart-on-stall`).
    pub stall_restarts: u64,
    /// CPU seconds (user + system) of every FFmpeg child so far, running and exited.
    pub cpu_seconds_total: f64,
    /// Resident memory of the running FFmpeg processes, summed.
    pub memory_rss_bytes: u64,
    /// Proportional set size of the running FFmpeg processes, summed (shared pages split).
    pub memory_pss_bytes: u64,
    /// Largest summed RSS seen in a sample.
    pub memory_rss_peak_bytes: u64,
    /// Largest summed PSS seen in a sample.
    pub memory_pss_peak_bytes: u64,
    /// Processes measured in the sample with the largest PSS (for per-process figures).
    pub processes_at_pss_peak: u64,
    /// CPU seconds (user + system) of the swarm process itself.
    pub swarm_cpu_seconds: f64,
    /// Mean playback speed of the running processes (output time / wall time over their
    /// last ~10 s); 1.0 is real time.
    pub speed_mean: f64,
    /// Running processes whose speed is below 0.9 (falling behind real time).
    pub below_realtime: u64,
    /// stderr lines read from FFmpeg.
    pub stderr_lines: u64,
    /// stderr lines dropped because a parser fell behind (also in the stats drop rate).
    pub stderr_dropped: u64,
    /// Request figures come from FFmpeg's stderr (https:// streams through a CONNECT
    /// tunnel): counts and errors are approximate, no timings and no body bytes.
    pub requests_approximate: bool,
    /// Bytes through CONNECT tunnels, both directions, TLS overhead included (approximate
    /// wire volume of https:// streams).
    pub tunnel_bytes: u64,
    /// The crash-loop breaker.
    pub crash_loop: CrashLoopState,
    /// The most recent warning or error line any FFmpeg printed.
    pub last_error: Option<String>,
}

impl FfmpegStats {
    /// The swarm's own CPU time as a share of the children's (`None` before they used any).
    pub fn swarm_cpu_share(&self) -> Option<f64> {
        (self.cpu_seconds_total > 0.0).then(|| self.swarm_cpu_seconds / self.cpu_seconds_total)
    }

    /// `bytes` (a peak figure) per process measured at the PSS peak (`None` before a
    /// sample measured any).
    pub fn per_process_at_peak(&self, bytes: u64) -> Option<f64> {
        (self.processes_at_pss_peak > 0).then(|| bytes as f64 / self.processes_at_pss_peak as f64)
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Something that can report [`FfmpegStats`] at tick time (the FFmpeg engine).
pub trait FfmpegStatsSource: Send + Sync + std::fmt::Debug {
    /// The figures as of now.
    fn ffmpeg_stats(&self) -> FfmpegStats;
}

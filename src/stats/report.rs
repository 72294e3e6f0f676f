//! The end-of-run report: what a finished run hands to the sinks that write it (summary,
//! JSON, HTML). The run publishes it; the figures the sinks lay out are computed once
//! from it, by `stats::sections::Sections::of`.

use std::time::{Duration, SystemTime};

use super::series::Series;
use super::snapshot::Snapshot;
use crate::signals::StopSignal;

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
    /// Not stopped: an interim report, asked for by SIGUSR1 while the run went on.
    Running,
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
            StopReason::Running => "running",
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
            StopReason::Running => "nothing yet: still running (interim report)",
        }
    }
}

/// What a finished run hands to the outputs.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Which test, which shard of it, and the agreed start instant.
    pub run: crate::config::RunIdentity,
    /// With `--start-at`: how late this process reached the instant (zero: it was early
    /// and waited); its late viewers caught up. `None` without `--start-at`.
    pub start_late: Option<Duration>,
    /// The final snapshot.
    pub snapshot: Snapshot,
    /// The stream played, safe to print (no credentials, no query).
    pub stream_url: String,
    /// Engine name.
    pub engine: &'static str,
    /// Wall-clock start: time zero of the ramp and of `-duration` (the `--start-at`
    /// instant when given).
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
    /// The run over time, one sample per tick (bounded; see [`super::series`]).
    pub series: Series,
    /// The load host (read once at the start, after the open-files limit was raised).
    pub host: crate::host::HostFacts,
}

impl RunReport {
    /// What ended the run, with its detail: `signal (SIGTERM)`.
    pub fn ended_by(&self) -> String {
        match &self.stop_detail {
            Some(d) => format!("{} ({d})", self.stop_reason.describe()),
            None => self.stop_reason.describe().to_string(),
        }
    }
}

/// What a run plays, known once it has started (for headers of live sinks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The stream played, safe to print (no credentials, no query).
    pub stream_url: String,
    /// Engine name.
    pub engine: &'static str,
}

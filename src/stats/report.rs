//! The end-of-run report: what a finished run hands to the sinks that write it (summary,
//! JSON, HTML). The run publishes it; the figures the sinks lay out are computed once
//! from it, by `stats::sections::Sections::of`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::accumulator::Accumulator;
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
    /// Not one run: the merge of a test's shards (`hls-swarm merge`); each shard's own
    /// ending is in the detail.
    Merged,
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
            StopReason::Merged => "merged",
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
            StopReason::Merged => "each shard's own ending",
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
    /// `Some` for the merge of a test's shards (`hls-swarm merge`): which shards it holds.
    /// `run.shard` then means nothing.
    pub merged: Option<MergedShards>,
    /// The final snapshot.
    pub snapshot: Snapshot,
    /// The run's cumulative counts and histograms, exactly (the snapshot's figures are
    /// computed from them): the JSON report's `merge` section.
    pub accumulator: Arc<Accumulator>,
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
    /// `--viewer-bandwidth`: the model and the rates the viewers got (every shard's, in a
    /// merged report); `None` without it. See [`RunReport::bandwidth_summary`].
    pub bandwidth: Option<super::link_rates::RatesState>,
    /// Arrival mode's sessions (`--arrival-rate`; every shard's, in a merged report);
    /// `None` for a fixed crowd. See [`RunReport::sessions_summary`].
    pub sessions: Option<super::sessions::SessionsState>,
    /// The streams played, in the run's order, with their configured shares (one for a
    /// single-stream run); their figures are in `accumulator.streams`.
    pub streams: Vec<super::streams::StreamInfo>,
}

impl RunReport {
    /// The link rates' figures for the reports (`bandwidth`).
    pub fn bandwidth_summary(&self) -> Option<super::link_rates::RatesSummary> {
        self.bandwidth.as_ref().map(|b| b.summary())
    }

    /// The sessions' figures for the reports (`sessions`): the realised arrival rate is
    /// over the run time (`duration_seconds`).
    pub fn sessions_summary(&self) -> Option<super::sessions::SessionsSummary> {
        self.sessions
            .as_ref()
            .map(|s| s.summary(self.snapshot.elapsed))
    }

    /// What ended the run, with its detail: `signal (SIGTERM)`.
    pub fn ended_by(&self) -> String {
        match &self.stop_detail {
            Some(d) => format!("{} ({d})", self.stop_reason.describe()),
            None => self.stop_reason.describe().to_string(),
        }
    }
}

/// The shards a merged report holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedShards {
    /// Shard indices merged, ascending, each once.
    pub indices: Vec<u64>,
    /// Shards of the test.
    pub count: u64,
}

impl MergedShards {
    /// Whether every shard of the test is in.
    pub fn complete(&self) -> bool {
        self.indices.len() as u64 == self.count
    }

    /// The test's shards that are not in, ascending.
    pub fn missing(&self) -> Vec<u64> {
        (0..self.count)
            .filter(|i| self.indices.binary_search(i).is_err())
            .collect()
    }

    /// For people: `shards 0, 1, 2 of 3` or `2 of 3 shards (0, 2; shard 1 MISSING)`.
    pub fn describe(&self) -> String {
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        if self.complete() {
            format!("all {} shards ({})", self.count, list(&self.indices))
        } else {
            let missing = self.missing();
            format!(
                "{} of {} shards ({}; MISSING {} {})",
                self.indices.len(),
                self.count,
                list(&self.indices),
                if missing.len() == 1 {
                    "shard"
                } else {
                    "shards"
                },
                list(&missing)
            )
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

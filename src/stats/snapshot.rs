//! The Snapshot: everything every sink shows, computed once per tick (DESIGN.md principle 3).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::distribution::Distributions;
use super::event::{ErrorClass, RequestKind};
pub use super::percentiles::Percentiles;
use super::totals::Totals;
use super::viewers::ViewerFigures;

/// Totals for one request kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct KindSummary {
    /// Requests finished (successful, failed or aborted).
    pub count: u64,
    /// Requests failed.
    pub errors: u64,
    /// Requests still in flight when the run stopped, cut off after the stop's grace.
    pub aborted: u64,
    /// Retries among them.
    pub retries: u64,
    /// Body bytes.
    pub bytes: u64,
    /// Time to first byte.
    pub ttfb: Percentiles,
    /// Whole download time of successful requests.
    pub download: Percentiles,
    /// LL-HLS blocking reloads and hinted parts: wait before the content was due.
    pub hold: Percentiles,
    /// The same requests: wait past the moment the content was due.
    pub lateness: Percentiles,
}

impl KindSummary {
    /// The summary of one kind's cumulative totals.
    pub fn of(k: &super::accumulator::KindStats) -> Self {
        KindSummary {
            count: k.count,
            errors: k.errors,
            aborted: k.aborted,
            retries: k.retries,
            bytes: k.bytes,
            ttfb: Percentiles::of(&k.ttfb),
            download: Percentiles::of(&k.total),
            hold: Percentiles::of(&k.hold),
            lateness: Percentiles::of(&k.lateness),
        }
    }
}

/// Rates over a trailing window.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct WindowRates {
    /// Window length in seconds (what was actually available, at most the nominal window).
    pub seconds: f64,
    /// Requests per second by kind (indexed like `RequestKind::ALL`).
    pub requests_per_second: [f64; RequestKind::COUNT],
    /// Body bytes per second, all kinds.
    pub bytes_per_second: f64,
    /// Segment (and part) body bytes per second.
    pub segment_bytes_per_second: f64,
    /// Failed requests per second.
    pub errors_per_second: f64,
    /// Failed / finished requests in the window (0 when idle).
    pub error_rate: f64,
}

/// The nominal trailing windows, in seconds.
pub const WINDOWS: [u64; 4] = [1, 30, 60, 300];

/// One tick's view of the whole run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Configured run length (`None` = until stopped).
    pub duration: Option<Duration>,
    /// Target viewer count.
    pub target: u64,
    /// Viewer slots the ramp has started.
    pub ramped: u64,
    /// Viewers active now: playing (states in `stats::viewer_state`).
    pub active: u64,
    /// Viewers stalled now: out of buffer after playing, or past the startup timeout
    /// without first media.
    pub stalled: u64,
    /// Viewers tuned in and waiting for first media (within the startup timeout).
    pub starting: u64,
    /// Viewers whose run failed, waiting to restart.
    pub failed: u64,
    /// Most viewers active at once, at tick resolution.
    pub peak_active: u64,
    /// Most viewers stalled at once, at tick resolution.
    pub peak_stalled: u64,
    /// The run is shutting down.
    pub stopping: bool,
    /// Per request kind, indexed like `RequestKind::ALL`.
    pub kinds: [KindSummary; RequestKind::COUNT],
    /// Startup time.
    pub startup: Percentiles,
    /// Live latency (distance behind the live edge).
    pub live_latency: Percentiles,
    /// Finished stall lengths.
    pub stall_durations: Percentiles,
    /// Rates over 1 s, 30 s, 60 s, 300 s.
    pub windows: [WindowRates; 4],
    /// Segment TTFB over the last 30 s.
    pub recent_segment_ttfb: Percentiles,
    /// Segment download time over the last 30 s.
    pub recent_segment_download: Percentiles,
    /// Events offered to the stats pipeline.
    pub events_offered: u64,
    /// Events the pipeline dropped.
    pub events_dropped: u64,
    /// Whole-run counts.
    pub totals: Totals,
    /// Whole-run distributions, for sinks that lay them out in buckets of their own.
    pub distributions: Arc<Distributions>,
    /// Per-viewer figures (`-prom-client-metrics`, capped); empty when off.
    pub viewers: Arc<[ViewerFigures]>,
    /// Origin host figures (node_exporter / nginx exporter); `None` when not configured.
    pub origin: Option<super::origin::OriginStats>,
    /// TTFB of the requests finished during the last tick, per kind (time series).
    pub tick_ttfb: [Percentiles; RequestKind::COUNT],
    /// FFmpeg engine figures (`None` with the native engine).
    pub ffmpeg: Option<super::ffmpeg::FfmpegStats>,
    /// How late the viewer runtimes woke (`None` when not measured).
    pub client_lag: Option<super::lag::ClientLag>,
    /// Tokio tasks alive at this tick, summed over the runtimes the collector was given
    /// (the viewer runtimes and the main one); `None` when it was given none.
    pub runtime_tasks: Option<u64>,
    /// Heap bytes the process holds at this tick (src/heap.rs); `None` when the process
    /// does not allocate through the metered allocator.
    pub heap_live_bytes: Option<u64>,
    /// `--request-log`'s lines written, dropped and failed so far; `None` without it.
    pub request_log: Option<super::request_log::RequestLogCounts>,
    /// Arrival mode's sessions (`--arrival-rate`; at the final tick the sessions still
    /// open are censored); `None` for a fixed crowd.
    pub sessions: Option<super::sessions::SessionCounts>,
    /// `--viewer-bandwidth`: the link rates drawn so far, as `/metrics` buckets; `None`
    /// without it.
    pub link_rates: Option<super::link_rates::LinkRateBuckets>,
    /// A many-stream run's figures per `/metrics` stream group (top-K streams, then
    /// `other`; see [`crate::config::StreamConfig::metrics_groups`]); empty with one
    /// stream.
    pub stream_groups: Arc<[super::streams::GroupCounts]>,
}

impl Snapshot {
    /// Summary of one kind.
    pub fn kind(&self, kind: RequestKind) -> &KindSummary {
        &self.kinds[kind.index()]
    }

    /// Rates of the window at `WINDOWS[i]`.
    pub fn window(&self, seconds: u64) -> &WindowRates {
        let i = WINDOWS.iter().position(|w| *w == seconds).unwrap_or(0);
        &self.windows[i]
    }

    /// Whether `viewers` playing at once reach the target (the one judgement of "target
    /// reached": the reports ask it of the peak, live views of the viewers playing now).
    pub fn reaches_target(&self, viewers: u64) -> bool {
        viewers >= self.target
    }

    /// Whether the target was reached at some tick of the run.
    pub fn target_reached(&self) -> bool {
        self.reaches_target(self.peak_active)
    }

    /// Requests finished, all kinds.
    pub fn total_requests(&self) -> u64 {
        self.totals.requests
    }

    /// Failed requests, all kinds.
    pub fn total_errors(&self) -> u64 {
        self.totals.errors
    }

    /// Requests cut off in flight at the stop, all kinds.
    pub fn total_aborted(&self) -> u64 {
        self.totals.aborted
    }

    /// Failed / finished over the whole run.
    pub fn error_rate(&self) -> f64 {
        ratio(self.total_errors(), self.total_requests())
    }

    /// Failed requests by class.
    pub fn errors_by_class(&self) -> BTreeMap<&'static str, u64> {
        ErrorClass::ALL
            .iter()
            .map(|c| (c.as_str(), self.totals.errors_of(*c)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Viewer runs still without first media at the startup timeout.
    pub fn startup_timeouts(&self) -> u64 {
        self.totals.startup_timeouts
    }

    /// Stalls begun.
    pub fn stalls(&self) -> u64 {
        self.totals.stalls_started
    }

    /// Stall seconds of finished stalls.
    pub fn stall_seconds(&self) -> f64 {
        self.totals.stall_seconds
    }

    /// Stall time / (played + stall time).
    pub fn rebuffer_ratio(&self) -> f64 {
        let stall = self.totals.stall_seconds;
        let played = self.totals.played_seconds;
        if stall + played > 0.0 {
            stall / (stall + played)
        } else {
            0.0
        }
    }

    /// Share of events the pipeline dropped, over the whole run.
    pub fn drop_rate(&self) -> f64 {
        ratio(self.events_dropped, self.events_offered)
    }

    /// Mean body bytes per second over the whole run.
    pub fn mean_bytes_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.totals.bytes as f64 / s
        } else {
            0.0
        }
    }
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

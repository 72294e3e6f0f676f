//! The `--output FILE.json` report. Schema documented in docs/json-report.md; every key
//! is derived from the final Snapshot, but `host`, read once at the start ([`crate::host`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::slo::SloResult;
use crate::stats::event::RequestKind;
use crate::stats::snapshot::Percentiles;
use crate::swarm::RunReport;

/// Schema version of the JSON report.
pub const SCHEMA_VERSION: u32 = 1;

/// p50/p90/p95/p99/max/mean of a distribution, in seconds (serialised as is).
pub type Dist = Percentiles;

/// Viewer counts.
#[derive(Debug, Serialize)]
pub struct Viewers {
    /// `-clients`.
    pub target: u64,
    /// Most active (playing) at once (tick resolution).
    pub peak_active: u64,
    /// Active (playing) when the stop began.
    pub active_at_end: u64,
    /// Still waiting for first media (within the startup timeout) when the stop began.
    pub starting_at_end: u64,
    /// Waiting to restart after a failed run when the stop began.
    pub failed_at_end: u64,
    /// Viewer runs still without first media at the startup timeout (they counted as
    /// stalled from then on).
    pub startup_timeouts: u64,
    /// Viewer slots the ramp started.
    pub started: u64,
    /// Viewers replaced (VOD end) or respawned (failure).
    pub restarts: u64,
    /// Viewer runs that ended in failure.
    pub failures: u64,
    /// Reconnections after connection errors.
    pub reconnects: u64,
}

/// One request kind.
#[derive(Debug, Serialize)]
pub struct Requests {
    /// Finished requests.
    pub count: u64,
    /// Failed among them.
    pub errors: u64,
    /// Still in flight when the run stopped (cut off after the stop's grace); neither
    /// successes nor errors, their bytes so far are in `bytes`.
    pub aborted: u64,
    /// Retries among them.
    pub retries: u64,
    /// Body bytes.
    pub bytes: u64,
    /// Time to first byte.
    pub ttfb_seconds: Dist,
    /// Whole download time (successful requests).
    pub download_seconds: Dist,
}

/// Errors.
#[derive(Debug, Serialize)]
pub struct Errors {
    /// Failed requests.
    pub total: u64,
    /// Failed / finished.
    pub rate: f64,
    /// By class.
    pub by_class: BTreeMap<&'static str, u64>,
    /// By HTTP status.
    pub by_status: BTreeMap<String, u64>,
}

/// Player-side figures.
#[derive(Debug, Serialize)]
pub struct Playback {
    /// Stalls begun.
    pub stalls: u64,
    /// Total stall time (stalls still open at the end count up to the end).
    pub stall_seconds: f64,
    /// Viewers stalled when the stop began (out of buffer, or never started).
    pub stalled_at_end: u64,
    /// Most viewers stalled at once (the rebuffering and the never started).
    pub peak_stalled: u64,
    /// Stall time / (played + stall time).
    pub rebuffer_ratio: f64,
    /// Media seconds played, all viewers.
    pub played_seconds: f64,
    /// Tune-in to first frame.
    pub startup_seconds: Dist,
    /// Distance behind the live edge.
    pub live_latency_seconds: Dist,
    /// Stall lengths.
    pub stall_duration_seconds: Dist,
    /// Segments that left the window before they were loaded.
    pub segments_expired: u64,
    /// Segments given up after retries.
    pub segments_skipped: u64,
    /// Media-sequence jumps (backwards, or implausibly far forward) handled as a stream
    /// reset: the track re-tuned at the live point.
    pub stream_resets: u64,
    /// Media playlist loads whose absurd timing (target duration, segment durations) was
    /// clamped to sane values.
    pub timing_clamped: u64,
}

/// Throughput.
#[derive(Debug, Serialize)]
pub struct Throughput {
    /// Bytes over the whole run / run time.
    pub mean: f64,
    /// Over the last 30 s of the run.
    pub last_30s: f64,
}

/// Stats pipeline health.
#[derive(Debug, Serialize)]
pub struct Pipeline {
    /// Events offered.
    pub events: u64,
    /// Events dropped.
    pub dropped: u64,
    /// dropped / events.
    pub drop_rate: f64,
}

/// The client's own health (native engine).
#[derive(Debug, Serialize)]
pub struct Client {
    /// How late the viewer runtimes woke from their timers: the queueing delay every
    /// measured latency includes (docs/json-report.md).
    pub wakeup_lag_seconds: Dist,
    /// p99 wake-up lag above 20 ms: latency figures include client-side delay.
    pub saturated: bool,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Schema version.
    pub schema: u32,
    /// hls-swarm version.
    pub version: &'static str,
    /// Engine used.
    pub engine: &'static str,
    /// Stream (no credentials, no query).
    pub stream_url: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Run time.
    pub duration_seconds: f64,
    /// What ended the run: duration, signal, requested, crash_loop or slo_abort; `running`
    /// in an interim report (SIGUSR1), written while the run went on.
    pub stop_reason: &'static str,
    /// The detail of the ending (the signal's name, the failed SLO, the crash-loop
    /// message); `null` when there is none.
    pub stop_detail: Option<String>,
    /// Viewers.
    pub viewers: Viewers,
    /// Per request kind.
    pub requests: BTreeMap<&'static str, Requests>,
    /// Errors.
    pub errors: Errors,
    /// Playback.
    pub playback: Playback,
    /// Total body bytes.
    pub total_bytes: u64,
    /// Throughput.
    pub throughput_bytes_per_second: Throughput,
    /// Redirects followed.
    pub redirects: u64,
    /// Stats pipeline.
    pub stats_pipeline: Pipeline,
    /// SLO verdict.
    pub slo: SloResult,
    /// Origin host figures (docs/origin-metrics.md); `null` when not configured.
    pub origin: Option<crate::origin_metrics::OriginStats>,
    /// Request figures are approximate (FFmpeg engine, https:// stream: counted from
    /// FFmpeg's log, no timings or bytes).
    pub requests_approximate: bool,
    /// FFmpeg engine figures (absent with the native engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ffmpeg: Option<crate::stats::ffmpeg::FfmpegStats>,
    /// The client's own health (absent with the FFmpeg engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
    /// The load host the run ran on.
    pub host: crate::host::HostFacts,
}

impl Report {
    /// Build the report from a finished run.
    pub fn new(r: &RunReport, slo: &SloResult) -> Self {
        let s = &r.snapshot;
        let t = &s.totals;
        let requests = RequestKind::ALL
            .iter()
            .map(|k| {
                let ks = s.kind(*k);
                (
                    k.as_str(),
                    Requests {
                        count: ks.count,
                        errors: ks.errors,
                        aborted: ks.aborted,
                        retries: ks.retries,
                        bytes: ks.bytes,
                        ttfb_seconds: ks.ttfb,
                        download_seconds: ks.download,
                    },
                )
            })
            .collect();
        Report {
            schema: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            engine: r.engine,
            stream_url: r.stream_url.clone(),
            started_at: humantime::format_rfc3339_millis(r.started_at).to_string(),
            duration_seconds: s.elapsed.as_secs_f64(),
            stop_reason: r.stop_reason.as_str(),
            stop_detail: r.stop_detail.clone(),
            viewers: Viewers {
                target: s.target,
                peak_active: s.peak_active,
                active_at_end: r.active_at_end,
                starting_at_end: s.starting,
                failed_at_end: s.failed,
                startup_timeouts: s.startup_timeouts(),
                started: t.viewers_started,
                restarts: t.restarts,
                failures: t.exits_failure,
                reconnects: t.reconnects,
            },
            requests,
            errors: Errors {
                total: s.total_errors(),
                rate: s.error_rate(),
                by_class: s.errors_by_class(),
                by_status: t
                    .by_status
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
            },
            playback: Playback {
                stalls: s.stalls(),
                stall_seconds: s.stall_seconds(),
                stalled_at_end: r.stalled_at_end,
                peak_stalled: s.peak_stalled,
                rebuffer_ratio: s.rebuffer_ratio(),
                played_seconds: t.played.as_secs_f64(),
                startup_seconds: s.startup,
                live_latency_seconds: s.live_latency,
                stall_duration_seconds: s.stall_durations,
                segments_expired: t.segments_expired,
                segments_skipped: t.segments_skipped,
                stream_resets: t.stream_resets,
                timing_clamped: t.timing_clamped,
            },
            total_bytes: t.total_bytes(),
            throughput_bytes_per_second: Throughput {
                mean: s.mean_bytes_per_second(),
                last_30s: s.window(30).bytes_per_second,
            },
            redirects: t.redirects,
            stats_pipeline: Pipeline {
                events: s.events_offered,
                dropped: s.events_dropped,
                drop_rate: s.drop_rate(),
            },
            slo: slo.clone(),
            origin: s.origin.clone(),
            requests_approximate: s.ffmpeg.as_ref().is_some_and(|f| f.requests_approximate),
            ffmpeg: s.ffmpeg.clone(),
            client: s.client_lag.as_ref().map(|l| Client {
                wakeup_lag_seconds: l.run,
                saturated: l.saturated(),
            }),
            host: r.host.clone(),
        }
    }
}

/// Write the report to `path` (see [`super::file`]: created or replaced atomically,
/// written through to a device or FIFO, never replacing what it did not create).
pub fn write(path: &Path, report: &Report) -> Result<()> {
    super::file::write("--output", path, &to_bytes(report)?)
}

/// The report as the file holds it: pretty-printed JSON and a final newline.
pub fn to_bytes(report: &Report) -> Result<Vec<u8>> {
    let text = serde_json::to_string_pretty(report).context("serialising the JSON report")?;
    Ok((text + "\n").into_bytes())
}

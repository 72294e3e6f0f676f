//! The `--output FILE.json` report. Schema documented in docs/json-report.md: the run's
//! header, the report sections computed by Stats ([`crate::stats::sections`]) serialised
//! as they are, the SLO verdict, and `host`, read once at the start ([`crate::host`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::slo::SloResult;
use crate::stats::accumulator::Accumulator;
use crate::stats::report::RunReport;
use crate::stats::request_log::RequestLogCounts;
use crate::stats::sections::{
    Client, Errors, Pipeline, Playback, Protocols, Requests, Sections, Throughput, Viewers,
};
use crate::stats::streams::StreamSection;

/// Schema version of the JSON report (2: `run`, the test and shard the report is of; 3:
/// `merge`, what an exact merge of shards needs, and `run.merged`; 4: `request_log`;
/// 5: `protocols`, requests and connections by HTTP version; 6: `streams`, per-stream
/// figures, and the LL-HLS request kinds `blocking` and `hint`, their `hold_seconds` and
/// `lateness_seconds`, and `playback.ll_fallbacks`; 7: `merge.sessions` and
/// `merge.bandwidth`, so arrival-mode sessions and link rates merge too).
pub const SCHEMA_VERSION: u32 = 7;

/// The oldest schema `hls-swarm merge` reads (the first with the `merge` section).
pub const MERGEABLE_SCHEMA: u32 = 3;

/// Which test the report is of, and which shard of it (docs/json-report.md, `run`).
#[derive(Debug, Serialize)]
pub struct Run {
    /// The run id, shared by every shard of the test.
    pub id: String,
    /// This shard of the test; `null` in a merged report (see `merged`).
    pub shard: Option<ShardRef>,
    /// In a merged report (`hls-swarm merge`), the shards it holds; `null` otherwise.
    pub merged: Option<MergedRef>,
    /// `--start-at`, RFC 3339; `null` when the run began as soon as the stream answered.
    pub start_at: Option<String>,
    /// With `--start-at`: how many seconds late this process reached the instant (0: it
    /// waited); `null` without `--start-at`.
    pub start_late_seconds: Option<f64>,
}

/// A shard: `index` of `count`, 0-based.
#[derive(Debug, Serialize)]
pub struct ShardRef {
    /// 0-based index.
    pub index: u64,
    /// Shards of the test (1: the whole test ran here).
    pub count: u64,
}

/// The shards a merged report holds.
#[derive(Debug, Serialize)]
pub struct MergedRef {
    /// Shards of the test.
    pub count: u64,
    /// The indices merged, ascending.
    pub indices: Vec<u64>,
}

/// What an exact merge of shards' reports needs (docs/json-report.md, `merge`).
#[derive(Debug, Serialize)]
pub struct Merge {
    /// The run's cumulative counts and HDR histograms, exactly.
    pub accumulator: Arc<Accumulator>,
    /// `-startup-timeout` of the run, seconds.
    pub startup_timeout_seconds: f64,
    /// The viewer runtimes' wake-up lag (`client.wakeup_lag_seconds`) as an HDR
    /// histogram ([`crate::stats::histogram_codec`]); `null` when not measured.
    pub client_wakeup_lag: Option<String>,
    /// Arrival mode's sessions, mergeable: counts and length histograms (schema 7);
    /// `null` for a fixed crowd.
    pub sessions: Option<crate::stats::sessions::SessionsState>,
    /// `--viewer-bandwidth`'s link rates, mergeable: histogram, extremes, sum and `ln`
    /// moments (schema 7); `null` without it.
    pub bandwidth: Option<crate::stats::link_rates::RatesState>,
}

impl Run {
    fn of(r: &RunReport) -> Run {
        Run {
            id: r.run.id.clone(),
            shard: r.merged.is_none().then(|| ShardRef {
                index: r.run.shard.index(),
                count: r.run.shard.count(),
            }),
            merged: r.merged.as_ref().map(|m| MergedRef {
                count: m.count,
                indices: m.indices.clone(),
            }),
            start_at: r
                .run
                .start_at
                .map(|t| humantime::format_rfc3339_millis(t).to_string()),
            start_late_seconds: r.start_late.map(|d| d.as_secs_f64()),
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Schema version.
    pub schema: u32,
    /// hls-swarm version.
    pub version: &'static str,
    /// The test and the shard of it this report is of.
    pub run: Run,
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
    /// Every stream, in the run's order (one for a single-stream run), with its own
    /// per-kind `requests`.
    pub streams: Vec<StreamSection>,
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
    /// Requests and connections by HTTP version.
    pub protocols: Protocols,
    /// Stats pipeline.
    pub stats_pipeline: Pipeline,
    /// `--request-log`'s lines; `null` without it.
    pub request_log: Option<RequestLogLines>,
    /// SLO verdict.
    pub slo: SloResult,
    /// Origin host figures (docs/origin-metrics.md); `null` when not configured.
    pub origin: Option<crate::stats::origin::OriginStats>,
    /// Request figures are approximate (FFmpeg engine, https:// stream: counted from
    /// FFmpeg's log, no timings or bytes).
    pub requests_approximate: bool,
    /// FFmpeg engine figures (absent with the native engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ffmpeg: Option<crate::stats::ffmpeg::FfmpegStats>,
    /// The client's own health (absent with the FFmpeg engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
    /// The load host the run ran on (every field `null` in a merged report).
    pub host: crate::host::HostFacts,
    /// `--viewer-bandwidth`: the model and the realised distribution of the viewers' link
    /// rates; `null` without it (in a merged report: every shard's rates).
    pub bandwidth: Option<crate::stats::link_rates::RatesSummary>,
    /// `--arrival-rate`: sessions started, ended, censored and refused, the realised
    /// arrival rate and session lengths against the asked ones; `null` for a fixed crowd
    /// (in a merged report: every shard's sessions).
    pub sessions: Option<crate::stats::sessions::SessionsSummary>,
    /// What an exact merge of this report with its test's other shards needs.
    pub merge: Merge,
}

/// `request_log`: what became of `--request-log`'s request lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLogLines {
    /// Lines written to the file.
    pub lines_written: u64,
    /// Lines dropped: the queue to the writer was full (or the run had ended).
    pub lines_dropped: u64,
    /// Lines lost to a write error or to a writer still blocked when the run ended.
    pub lines_failed: u64,
}

impl RequestLogLines {
    /// The report's figures of `c`.
    pub fn of(c: RequestLogCounts) -> Self {
        RequestLogLines {
            lines_written: c.written,
            lines_dropped: c.dropped,
            lines_failed: c.failed,
        }
    }

    /// The counts these figures are of.
    pub fn counts(self) -> RequestLogCounts {
        RequestLogCounts {
            written: self.lines_written,
            dropped: self.lines_dropped,
            failed: self.lines_failed,
        }
    }
}

impl Report {
    /// Build the report from a finished run.
    pub fn new(r: &RunReport, slo: &SloResult) -> Self {
        let s = &r.snapshot;
        let sections = Sections::of(r);
        Report {
            schema: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            run: Run::of(r),
            engine: r.engine,
            stream_url: r.stream_url.clone(),
            started_at: humantime::format_rfc3339_millis(r.started_at).to_string(),
            duration_seconds: sections.run_seconds,
            stop_reason: r.stop_reason.as_str(),
            stop_detail: r.stop_detail.clone(),
            viewers: sections.viewers,
            requests: sections
                .requests
                .into_iter()
                .map(|(k, figures)| (k.as_str(), figures))
                .collect(),
            errors: sections.errors,
            streams: sections.streams,
            playback: sections.playback,
            total_bytes: sections.total_bytes,
            throughput_bytes_per_second: sections.throughput,
            redirects: sections.redirects,
            protocols: sections.protocols,
            stats_pipeline: sections.pipeline,
            request_log: s.request_log.map(RequestLogLines::of),
            slo: slo.clone(),
            origin: s.origin.clone(),
            requests_approximate: sections.requests_approximate,
            ffmpeg: s.ffmpeg.clone(),
            client: sections.client,
            host: r.host.clone(),
            bandwidth: r.bandwidth_summary(),
            sessions: r.sessions_summary(),
            merge: Merge {
                accumulator: r.accumulator.clone(),
                startup_timeout_seconds: r.startup_timeout.as_secs_f64(),
                client_wakeup_lag: s
                    .client_lag
                    .as_ref()
                    .and_then(|l| l.histogram.as_deref())
                    .map(crate::stats::histogram_codec::encode),
                sessions: r.sessions.clone(),
                bandwidth: r.bandwidth.clone(),
            },
        }
    }
}

/// Write the report to `path` (see [`crate::file`]: created or replaced atomically,
/// written through to a device or FIFO, never replacing what it did not create).
pub fn write(path: &Path, report: &Report) -> Result<()> {
    crate::file::write("--output", path, &to_bytes(report)?)
}

/// The report as `--output -` prints it: compact JSON on one line, with its newline. One
/// line cannot be torn apart by log lines a container runtime interleaves from stderr.
pub fn to_line(report: &Report) -> Result<String> {
    let text = serde_json::to_string(report).context("serialising the JSON report")?;
    Ok(text + "\n")
}

/// The report as the file holds it: pretty-printed JSON and a final newline.
pub fn to_bytes(report: &Report) -> Result<Vec<u8>> {
    let text = serde_json::to_string_pretty(report).context("serialising the JSON report")?;
    Ok((text + "\n").into_bytes())
}

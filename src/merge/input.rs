//! Finding the reports in what `hls-swarm merge` reads: a file or stdin may hold one
//! report or several one after another (`kubectl logs` of every pod, `cat *.json`), with
//! other text around them. Each report begins with a line starting with `{` (the JSON
//! report is an object); everything between reports (log lines, the summary) is skipped.
//! A JSON object without `schema` and `run` (a JSON log line) is not a report and is
//! skipped too. Pure: text in, reports out.

use serde::Deserialize;
use serde_json::Value;

use crate::stats::accumulator::Accumulator;

/// The parts of a JSON report (docs/json-report.md) a merge reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ShardReport {
    /// Schema version.
    pub schema: u32,
    /// The test and shard.
    pub run: RunPart,
    /// `native` or `ffmpeg`.
    pub engine: String,
    /// The stream played.
    pub stream_url: String,
    /// RFC 3339 start: time zero of the shard's ramp.
    pub started_at: String,
    /// The shard's run time.
    pub duration_seconds: f64,
    /// What ended the shard.
    pub stop_reason: String,
    /// Its detail.
    pub stop_detail: Option<String>,
    /// Viewer counts.
    pub viewers: ViewersPart,
    /// Playback figures.
    pub playback: PlaybackPart,
    /// Throughput.
    pub throughput_bytes_per_second: ThroughputPart,
    /// The stats pipeline.
    pub stats_pipeline: PipelinePart,
    /// `--request-log`'s lines (schema 4; `null` without the flag, absent before).
    #[serde(default)]
    pub request_log: Option<crate::output::json::RequestLogLines>,
    /// Request figures counted from FFmpeg's log (not exact).
    pub requests_approximate: bool,
    /// What the exact merge needs.
    pub merge: MergePart,
    /// The streams played, in the shard's order (schema 6; absent before: one stream,
    /// `stream_url`).
    #[serde(default)]
    pub streams: Vec<StreamPart>,
}

/// One entry of `streams[]`: which stream (its figures are in the accumulator, at the
/// entry's position).
#[derive(Debug, Clone, Deserialize)]
pub struct StreamPart {
    /// The stream's URL, redacted.
    pub url: String,
    /// Its configured share of the viewers.
    pub share: f64,
}

/// `run`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunPart {
    /// The run id.
    pub id: String,
    /// The shard (`null` in a merged report).
    pub shard: Option<ShardPart>,
    /// The shards of a merged report.
    pub merged: Option<MergedPart>,
    /// `--start-at`, RFC 3339.
    pub start_at: Option<String>,
}

/// `run.shard`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ShardPart {
    /// 0-based index.
    pub index: u64,
    /// Shards of the test.
    pub count: u64,
}

/// `run.merged`.
#[derive(Debug, Clone, Deserialize)]
pub struct MergedPart {
    /// Shards of the test.
    pub count: u64,
    /// The indices merged.
    pub indices: Vec<u64>,
}

/// `viewers`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ViewersPart {
    /// The shard's share of `-clients`.
    pub target: u64,
    /// Most playing at once.
    pub peak_active: u64,
    /// Playing when the stop began.
    pub active_at_end: u64,
    /// Waiting for first media when the stop began.
    pub starting_at_end: u64,
    /// Waiting to restart when the stop began.
    pub failed_at_end: u64,
}

/// `playback`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PlaybackPart {
    /// Stalled when the stop began.
    pub stalled_at_end: u64,
    /// Most stalled at once.
    pub peak_stalled: u64,
}

/// `throughput_bytes_per_second`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ThroughputPart {
    /// Over the last 30 s.
    pub last_30s: f64,
}

/// `stats_pipeline`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PipelinePart {
    /// Events offered.
    pub events: u64,
    /// Events dropped.
    pub dropped: u64,
}

/// `merge`.
#[derive(Debug, Clone, Deserialize)]
pub struct MergePart {
    /// The exact counts and histograms.
    pub accumulator: Accumulator,
    /// `-startup-timeout`, seconds.
    pub startup_timeout_seconds: f64,
    /// The client's wake-up lag histogram (`null` with the FFmpeg engine).
    pub client_wakeup_lag: Option<String>,
    /// Arrival mode's sessions (schema 7; `null` for a fixed crowd, absent before).
    #[serde(default)]
    pub sessions: Option<crate::stats::sessions::SessionsState>,
    /// `--viewer-bandwidth`'s link rates (schema 7; `null` without it, absent before).
    #[serde(default)]
    pub bandwidth: Option<crate::stats::link_rates::RatesState>,
}

/// One report found in an input.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where: `shard0.json`, `stdin, report 2`.
    pub source: String,
    /// The report.
    pub report: ShardReport,
}

/// What reading one input found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The reports, in input order.
    pub reports: Vec<Found>,
    /// Lines that began with `{` but were no JSON (a report cut short, say).
    pub broken: usize,
}

/// The reports in `text`, read from `name`. A report this version cannot merge (older
/// schema, no `merge` section, newer schema, malformed) is an error naming it.
pub fn scan(name: &str, text: &str) -> Result<Scan, String> {
    let mut scan = Scan::default();
    let mut at = 0;
    let mut seen = 0;
    while let Some(start) = next_object_line(text, at) {
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                at = start + stream.byte_offset();
                if is_report(&value) {
                    seen += 1;
                    let source = format!("{name}, report {seen}");
                    let report = report(&source, value)?;
                    scan.reports.push(Found { source, report });
                }
            }
            _ => {
                scan.broken += 1;
                at = text[start..]
                    .find('\n')
                    .map_or(text.len(), |n| start + n + 1);
            }
        }
    }
    // One report per input (the usual file) is named by the input alone.
    if let [only] = scan.reports.as_mut_slice() {
        only.source = name.to_string();
    }
    Ok(scan)
}

/// Byte offset of the next line at or after `from` that starts with `{`.
fn next_object_line(text: &str, from: usize) -> Option<usize> {
    let mut i = from;
    while i < text.len() {
        if text[i..].starts_with('{') && (i == 0 || text.as_bytes()[i - 1] == b'\n') {
            return Some(i);
        }
        i = text[i..].find('\n').map(|n| i + n + 1)?;
    }
    None
}

/// A JSON report has `schema` and `run`; a JSON log line has neither.
fn is_report(v: &Value) -> bool {
    v.get("schema").is_some_and(Value::is_u64) && v.get("run").is_some_and(Value::is_object)
}

/// The report in `v`, if this version can merge it.
fn report(source: &str, v: Value) -> Result<ShardReport, String> {
    let schema = v["schema"].as_u64().unwrap_or_default();
    let newest = u64::from(crate::output::json::SCHEMA_VERSION);
    if schema < u64::from(crate::output::json::MERGEABLE_SCHEMA) || v.get("merge").is_none() {
        return Err(format!(
            "{source}: a schema {schema} report has no `merge` section (reports from before \
             schema {}); re-run the shards with this hls-swarm to merge them",
            crate::output::json::MERGEABLE_SCHEMA
        ));
    }
    if schema > newest {
        return Err(format!(
            "{source}: schema {schema} is newer than this hls-swarm reads ({newest}); merge \
             with the version that wrote it"
        ));
    }
    serde_json::from_value(v).map_err(|e| format!("{source}: not a report this merge reads: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_objects_at_line_starts_and_skips_the_rest() {
        let text = "log line\n{\"level\":\"warn\"}\n  {not at a line start}\n{broken\n[1]\n";
        let s = scan("stdin", text).expect("no report is no error");
        assert!(s.reports.is_empty());
        assert_eq!(s.broken, 1, "only `{{broken` began a line and failed");
    }

    #[test]
    fn an_older_schema_is_refused_by_name() {
        let e = scan("old.json", "{\"schema\": 2, \"run\": {}}\n").unwrap_err();
        assert!(
            e.contains("old.json, report 1: a schema 2 report has no `merge`"),
            "{e}"
        );
        let e = scan("new.json", "{\"schema\": 99, \"run\": {}, \"merge\": {}}").unwrap_err();
        assert!(e.contains("newer"), "{e}");
    }
}

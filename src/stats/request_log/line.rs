//! The request log's lines (pure: no clock, no I/O). One JSON object per line
//! (docs/cli.md, "Request log"): a header naming the run and shard, then one line per
//! finished request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::stats::event::{ErrorClass, Protocol, RequestDone, RequestKind};

/// Version of the line format, in the header's `request_log` key.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a request log: which test and shard wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// [`FORMAT_VERSION`].
    pub request_log: u32,
    /// The run id every shard of the test shares.
    pub run_id: String,
    /// This shard, 0-based.
    pub shard_index: u64,
    /// Shards of the test.
    pub shard_count: u64,
    /// `native` or `ffmpeg`.
    pub engine: &'static str,
}

impl Header {
    /// The header as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// One finished request as a log line (borrowing its path: nothing is copied until the
/// line is written out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line<'a> {
    /// Wall-clock start of the request, Unix milliseconds.
    pub start_ms: u64,
    /// The viewer's global id (`None`: the swarm's own probe requests).
    pub viewer: Option<u64>,
    /// What was fetched.
    pub kind: RequestKind,
    /// The URL's path, without query, fragment, host or credentials.
    pub path: &'a str,
    /// Final HTTP status, if a response head arrived.
    pub status: Option<u16>,
    /// Time to the response head, milliseconds at microsecond resolution.
    pub ttfb_ms: Option<f64>,
    /// Request start to the last body byte (or the failure, or the cut-off),
    /// milliseconds at microsecond resolution.
    pub total_ms: f64,
    /// Body bytes as the origin sent them.
    pub bytes: u64,
    /// Failure class; `None` on success and for aborted requests.
    pub error: Option<ErrorClass>,
    /// The request retried a failed one.
    pub retry: bool,
    /// Still in flight when the run stopped (cut off).
    pub aborted: bool,
    /// The protocol the request went out on (`http1`, `http2`); `None` when it never got
    /// a connection, and with the FFmpeg engine (which does not count requests by
    /// protocol, as the report's `protocols` does not).
    pub protocol: Option<Protocol>,
    /// LL-HLS blocking reloads and hinted parts that got their content: the wait before
    /// the part was due, milliseconds (left out for other requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<f64>,
    /// The same requests: the wait past the moment the part was due, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lateness_ms: Option<f64>,
    /// The stream the request was for: its index in the run's order of streams (the
    /// report's `streams[]`); left out in a single-stream run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<u32>,
}

impl<'a> Line<'a> {
    /// The line of `done`, a request of `viewer` for `path`, that ended at `ended`
    /// (wall clock): it started `done.total` before.
    pub fn of(done: &RequestDone, viewer: Option<u64>, path: &'a str, ended: SystemTime) -> Self {
        let started = ended.checked_sub(done.total).unwrap_or(ended);
        let start_ms = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Line {
            start_ms,
            viewer,
            kind: done.kind,
            path,
            status: done.status,
            ttfb_ms: done.ttfb.map(millis),
            total_ms: millis(done.total),
            bytes: done.bytes,
            error: done.error,
            retry: done.retry,
            aborted: done.aborted,
            protocol: done.protocol,
            hold_ms: done.hold.map(millis),
            lateness_ms: done.lateness.map(millis),
            stream: done.stream,
        }
    }

    /// The line as JSON, newline included.
    pub fn to_line(&self) -> String {
        let mut out = Vec::with_capacity(200);
        // Serialising plain fields into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, self);
        out.push(b'\n');
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `d` in milliseconds, truncated to whole microseconds (as the histograms record it).
pub fn millis(d: Duration) -> f64 {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_one_json_line_with_its_start_and_microsecond_times() {
        let mut done = RequestDone::new(RequestKind::Segment);
        done.status = Some(200);
        done.ttfb = Some(Duration::from_micros(12_345_678));
        done.total = Duration::from_nanos(80_123_999);
        done.bytes = 4096;
        let ended = UNIX_EPOCH + Duration::from_millis(1_765_000_000_500);
        let line = Line::of(&done, Some(17), "/v0/seg-3.ts", ended).to_line();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["start_ms"], 1_765_000_000_419u64);
        assert_eq!(v["viewer"], 17);
        assert_eq!(v["kind"], "segment");
        assert_eq!(v["path"], "/v0/seg-3.ts");
        assert_eq!(v["status"], 200);
        assert_eq!(v["ttfb_ms"], 12_345.678);
        assert_eq!(v["total_ms"], 80.123);
        assert_eq!(v["bytes"], 4096);
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(
            (v["retry"].as_bool(), v["aborted"].as_bool()),
            (Some(false), Some(false))
        );
    }

    #[test]
    fn failures_and_probes_keep_nulls_and_classes() {
        let mut done = RequestDone::new(RequestKind::Master);
        done.error = Some(ErrorClass::Refused);
        done.retry = true;
        let line = Line::of(&done, None, "/a \"quoted\"/m.m3u8", UNIX_EPOCH).to_line();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["viewer"], serde_json::Value::Null);
        assert_eq!(v["status"], serde_json::Value::Null);
        assert_eq!(v["ttfb_ms"], serde_json::Value::Null);
        assert_eq!(v["error"], "refused");
        assert_eq!(v["path"], "/a \"quoted\"/m.m3u8");
        assert_eq!(v["retry"], true);
        assert!(v.get("stream").is_none(), "single-stream: no stream key");
    }

    #[test]
    fn a_many_stream_request_names_its_stream() {
        let mut done = RequestDone::new(RequestKind::Segment);
        done.stream = Some(4);
        let line = Line::of(&done, Some(1), "/ch4/v0/seg-1.ts", UNIX_EPOCH).to_line();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["stream"], 4);
    }

    #[test]
    fn the_header_names_the_run_and_shard() {
        let h = Header {
            request_log: FORMAT_VERSION,
            run_id: "t1".into(),
            shard_index: 2,
            shard_count: 3,
            engine: "native",
        };
        let v: serde_json::Value = serde_json::from_str(&h.to_line()).expect("JSON");
        assert_eq!(v["request_log"], 1);
        assert_eq!(
            (v["run_id"].as_str(), v["shard_index"].as_u64()),
            (Some("t1"), Some(2))
        );
    }
}

//! Reading a `--request-log` file in tests, and the checks several tests share.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::LogLine;

/// One request line of a request log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReqLine {
    pub start_ms: u64,
    pub viewer: Option<u64>,
    pub kind: String,
    pub path: String,
    pub status: Option<u16>,
    pub ttfb_ms: Option<f64>,
    pub total_ms: f64,
    pub bytes: u64,
    pub error: Option<String>,
    pub retry: bool,
    pub aborted: bool,
    pub protocol: Option<String>,
    /// LL-HLS held requests only.
    #[serde(default)]
    pub hold_ms: Option<f64>,
    /// LL-HLS held requests only.
    #[serde(default)]
    pub lateness_ms: Option<f64>,
}

/// The header line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub request_log: u32,
    pub run_id: String,
    pub shard_index: u64,
    pub shard_count: u64,
    pub engine: String,
}

/// Read a request log: its header and every request line (each must parse).
pub fn read(path: &Path) -> (Header, Vec<ReqLine>) {
    let text = std::fs::read_to_string(path).expect("request log");
    assert!(text.ends_with('\n'), "the log ends with a whole line");
    let mut lines = text.lines();
    let header: Header = serde_json::from_str(lines.next().expect("header line"))
        .unwrap_or_else(|e| panic!("header: {e}"));
    let requests = lines
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect();
    (header, requests)
}

/// Per kind: (requests, bytes) of the request lines.
pub fn by_kind(lines: &[ReqLine]) -> BTreeMap<String, (u64, u64)> {
    let mut m = BTreeMap::new();
    for l in lines {
        let e = m.entry(l.kind.clone()).or_insert((0, 0));
        e.0 += 1;
        e.1 += l.bytes;
    }
    m
}

/// The request lines are the origin's access log: the same requests per kind, the same
/// bytes per kind, the same paths (as a multiset), nothing with a query.
pub fn assert_equals_access_log(lines: &[ReqLine], log: &[LogLine]) {
    let mut origin: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for l in log {
        let e = origin.entry(l.kind.clone()).or_insert((0, 0));
        e.0 += 1;
        e.1 += l.bytes;
    }
    assert_eq!(
        by_kind(lines),
        origin,
        "request log vs access log, per kind (count, bytes)"
    );
    let mut ours: Vec<&str> = lines.iter().map(|l| l.path.as_str()).collect();
    let mut theirs: Vec<&str> = log.iter().map(|l| l.path.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "request log paths vs access log paths");
    // Each request's protocol is the one the origin saw it arrive on: the lines naming one
    // (all of the native engine's; of the FFmpeg engine's only the swarm's own probe) are
    // a sub-multiset of the access log's (path, protocol) pairs, all of it when every
    // line names one.
    let wire = |p: &str| match p {
        "http1" => "HTTP/1.1",
        "http2" => "HTTP/2",
        other => panic!("unknown protocol {other}"),
    };
    let mut theirs: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for l in log {
        *theirs
            .entry((l.path.as_str(), l.proto.as_str()))
            .or_default() += 1;
    }
    let mut ours: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for l in lines {
        if let Some(p) = l.protocol.as_deref() {
            *ours.entry((l.path.as_str(), wire(p))).or_default() += 1;
        }
    }
    if lines.iter().all(|l| l.protocol.is_some()) {
        assert_eq!(ours, theirs, "request log (path, protocol) vs access log");
    } else {
        for (k, n) in &ours {
            assert!(
                theirs.get(k).is_some_and(|m| m >= n),
                "{n} × {k:?} in the request log, fewer in the access log"
            );
        }
    }
    assert!(lines.iter().all(|l| !l.path.contains('?')));
}

/// Microseconds of a logged millisecond figure.
pub fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

/// The nearest-rank `q` quantile of `sorted` (the rank HdrHistogram uses).
pub fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

/// A report's `Dist` (seconds) against the exact samples (µs): same count, and p50, p90,
/// p95, p99 and max each the exact value up to the HDR histogram's precision (3
/// significant figures: it reports the top of the sample's bucket, less than 1/1024
/// above it; exact below 2048 µs).
pub fn assert_dist_is_of(dist: &serde_json::Value, samples: &mut [u64], what: &str) {
    samples.sort_unstable();
    assert_eq!(dist["count"], samples.len() as u64, "{what}: count");
    if samples.is_empty() {
        return;
    }
    for (key, q) in [
        ("p50", 0.5),
        ("p90", 0.9),
        ("p95", 0.95),
        ("p99", 0.99),
        ("max", 1.0),
    ] {
        let exact = nearest_rank(samples, q);
        let reported = (dist[key].as_f64().expect("figure") * 1e6).round() as u64;
        let slack = exact / 1024;
        assert!(
            exact <= reported && reported <= exact + slack,
            "{what} {key}: report {reported} µs, exact {exact} µs (precision {slack} µs)"
        );
    }
}

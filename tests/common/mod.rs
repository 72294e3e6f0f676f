//! Shared harness for integration tests: a built-in origin with an access log, a swarm run
//! through the real CLI/config path, and access-log parsing.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hls_swarm::config::Config;
use hls_swarm::origin::{self, FaultConfig, OriginConfig, OriginHandle};
use hls_swarm::swarm::{self, RunHooks, RunReport};
use serde::Deserialize;

pub mod request_log;

/// One access-log line.
#[derive(Debug, Clone, Deserialize)]
pub struct LogLine {
    pub ts: f64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes: u64,
    pub duration_ms: f64,
    pub ua: String,
    /// `HTTP/1.1` or `HTTP/2`.
    #[serde(default)]
    pub proto: String,
    pub kind: String,
    /// Injected faults joined with `+`, if any.
    #[serde(default)]
    pub fault: Option<String>,
    /// How long the origin deliberately held the request (LL-HLS), ms.
    #[serde(default)]
    pub hold_ms: Option<f64>,
    /// The channel the request was for (`--channels`).
    #[serde(default)]
    pub channel: Option<u32>,
    /// Whether the whole body was sent.
    #[serde(default)]
    pub complete: Option<bool>,
}

/// A running origin with its log file.
pub struct Lab {
    pub origin: OriginHandle,
    pub log_path: PathBuf,
    pub started_wall: SystemTime,
    pub segment: Duration,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// Start an origin with 1 s (or `segment`) segments and the given faults.
    pub async fn start(segment: Duration, faults: FaultConfig) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("access.jsonl");
        let started_wall = SystemTime::now();
        let origin = origin::start(OriginConfig {
            segment_duration: segment,
            access_log: Some(log_path.clone()),
            faults,
            ..OriginConfig::default()
        })
        .await
        .expect("origin starts");
        Lab {
            origin,
            log_path,
            started_wall,
            segment,
            _dir: dir,
        }
    }

    /// Start an origin configured as `cfg`, its access log in a temporary directory.
    pub async fn start_with(cfg: OriginConfig) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("access.jsonl");
        let started_wall = SystemTime::now();
        let segment = cfg.segment_duration;
        let origin = origin::start(OriginConfig {
            access_log: Some(log_path.clone()),
            ..cfg
        })
        .await
        .expect("origin starts");
        Lab {
            origin,
            log_path,
            started_wall,
            segment,
            _dir: dir,
        }
    }

    /// The master playlist URL.
    pub fn url(&self) -> String {
        self.origin.master_url()
    }

    /// Shut the origin down and read its access log.
    pub async fn finish(self) -> Vec<LogLine> {
        let Lab {
            origin,
            log_path,
            _dir,
            ..
        } = self;
        origin.shutdown().await;
        read_log(&log_path)
    }
}

/// Parse a JSON Lines access log.
pub fn read_log(path: &Path) -> Vec<LogLine> {
    let text = std::fs::read_to_string(path).expect("access log");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l}: {e}")))
        .collect()
}

/// Build a Config through the real CLI parser.
pub fn config(args: &[&str]) -> Config {
    let mut v = vec!["hls-swarm".to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    let cli = hls_swarm::config::cli::parse_from(v).expect("cli parses");
    Config::from_args(&cli.run).unwrap_or_else(|e| panic!("config: {e}"))
}

/// Run a swarm to completion (its -duration must be set).
pub async fn run(cfg: Config) -> RunReport {
    swarm::run(Arc::new(cfg), RunHooks::default())
        .await
        .expect("run succeeds")
}

/// Arguments of an FFmpeg-engine run against `url`: `viewers` at `ramp_rate`/s on the
/// lowest variant for `duration`, then `extra`.
pub fn ffmpeg_args(
    url: &str,
    viewers: u64,
    ramp_rate: u32,
    duration: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut v: Vec<String> = [
        url,
        "-engine",
        "ffmpeg",
        "-clients",
        &viewers.to_string(),
        "-ramp-rate",
        &ramp_rate.to_string(),
        "-variant",
        "lowest",
        "-duration",
        duration,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Borrow a list of owned arguments for [`config`].
pub fn as_args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Requests per kind of `s` equal the access log's counts, and the log has no path of
/// another kind.
pub fn assert_exact_counts(s: &hls_swarm::stats::snapshot::Snapshot, log: &[LogLine], who: &str) {
    use hls_swarm::stats::event::RequestKind;
    let by_kind = counts_by_kind(log);
    for (kind, name) in [
        (RequestKind::Master, "master"),
        (RequestKind::Playlist, "playlist"),
        (RequestKind::Segment, "segment"),
    ] {
        assert_eq!(
            s.kind(kind).count,
            by_kind.get(name).copied().unwrap_or(0),
            "{name} requests: {who} vs access log"
        );
    }
    assert_eq!(by_kind.get("other"), None, "no unexpected paths");
}

/// Requests per kind and bytes (total and segment) equal the access log exactly, and the
/// log has no unexpected paths. `who` names the measuring side in messages.
pub fn assert_exact_counts_and_bytes(
    s: &hls_swarm::stats::snapshot::Snapshot,
    log: &[LogLine],
    who: &str,
) {
    use hls_swarm::stats::event::RequestKind;
    assert_exact_counts(s, log, who);
    let served: u64 = log.iter().map(|l| l.bytes).sum();
    assert_eq!(s.totals.total_bytes(), served, "bytes: {who} vs access log");
    let seg_served: u64 = log
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.bytes)
        .sum();
    assert_eq!(s.kind(RequestKind::Segment).bytes, seg_served);
}

/// Access-log counts by kind.
pub fn counts_by_kind(log: &[LogLine]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in log {
        *m.entry(l.kind.clone()).or_default() += 1;
    }
    m
}

/// One request to the origin's fault API; its status.
pub async fn fault_api(addr: std::net::SocketAddr, method: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} /control/faults HTTP/1.1\r\nHost: origin\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

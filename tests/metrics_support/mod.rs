//! Shared harness for the metrics tests: an in-process swarm with its metrics endpoint
//! (started by the same `start_metrics` the binary uses), a tiny HTTP/1.0 GET, external
//! tools (promtool, prometheus) that fail in CI when missing, and metric-name extraction
//! from PromQL, rule files and the Grafana dashboard.
#![allow(dead_code)]

pub mod prometheus;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hls_swarm::config::Config;
use hls_swarm::metrics::MetricsServer;
use hls_swarm::metrics::text::{Sample, parse};
use hls_swarm::swarm::{self, RunHooks, RunReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A swarm running in this process with its metrics endpoint.
pub struct LiveSwarm {
    /// The endpoint's bound address.
    pub addr: SocketAddr,
    /// Cancel to stop the run.
    pub stop: CancellationToken,
    /// The run.
    pub run: JoinHandle<anyhow::Result<RunReport>>,
    /// The endpoint (kept up after the run so the final snapshot can be scraped).
    pub server: MetricsServer,
}

/// Start the endpoint of `cfg` (its `-metrics` must not be off) and then the swarm.
pub async fn start(cfg: Config) -> LiveSwarm {
    let (tx, server) = hls_swarm::start_metrics(&cfg)
        .await
        .expect("metrics endpoint starts");
    let server = server.expect("-metrics is not off");
    let stop = CancellationToken::new();
    let hooks = RunHooks {
        stop: stop.clone(),
        snapshots: tx,
        ..RunHooks::default()
    };
    let run = tokio::spawn(swarm::run(Arc::new(cfg), hooks));
    LiveSwarm {
        addr: server.local_addr(),
        stop,
        run,
        server,
    }
}

impl LiveSwarm {
    /// Wait until `/readyz` answers 200 (panics after `within`).
    pub async fn ready(&self, within: Duration) {
        let start = Instant::now();
        loop {
            let (status, _) = get(self.addr, "/readyz").await;
            if status == 200 {
                return;
            }
            assert!(
                start.elapsed() < within,
                "/readyz not 200 within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Scrape `/metrics`: the raw text and its samples.
    pub async fn scrape(&self) -> (String, Vec<Sample>) {
        scrape(self.addr).await
    }
}

/// Scrape `addr`'s `/metrics`: the raw text and its samples.
pub async fn scrape(addr: SocketAddr) -> (String, Vec<Sample>) {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let samples = parse(&body).unwrap_or_else(|e| panic!("unparsable scrape: {e}"));
    (body, samples)
}

/// `GET path` over HTTP/1.0 (so the reply is never chunked): status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write request");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .expect("response within 20 s")
        .expect("read response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response head: {head}"));
    (status, body.to_string())
}

/// The value of the sample `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// Like [`value`], panicking when absent.
pub fn must(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

/// Sum of every sample named `name`.
pub fn sum(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// An external tool from `PATH`. Missing: a test failure under `CI`, else a loud skip
/// (`None`). The Debian `prometheus` package provides both `promtool` and `prometheus`;
/// scripts/test.sh installs it.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "`{name}` is not installed; CI must run this test (apt-get install prometheus, or scripts/test.sh)"
        );
        // Straight to fd 2: the test harness captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!! SKIPPED: `{name}` is not installed (Debian package `prometheus`); this test checks nothing here. CI=true makes this a failure. !!!!!!\n"
        );
    }
    found
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Metric names a PromQL expression (or any text) refers to: identifiers that start with
/// `hls_swarm_`. Recording-rule names (with `:`) are returned too.
pub fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("hls_swarm_") || t.contains(":hls_swarm_"))
        .map(str::to_string)
        .collect()
}

/// Every PromQL expression of the Grafana dashboard (panel targets and template queries).
pub fn dashboard_exprs(path: &Path) -> Vec<String> {
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let mut out = Vec::new();
    collect_exprs(&d, &mut out);
    out
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// A dashboard expression with Grafana's variables replaced so Prometheus can run it.
pub fn grafana_to_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$job", ".*")
        .replace("$instance", ".*")
        .replace("$run_id", ".*")
}

//! A real Prometheus (Debian package) on loopback scrapes a running swarm every second,
//! with the repository's alert and recording rules loaded: a PromQL query returns the true
//! active viewer count, the per-job aggregate agrees, and every dashboard query is valid
//! PromQL that Prometheus accepts.

mod common;
mod metrics_support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Lab, config};
use hls_swarm::origin::FaultConfig;
use metrics_support::{dashboard_exprs, get, grafana_to_promql, repo, start, tool};

const VIEWERS: u64 = 7;

/// The Prometheus child, stopped (by its pid) when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Run an instant query; `Err` carries Prometheus's error for invalid PromQL.
    async fn query(&self, promql: &str) -> Result<serde_json::Value, String> {
        let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let (status, body) = get(self.addr, &format!("/api/v1/query?query={q}")).await;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
        if v["status"] == "success" {
            Ok(v["data"]["result"].clone())
        } else {
            Err(format!("{promql}: {}", v["error"]))
        }
    }

    /// The value of a single-series result, if there is exactly one series.
    async fn scalar(&self, promql: &str) -> Option<String> {
        let r = self.query(promql).await.ok()?;
        let series = r.as_array()?;
        (series.len() == 1)
            .then(|| series[0]["value"][1].as_str().map(str::to_string))
            .flatten()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_true_active_viewer_count() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let swarm = start(config(&[
        &url,
        "-clients",
        &VIEWERS.to_string(),
        "-ramp-rate",
        "20",
        "-variant",
        "lowest",
        "-metrics",
        "127.0.0.1:0",
    ]))
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let monitoring = repo().join("monitoring");
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg_path,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {alerts}\n  - {recording}\n\
             scrape_configs:\n  - job_name: hls-swarm\n    static_configs:\n      - targets: [\"{target}\"]\n",
            alerts = monitoring.join("alerts.yml").display(),
            recording = monitoring.join("recording.yml").display(),
            target = swarm.addr,
        ),
    )
    .expect("write config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let log = dir.path().join("prometheus.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start prometheus");
    let prom = Prometheus { child, addr, log };

    // Wait for the true count: the ramp takes under a second, scrapes come every second.
    let deadline = Instant::now() + Duration::from_secs(90);
    let want = VIEWERS.to_string();
    let mut last = None;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            last = prom.scalar("hls_swarm_active_clients").await;
            if last.as_deref() == Some(want.as_str()) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "hls_swarm_active_clients is {last:?}, want {want}; prometheus log:\n{}",
            prom.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Cross-check with the swarm's own figure at the same moment.
    let (_, samples) = swarm.scrape().await;
    assert_eq!(
        metrics_support::must(&samples, "hls_swarm_active_clients", &[]),
        VIEWERS as f64
    );

    // The recording rules, evaluated by Prometheus, aggregate to the same count.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = prom.scalar("job:hls_swarm_active_clients:sum").await;
        if v.as_deref() == Some(want.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "recorded sum {v:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // No alert fires against a healthy origin.
    let alerts = prom
        .query("ALERTS{alertstate=\"firing\"}")
        .await
        .expect("ALERTS");
    assert_eq!(alerts, serde_json::json!([]), "firing alerts: {alerts}");

    // Every dashboard query parses and runs.
    let exprs = dashboard_exprs(&repo().join("monitoring/grafana-dashboard.json"));
    for e in exprs.iter().filter(|e| !e.starts_with("label_values(")) {
        if let Err(err) = prom.query(&grafana_to_promql(e)).await {
            panic!("dashboard query rejected: {err}");
        }
    }
    // Template queries are Grafana's label_values(); their selector must be valid PromQL.
    for e in exprs.iter().filter(|e| e.starts_with("label_values(")) {
        let sel = e
            .trim_start_matches("label_values(")
            .rsplit_once(',')
            .map(|(s, _)| s)
            .unwrap_or_default();
        prom.query(&grafana_to_promql(sel))
            .await
            .unwrap_or_else(|err| panic!("template query rejected: {err}"));
    }
    assert_eq!(get(addr, "/-/ready").await.0, 200);

    swarm.stop.cancel();
    let _ = swarm.run.await;
    swarm.server.shutdown().await;
    drop(prom);
    lab.finish().await;
}

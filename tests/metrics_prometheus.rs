//! A real Prometheus (Debian package) on loopback scrapes a running swarm every second,
//! with the repository's alert and recording rules loaded: a PromQL query returns the true
//! active viewer count, the per-job aggregate agrees, and every dashboard query is valid
//! PromQL that Prometheus accepts.

mod common;
mod metrics_support;

use std::time::{Duration, Instant};

use common::{Lab, config};
use hls_swarm::origin::FaultConfig;
use metrics_support::prometheus::Prometheus;
use metrics_support::{dashboard_exprs, get, grafana_to_promql, repo, start, tool};

const VIEWERS: u64 = 7;

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
    let prom = Prometheus::start(
        &binary,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {alerts}\n  - {recording}\n\
             scrape_configs:\n  - job_name: hls-swarm\n    static_configs:\n      - targets: [\"{target}\"]\n",
            alerts = monitoring.join("alerts.yml").display(),
            recording = monitoring.join("recording.yml").display(),
            target = swarm.addr,
        ),
        dir.path(),
    );
    let addr = prom.addr;

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

//! The metrics endpoint: a taken port fails the run before the ramp (exit 1); /healthz and
//! /readyz tell the truth through start-up, the run and shutdown; a live scrape passes
//! `promtool check metrics`; the dashboard and the rule files use only names a live scrape
//! has; every exported family is documented in docs/metrics.md.

mod common;
mod metrics_support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Lab, config};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::event::RequestKind;
use metrics_support::{dashboard_exprs, get, metric_names, must, repo, start, tool};

#[test]
fn a_taken_metrics_port_exits_1_before_the_ramp() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["-clients", "1", "-duration", "5s", "-metrics", &addr])
        .output()
        .expect("run hls-swarm");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Error:"), "{err}");
    assert!(
        err.contains(&addr) && err.contains("-metrics"),
        "names the address and the flag: {err}"
    );
    // Nothing started: no built-in origin, no viewers, no summary.
    assert!(!err.contains("built-in origin"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("run summary"));
}

#[test]
fn metrics_off_serves_nothing_and_a_bad_address_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["-metrics", "nowhere"])
        .output()
        .expect("run hls-swarm");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-metrics"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["-clients", "1", "-duration", "2s", "-metrics", "off"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = child.wait().expect("wait");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("read");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("Prometheus metrics on"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_truthful_and_a_live_scrape_passes_promtool() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let cfg = config(&[
        &url,
        "-clients",
        "4",
        "-ramp-rate",
        "20",
        "-variant",
        "lowest",
        "-metrics",
        "127.0.0.1:0",
        "-prom-client-metrics",
    ]);
    let swarm = start(cfg).await;
    // The endpoint is up before anything ran: alive, not ready.
    assert_eq!(get(swarm.addr, "/healthz").await, (200, "ok\n".into()));
    let (status, body) = get(swarm.addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "starting\n"));
    swarm.ready(Duration::from_secs(20)).await;
    assert_eq!(get(swarm.addr, "/ready").await.0, 200, "Go-era alias");
    assert_eq!(get(swarm.addr, "/health").await.0, 200, "Go-era alias");
    // Let segments flow so every family has data.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (text, samples) = swarm.scrape().await;
    assert_eq!(must(&samples, "hls_swarm_active_clients", &[]), 4.0);
    assert_eq!(get(swarm.addr, "/nope").await.0, 404);

    if let Some(promtool) = tool("promtool") {
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn promtool");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes())
            .expect("feed promtool");
        let out = child.wait_with_output().expect("promtool");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool: {report}");
        assert_eq!(report.trim(), "", "promtool reports nothing");
    }

    swarm.stop.cancel();
    // From the moment the stop begins until the process ends: not ready.
    let start = std::time::Instant::now();
    loop {
        let (status, body) = get(swarm.addr, "/readyz").await;
        if status == 503 {
            assert_eq!(body, "stopping\n");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "still ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = swarm.run.await.expect("join").expect("run");
    assert_eq!(get(swarm.addr, "/readyz").await, (503, "stopping\n".into()));
    assert_eq!(get(swarm.addr, "/healthz").await.0, 200);
    // The final snapshot is what the endpoint serves after the run.
    let (_, fin) = metrics_support::scrape(swarm.addr).await;
    assert_eq!(
        must(&fin, "hls_swarm_segment_requests_total", &[]),
        report.snapshot.kind(RequestKind::Segment).count as f64
    );
    swarm.server.shutdown().await;
    lab.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_rules_use_only_exported_names_and_docs_cover_every_family() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let swarm = start(config(&[
        &url,
        "-clients",
        "3",
        "-ramp-rate",
        "20",
        "-variant",
        "lowest",
        "-metrics",
        "127.0.0.1:0",
        "-prom-client-metrics",
    ]))
    .await;
    swarm.ready(Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (text, samples) = swarm.scrape().await;
    swarm.stop.cancel();
    let _ = swarm.run.await;
    lab.finish().await;

    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    // A name exists when the scrape declares its family (a labelled family such as
    // hls_swarm_http_errors_total has no series until the first error) or has samples
    // of it (histogram _bucket/_sum/_count).
    let exported: BTreeSet<String> = samples
        .iter()
        .map(|s| s.name.clone())
        .chain(families.iter().cloned())
        .collect();
    let rules = std::fs::read_to_string(repo().join("monitoring/recording.yml")).expect("rules");
    let recorded = metric_names(
        &rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- record:"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    assert!(!recorded.is_empty());

    // The dashboard: every raw name must be in the scrape; origin metrics come from the
    // origin-metrics scraper and are absent when it is not configured (as here).
    let dash = repo().join("monitoring/grafana-dashboard.json");
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 30, "{} expressions", exprs.len());
    let mut missing = Vec::new();
    let mut origin = BTreeSet::new();
    for e in &exprs {
        for n in metric_names(e) {
            if n.starts_with("hls_swarm_origin_") {
                origin.insert(n);
            } else if n.contains(':') {
                // A recorded series (monitoring/recording.yml's run:* panels).
                if !recorded.contains(&n) {
                    missing.push(format!("dashboard: {n} in {e} is recorded by no rule"));
                }
            } else if !exported.contains(&n) {
                missing.push(format!("dashboard: {n} in {e}"));
            }
        }
    }
    // Exactly the origin scraper's names, nothing invented.
    let origin_names: BTreeSet<String> = [
        "hls_swarm_origin_cpu_percent",
        "hls_swarm_origin_memory_used_bytes",
        "hls_swarm_origin_network_receive_bytes_per_second",
        "hls_swarm_origin_network_transmit_bytes_per_second",
        "hls_swarm_origin_nginx_connections_active",
        "hls_swarm_origin_nginx_requests_per_second",
        "hls_swarm_origin_scrape_errors_total",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert!(
        origin.is_subset(&origin_names),
        "unknown origin names: {:?}",
        origin.difference(&origin_names).collect::<Vec<_>>()
    );
    assert!(origin.contains("hls_swarm_origin_cpu_percent"));
    assert!(origin.contains("hls_swarm_origin_network_transmit_bytes_per_second"));

    // The rule files: raw names must be in the scrape, recorded names defined.
    for file in ["alerts.yml", "recording.yml"] {
        let text = std::fs::read_to_string(repo().join("monitoring").join(file)).expect("read");
        for n in metric_names(&text) {
            let known = if n.contains(':') {
                recorded.contains(&n)
            } else {
                exported.contains(&n)
            };
            if !known {
                missing.push(format!("{file}: {n}"));
            }
        }
    }
    assert!(missing.is_empty(), "names not exported: {missing:#?}");

    // The operations guide's five, by exactly these names.
    for n in [
        "hls_swarm_active_clients",
        "hls_swarm_stalled_clients",
        "hls_swarm_error_rate",
        "hls_swarm_inferred_latency_p95_seconds",
        "hls_swarm_stats_drop_rate",
    ] {
        assert!(exported.contains(n), "{n} missing");
    }

    // Every family of the scrape has a section in docs/metrics.md.
    let docs = std::fs::read_to_string(repo().join("docs/metrics.md")).expect("docs");
    let undocumented: Vec<_> = families
        .iter()
        .filter(|f| !docs.contains(&format!("`{f}`")))
        .collect();
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
}

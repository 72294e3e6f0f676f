//! The monitoring files are valid for Prometheus: the alert and recording rules load, their
//! unit tests (`promtool test rules`) pass, the example configurations check, the k8s
//! ConfigMap carries the rule files verbatim, and the Grafana dashboard is well-formed
//! JSON with the panels the operations guide asks for.

mod metrics_support;

use std::process::Command;

use metrics_support::{dashboard_exprs, repo, tool};

fn promtool(args: &[&str]) -> Option<String> {
    let bin = tool("promtool")?;
    let out = Command::new(bin)
        .args(args)
        .current_dir(repo().join("monitoring"))
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    Some(text)
}

#[test]
fn rules_load_and_their_unit_tests_pass() {
    let Some(out) = promtool(&["check", "rules", "alerts.yml", "recording.yml"]) else {
        return;
    };
    assert!(out.contains("SUCCESS: 5 rules found"), "{out}");
    for tests in ["alerts_test.yml", "recording_test.yml"] {
        let Some(out) = promtool(&["test", "rules", tests]) else {
            return;
        };
        assert!(out.contains("SUCCESS"), "{tests}: {out}");
    }
}

/// Every `run:*` rule keeps the test's identity (`run_id`) and aggregates the shards by
/// it, and each one is exercised by recording_test.yml.
#[test]
fn the_run_aggregates_keep_the_run_id_and_are_unit_tested() {
    let rules = std::fs::read_to_string(repo().join("monitoring/recording.yml")).expect("read");
    let tests =
        std::fs::read_to_string(repo().join("monitoring/recording_test.yml")).expect("read");
    let group = rules
        .split("- name: hls-swarm-run")
        .nth(1)
        .expect("the hls-swarm-run group");
    let records: Vec<&str> = group
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .collect();
    assert!(records.len() > 30, "{records:?}");
    for chunk in group.split("- record: ").skip(1) {
        let name = chunk.lines().next().unwrap_or_default();
        assert!(name.starts_with("run:"), "{name}");
        // Every rule keeps run_id: it aggregates by it or reads run:* series that do.
        let expr = chunk
            .split_once("expr:")
            .map(|(_, e)| e)
            .unwrap_or_default();
        assert!(
            expr.contains("by (run_id") || expr.contains("run:hls_swarm_"),
            "{name} loses run_id"
        );
    }
    for want in [
        "run:hls_swarm_requests_total:sum",
        "run:hls_swarm_request_errors_total:sum",
        "run:hls_swarm_errors_total:sum",
        "run:hls_swarm_bytes_downloaded_total:sum",
        "run:hls_swarm_active_clients:sum",
        "run:hls_swarm_request_ttfb_seconds:p95",
        "run:hls_swarm_shards:count",
    ] {
        assert!(records.contains(&want), "no rule {want}");
        assert!(
            tests.contains(want),
            "recording_test.yml does not test {want}"
        );
    }
}

/// k8s/prometheus-config.yaml's rule keys are monitoring/'s files, as
/// scripts/render-k8s-prometheus.sh writes them.
#[test]
fn the_k8s_configmap_carries_the_monitoring_rules_verbatim() {
    // The script and k8s/ are deployment files, not the package's source set
    // (nix/package-spec.json): the Nix check phase has neither and skips; CI must have them.
    let script = repo().join("scripts/render-k8s-prometheus.sh");
    if !(script.is_file() && repo().join("k8s/prometheus-config.yaml").is_file()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "scripts/render-k8s-prometheus.sh and k8s/ are required in CI"
        );
        eprintln!("skipping: scripts/ or k8s/ is not in this source set");
        return;
    }
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_alerts_cover_the_operations_guide_thresholds() {
    let text = std::fs::read_to_string(repo().join("monitoring/alerts.yml")).expect("read");
    for expr in [
        "hls_swarm_active_clients < 0.9 * hls_swarm_target_clients",
        "hls_swarm_stalled_clients > 0",
        "hls_swarm_error_rate > 0.01",
        "hls_swarm_inferred_latency_p95_seconds > 1",
        "hls_swarm_stats_drop_rate > 0.01",
    ] {
        assert!(text.contains(expr), "alerts.yml lacks `{expr}`");
    }
    let stalled = text
        .split("- alert:")
        .find(|a| a.contains("hls_swarm_stalled_clients > 0"))
        .unwrap_or_default();
    assert!(stalled.contains("for: 30s"), "stalled > 0 for 30 s");
}

#[test]
fn example_configurations_check() {
    for file in ["prometheus.yml", "federation.yml"] {
        let Some(out) = promtool(&["check", "config", file]) else {
            return;
        };
        assert!(out.contains("SUCCESS"), "{file}: {out}");
    }
}

#[test]
fn the_dashboard_has_the_panels_the_guide_asks_for() {
    let path = repo().join("monitoring/grafana-dashboard.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let titles: Vec<String> = d["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["title"].as_str().map(str::to_lowercase))
        .collect();
    for want in [
        "active viewers",
        "throughput (mb/s)",
        "percentiles",
        "error rate",
        "stalls",
        "origin cpu",
        "origin network",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel for {want}: {titles:?}"
        );
    }
    let exprs = dashboard_exprs(&path);
    for want in [
        "hls_swarm_active_clients",
        "hls_swarm_segment_throughput_30s_bytes_per_second",
        "hls_swarm_inferred_latency_p95_seconds",
        "hls_swarm_error_rate",
        "hls_swarm_stalled_clients",
        "hls_swarm_origin_cpu_percent",
        "hls_swarm_origin_network_transmit_bytes_per_second",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(want)),
            "no query uses {want}"
        );
    }
    // Unique panel ids and a datasource variable, so the JSON imports cleanly.
    let mut ids: Vec<i64> = d["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate panel ids");
    assert_eq!(d["templating"]["list"][0]["type"], "datasource");
}

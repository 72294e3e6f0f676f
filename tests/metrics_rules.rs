//! The monitoring files are valid for Prometheus: the alert and recording rules load, their
//! unit tests (`promtool test rules`) pass, the example configurations check, and the
//! Grafana dashboard is well-formed JSON with the panels the operations guide asks for.

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
    let Some(out) = promtool(&["test", "rules", "alerts_test.yml"]) else {
        return;
    };
    assert!(out.contains("SUCCESS"), "{out}");
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

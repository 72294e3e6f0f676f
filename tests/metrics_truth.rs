//! Proof: a run against the built-in origin with injected faults (5 % of segments answered
//! 503, every segment delayed 50 ms) whose Prometheus values, scraped mid-run and at the
//! end, match the JSON report and the origin's access log.

mod common;
mod metrics_support;

use std::time::Duration;

use common::{Lab, config};
use hls_swarm::origin::{ErrorRate, FaultConfig};
use hls_swarm::output::json;
use hls_swarm::slo;
use hls_swarm::stats::event::RequestKind;
use metrics_support::{must, scrape, start, sum};

const VIEWERS: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_values_match_the_json_report_and_the_access_log() {
    let mut faults = FaultConfig::default();
    faults.error.segment = Some(ErrorRate {
        status: 503,
        probability: 0.05,
    });
    faults.delay.segment = Duration::from_millis(50);
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let cfg = config(&[
        &url,
        "-clients",
        &VIEWERS.to_string(),
        "-ramp-rate",
        "30",
        "-variant",
        "lowest",
        "-duration",
        "20s",
        "-metrics",
        "127.0.0.1:0",
        "-prom-client-metrics",
    ]);
    let slo_cfg = cfg.slo.clone();
    let swarm = start(cfg).await;

    // Mid-run.
    swarm.ready(Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    let (_, mid) = swarm.scrape().await;
    let n = VIEWERS as f64;
    assert_eq!(must(&mid, "hls_swarm_active_clients", &[]), n);
    assert_eq!(must(&mid, "hls_swarm_target_clients", &[]), n);
    assert_eq!(must(&mid, "hls_swarm_ramp_progress", &[]), 1.0);
    assert_eq!(must(&mid, "hls_swarm_client_starts_total", &[]), n);
    assert_eq!(sum(&mid, "hls_swarm_client_active"), n, "per-viewer active");
    let p95 = must(&mid, "hls_swarm_inferred_latency_p95_seconds", &[]);
    assert!(
        (0.05..1.0).contains(&p95),
        "p95 segment download {p95} s with a 50 ms injected delay"
    );
    assert!(must(&mid, "hls_swarm_inferred_latency_p50_seconds", &[]) >= 0.05);
    assert!(must(&mid, "hls_swarm_segment_requests_total", &[]) > 100.0);
    assert!(
        must(
            &mid,
            "hls_swarm_segment_throughput_1s_bytes_per_second",
            &[]
        ) > 0.0
    );

    // The end: the endpoint serves the final snapshot until it is shut down.
    let report = swarm.run.await.expect("join").expect("run");
    let (_, fin) = scrape(swarm.addr).await;
    swarm.server.shutdown().await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.json");
    json::write(
        &path,
        &json::Report::new(&report, &slo::evaluate(&slo_cfg, s)),
    )
    .expect("write JSON");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let ju = |ptr: &str| {
        j.pointer(ptr)
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("JSON {ptr} missing"))
    };
    let f = |name: &str| must(&fin, name, &[]);

    // Nothing was lost on the way, so exact equality is the bar.
    assert_eq!(f("hls_swarm_stats_drop_rate"), 0.0);
    assert_eq!(f("hls_swarm_stats_events_dropped_total"), 0.0);
    assert_eq!(ju("/stats_pipeline/dropped"), 0.0);

    // Requests: access log = Prometheus = JSON.
    let log_count = |kinds: &[&str]| {
        log.iter()
            .filter(|l| kinds.contains(&l.kind.as_str()))
            .count() as f64
    };
    let manifests = log_count(&["master", "playlist"]);
    let segments = log_count(&["segment"]);
    assert!(segments > 300.0, "{segments} segments");
    assert_eq!(f("hls_swarm_manifest_requests_total"), manifests);
    assert_eq!(
        ju("/requests/master/count") + ju("/requests/playlist/count"),
        manifests
    );
    assert_eq!(f("hls_swarm_segment_requests_total"), segments);
    assert_eq!(ju("/requests/segment/count"), segments);
    for kind in ["master", "playlist", "segment"] {
        assert_eq!(
            must(&fin, "hls_swarm_requests_total", &[("kind", kind)]),
            log_count(&[kind]),
            "{kind}"
        );
    }
    assert_eq!(sum(&fin, "hls_swarm_requests_total"), log.len() as f64);

    // Errors: the injected 503s.
    let log_503 = log.iter().filter(|l| l.status == 503).count() as f64;
    assert!(
        log_503 >= 10.0,
        "too few injected errors to test: {log_503}"
    );
    assert_eq!(
        must(
            &fin,
            "hls_swarm_http_errors_total",
            &[("status_code", "503")]
        ),
        log_503
    );
    assert_eq!(ju("/errors/by_status/503"), log_503);
    assert_eq!(
        must(
            &fin,
            "hls_swarm_errors_total",
            &[("error_class", "http_5xx")]
        ),
        log_503
    );
    assert_eq!(sum(&fin, "hls_swarm_errors_total"), log_503);
    assert_eq!(
        must(
            &fin,
            "hls_swarm_request_errors_total",
            &[("kind", "segment")]
        ),
        log_503
    );
    assert_eq!(ju("/errors/total"), log_503);
    let retries = must(
        &fin,
        "hls_swarm_request_retries_total",
        &[("kind", "segment")],
    );
    assert_eq!(retries, ju("/requests/segment/retries"));
    assert!(retries > 0.0 && retries <= log_503);
    // The whole 20 s run is inside the 30 s window, so the windowed rate is the run's.
    let rate = f("hls_swarm_error_rate");
    assert!((rate - log_503 / log.len() as f64).abs() < 1e-12, "{rate}");
    assert!((rate - ju("/errors/rate")).abs() < 1e-12);
    assert_eq!(f("hls_swarm_timeouts_total"), 0.0);

    // Bytes.
    let served: u64 = log.iter().map(|l| l.bytes).sum();
    assert_eq!(f("hls_swarm_bytes_downloaded_total"), served as f64);
    assert_eq!(ju("/total_bytes"), served as f64);
    let seg_served: u64 = log
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.bytes)
        .sum();
    assert_eq!(
        f("hls_swarm_segment_bytes_downloaded_total"),
        seg_served as f64
    );
    assert_eq!(
        must(
            &fin,
            "hls_swarm_response_bytes_total",
            &[("kind", "segment")]
        ),
        ju("/requests/segment/bytes")
    );

    // Latency against the injected delay: no segment answered in under 50 ms.
    let seg = [("kind", "segment")];
    let bucket = |le: &str| {
        must(
            &fin,
            "hls_swarm_request_ttfb_seconds_bucket",
            &[("kind", "segment"), ("le", le)],
        )
    };
    assert_eq!(
        bucket("0.025"),
        0.0,
        "segment TTFB below the injected delay"
    );
    assert_eq!(bucket("+Inf"), segments);
    assert!(bucket("0.1") >= 0.9 * segments, "most within 100 ms");
    assert_eq!(
        must(&fin, "hls_swarm_request_ttfb_seconds_count", &seg),
        ju("/requests/segment/ttfb_seconds/count")
    );
    let ok_segments = segments - log_503;
    assert_eq!(
        must(&fin, "hls_swarm_request_duration_seconds_count", &seg),
        ok_segments
    );
    assert_eq!(ju("/requests/segment/download_seconds/count"), ok_segments);
    assert_eq!(
        must(&fin, "hls_swarm_inferred_latency_seconds_count", &[]),
        ok_segments
    );
    let mean = must(&fin, "hls_swarm_request_ttfb_seconds_sum", &seg) / segments;
    assert!(
        (mean - ju("/requests/segment/ttfb_seconds/mean")).abs() < 1e-9,
        "histogram sum/count is the report's mean"
    );
    assert!(
        (f("hls_swarm_inferred_latency_p95_seconds") - s.recent_segment_download.p95).abs() < 1e-12
    );

    // Viewers and playback.
    assert_eq!(f("hls_swarm_client_starts_total"), ju("/viewers/started"));
    assert_eq!(f("hls_swarm_client_starts_total"), n);
    assert_eq!(
        f("hls_swarm_peak_active_clients"),
        ju("/viewers/peak_active")
    );
    assert_eq!(f("hls_swarm_stalls_total"), ju("/playback/stalls"));
    assert_eq!(
        must(&fin, "hls_swarm_startup_seconds_count", &[]),
        ju("/playback/startup_seconds/count")
    );
    assert_eq!(
        must(&fin, "hls_swarm_live_latency_seconds_count", &[]),
        ju("/playback/live_latency_seconds/count")
    );

    // Per-viewer series add up to the totals, less the swarm's own stream probe (one
    // master request reported before any viewer started).
    let master_bytes = s.kind(RequestKind::Master).bytes / s.kind(RequestKind::Master).count;
    assert_eq!(
        sum(&fin, "hls_swarm_client_requests_total") + 1.0,
        log.len() as f64
    );
    assert_eq!(
        sum(&fin, "hls_swarm_client_bytes_total"),
        (served - master_bytes) as f64
    );
    assert_eq!(sum(&fin, "hls_swarm_client_errors_total"), log_503);
    assert_eq!(
        sum(&fin, "hls_swarm_client_stalls_total"),
        f("hls_swarm_stalls_total")
    );
    assert_eq!(
        fin.iter()
            .filter(|x| x.name == "hls_swarm_client_bytes_total")
            .count() as u64,
        VIEWERS
    );
}

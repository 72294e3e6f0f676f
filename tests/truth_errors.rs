//! Truth test: injected 503s on 5 % of segment requests are reported exactly as the access
//! log has them, and the retries that follow are counted.

mod common;

use std::time::Duration;

use common::{Lab, config, run};
use hls_swarm::origin::{ErrorRate, FaultConfig};
use hls_swarm::stats::event::{ErrorClass, RequestKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_503s_match_the_access_log_and_retries_are_counted() {
    let mut faults = FaultConfig::default();
    faults.error.segment = Some(ErrorRate {
        status: 503,
        probability: 0.05,
    });
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let report = run(config(&[
        &url,
        "-clients",
        "50",
        "-ramp-rate",
        "50",
        "-variant",
        "lowest",
        "-duration",
        "20s",
    ]))
    .await;
    let log = lab.finish().await;
    let s = &report.snapshot;

    let log_503 = log.iter().filter(|l| l.status == 503).count() as u64;
    assert!(log_503 >= 20, "too few injected errors to test: {log_503}");
    assert_eq!(s.totals.by_status.get(&503).copied().unwrap_or(0), log_503);
    assert_eq!(s.totals.errors_of(ErrorClass::Http5xx), log_503);
    assert_eq!(s.total_errors(), log_503);
    let seg = s.kind(RequestKind::Segment);
    assert_eq!(seg.errors, log_503);
    assert_eq!(
        seg.count,
        log.iter().filter(|l| l.kind == "segment").count() as u64
    );
    // Each failed segment is retried, except one cut short by the end of the run.
    assert!(
        seg.retries <= log_503 && seg.retries + 50 >= log_503,
        "retries {} for {log_503} errors",
        seg.retries
    );
    assert!(seg.retries > 0);
    let rate = s.error_rate();
    let expected = log_503 as f64 / log.len() as f64;
    assert!(
        (rate - expected).abs() < 1e-9,
        "error rate {rate} vs log {expected}"
    );
}

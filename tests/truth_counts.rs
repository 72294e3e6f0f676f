//! Truth test: 200 native viewers × 30 s against the built-in origin (1 s segments).
//! Per-kind request counts and bytes must equal the origin's access log exactly, with zero
//! errors, and every viewer's playlist reloads must follow the RFC 8216 cadence.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use common::{Lab, assert_exact_counts_and_bytes, config, run};
use hls_swarm::origin::FaultConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_bytes_equal_the_access_log_and_reloads_follow_the_rfc() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let report = run(config(&[
        &url,
        "-clients",
        "200",
        "-ramp-rate",
        "50",
        "-variant",
        "lowest",
        "-duration",
        "30s",
    ]))
    .await;
    let start_wall = lab
        .started_wall
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let td = lab.segment.as_secs_f64();
    let log = lab.finish().await;
    let s = &report.snapshot;

    // Exact equality per kind, and bytes.
    assert_exact_counts_and_bytes(s, &log, "swarm");

    // Zero errors on both sides; everyone was there.
    assert_eq!(
        s.total_errors(),
        0,
        "swarm errors: {:?}",
        s.errors_by_class()
    );
    assert!(log.iter().all(|l| l.status == 200), "non-200 in access log");
    assert_eq!(s.peak_active, 200);
    assert_eq!(report.active_at_end, 200);
    assert_eq!(s.stalls(), 0, "no stalls against a healthy origin");
    assert_eq!(s.startup.count, 200, "every viewer started playback");
    // The client's own queueing delay was measured all along (10 probes/s per viewer
    // runtime) and was small: these figures are the origin's, not the load host's.
    let lag = s
        .client_lag
        .as_ref()
        .expect("native runs measure wake-up lag");
    assert!(lag.probes >= 250, "probes over a 30 s run: {}", lag.probes);
    assert!(lag.run.p50 < 0.005, "wake-up lag p50 {} s", lag.run.p50);

    // RFC 8216 §6.3.4 cadence per viewer and playlist: simulate the RFC schedule from the
    // viewer's first load against the origin's timeline and compare the number of loads.
    let mut loads: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for l in log.iter().filter(|l| l.kind == "playlist") {
        loads
            .entry((l.ua.clone(), l.path.clone()))
            .or_default()
            .push(l.ts);
    }
    assert_eq!(
        loads.len(),
        200,
        "one media playlist per viewer with -variant lowest"
    );
    let generation = |t: f64| ((t - start_wall) / td).floor() as i64;
    for ((ua, path), mut ts) in loads {
        ts.sort_by(f64::total_cmp);
        let (first, last) = (ts[0], ts[ts.len() - 1]);
        let mut expected = 1;
        let mut at = first;
        let mut prev = generation(at);
        let mut gap = td;
        while at + gap <= last + 0.05 {
            at += gap;
            let g = generation(at);
            gap = if g != prev { td } else { td / 2.0 };
            prev = g;
            expected += 1;
        }
        let n = ts.len() as i64;
        assert!(
            (n - expected).abs() <= 1,
            "{ua} {path}: {n} loads, RFC cadence gives {expected}"
        );
        for w in ts.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= td / 2.0 - 0.005,
                "{ua} {path}: reload after only {gap:.3}s"
            );
            assert!(
                gap <= td + 0.1,
                "{ua} {path}: reload gap {gap:.3}s exceeds one target duration"
            );
        }
    }
}

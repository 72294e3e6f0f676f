//! Truth test: an injected 150 ms delay before the first byte of every segment must show
//! up as a segment TTFB p50 of 150 ms ± 5 ms.

mod common;

use std::time::Duration;

use common::{Lab, config, run};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::event::RequestKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_segment_delay_is_the_reported_ttfb() {
    let mut faults = FaultConfig::default();
    faults.delay.segment = Duration::from_millis(150);
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let report = run(config(&[
        &url,
        "-clients",
        "20",
        "-ramp-rate",
        "20",
        "-variant",
        "lowest",
        "-duration",
        "12s",
    ]))
    .await;
    let log = lab.finish().await;
    let seg = report.snapshot.kind(RequestKind::Segment);
    assert!(seg.count > 100, "{} segments", seg.count);
    let p50_ms = seg.ttfb.p50 * 1e3;
    assert!(
        (p50_ms - 150.0).abs() <= 5.0,
        "segment TTFB p50 {p50_ms:.2} ms, injected 150 ms"
    );
    // Playlists were not delayed, and the report says so.
    let pl_p50_ms = report.snapshot.kind(RequestKind::Playlist).ttfb.p50 * 1e3;
    assert!(pl_p50_ms < 50.0, "playlist TTFB p50 {pl_p50_ms:.2} ms");
    // The download time includes the delay too.
    assert!(seg.download.p50 * 1e3 >= 150.0);
    assert_eq!(
        seg.count,
        log.iter().filter(|l| l.kind == "segment").count() as u64
    );
}

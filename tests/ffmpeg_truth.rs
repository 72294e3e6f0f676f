//! Truth test of the FFmpeg engine (Debian's FFmpeg): 50 FFmpeg viewers × 30 s against
//! the built-in origin with a 150 ms delay injected before every segment's first byte.
//! The measuring proxy's per-kind request counts and bytes must equal the origin's access
//! log exactly (FFmpeg's own initial playlist loads and the swarm's probes included), the
//! segment TTFB p50 must be 150 ms ± 5 ms, and no FFmpeg may be left running.

mod common;

use std::time::Duration;

use common::{Lab, as_args, assert_exact_counts_and_bytes, config, ffmpeg_args, run};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::event::RequestKind;

const VIEWERS: u64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_counts_bytes_and_ttfb_equal_the_origin() {
    let mut faults = FaultConfig::default();
    faults.delay.segment = Duration::from_millis(150);
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let args = ffmpeg_args(&url, VIEWERS, 25, "30s", &[]);
    let report = run(config(&as_args(&args))).await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    assert_eq!(report.engine, "ffmpeg");
    let f = s.ffmpeg.clone().expect("ffmpeg stats");

    // Exact equality per kind, and bytes.
    assert_exact_counts_and_bytes(s, &log, "proxy");
    assert!(
        s.kind(RequestKind::Segment).count >= VIEWERS * 25,
        "{} segments",
        s.kind(RequestKind::Segment).count
    );
    // Every viewer ran FFmpeg: its User-Agent reached the origin through the proxy.
    let uas: std::collections::BTreeSet<&str> = log
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.ua.as_str())
        .collect();
    assert_eq!(uas.len() as u64, VIEWERS);

    // The injected delay is what the proxy measured.
    let seg = s.kind(RequestKind::Segment);
    let p50_ms = seg.ttfb.p50 * 1e3;
    assert!(
        (p50_ms - 150.0).abs() <= 5.0,
        "segment TTFB p50 {p50_ms:.2} ms, injected 150 ms"
    );
    let pl_p50_ms = s.kind(RequestKind::Playlist).ttfb.p50 * 1e3;
    assert!(pl_p50_ms < 50.0, "playlist TTFB p50 {pl_p50_ms:.2} ms");

    // Healthy run: no errors, everyone played, every process stopped by the swarm.
    assert_eq!(s.total_errors(), 0, "errors: {:?}", s.errors_by_class());
    assert!(log.iter().all(|l| l.status == 200 || l.status == 206));
    assert_eq!(s.peak_active, VIEWERS);
    assert_eq!(s.startup.count, VIEWERS, "every FFmpeg started playing");
    assert_eq!(s.totals.exits_failure, 0);
    assert_eq!(f.spawns, VIEWERS);
    assert_eq!(f.exits.killed_by_swarm, VIEWERS);
    assert_eq!(f.processes, 0, "no FFmpeg left running");
    assert!(!f.requests_approximate);
    assert!(f.cpu_seconds_total > 0.0 && f.memory_pss_peak_bytes > 0);
    assert_eq!(s.events_dropped, 0);
}

//! Error accounting of the FFmpeg engine: with random 503s on segments and 404s on media
//! playlists at the origin, the proxy's per-kind counts, errors, statuses and bytes equal
//! the origin's access log, and FFmpeg keeps playing (its failed requests are not viewer
//! failures).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Lab, as_args, config, counts_by_kind, ffmpeg_args, run};
use hls_swarm::origin::{ErrorRate, FaultConfig};
use hls_swarm::stats::event::RequestKind;

const VIEWERS: u64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_errors_are_counted_exactly() {
    let mut faults = FaultConfig::default();
    faults.error.segment = Some(ErrorRate {
        status: 503,
        probability: 0.1,
    });
    faults.error.playlist = Some(ErrorRate {
        status: 404,
        probability: 0.05,
    });
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let args = ffmpeg_args(&url, VIEWERS, 20, "15s", &[]);
    let report = run(config(&as_args(&args))).await;
    let log = lab.finish().await;
    let s = &report.snapshot;

    let by_kind = counts_by_kind(&log);
    for (kind, name) in [
        (RequestKind::Master, "master"),
        (RequestKind::Playlist, "playlist"),
        (RequestKind::Segment, "segment"),
    ] {
        let logged: Vec<_> = log.iter().filter(|l| l.kind == name).collect();
        assert_eq!(
            s.kind(kind).count,
            by_kind.get(name).copied().unwrap_or(0),
            "{name} requests"
        );
        let failed = logged.iter().filter(|l| l.status >= 400).count() as u64;
        assert_eq!(s.kind(kind).errors, failed, "{name} errors");
        let bytes: u64 = logged.iter().map(|l| l.bytes).sum();
        assert_eq!(s.kind(kind).bytes, bytes, "{name} bytes");
    }
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for l in log.iter().filter(|l| l.status >= 400) {
        *statuses.entry(l.status).or_default() += 1;
    }
    assert_eq!(s.totals.by_status, statuses);
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "faults fired");
    assert_eq!(s.peak_active, VIEWERS);
    assert!(s.startup.count >= VIEWERS, "every FFmpeg played");
}

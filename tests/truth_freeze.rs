//! Truth test: a playlist freeze at the origin makes every viewer stall once; each stall's
//! length matches the player model fed with the origin's own download timeline (within
//! 20 %), and the stalled count returns to zero afterwards.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Lab, config, run};
use hls_swarm::origin::{FaultConfig, Freeze};
use hls_swarm::player::{Player, Transition};
use tokio::time::Instant;

const VIEWERS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlist_freeze_stalls_every_viewer_for_the_modelled_time() {
    let faults = FaultConfig {
        freeze: Some(Freeze {
            from: Duration::from_secs(10),
            duration: Duration::from_secs(7),
        }),
        ..FaultConfig::default()
    };
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let n = VIEWERS.to_string();
    let report = run(config(&[
        &url,
        "-clients",
        &n,
        "-ramp-rate",
        "40",
        "-variant",
        "lowest",
        "-duration",
        "26s",
    ]))
    .await;
    let log = lab.finish().await;
    let s = &report.snapshot;

    // Every viewer stalled exactly once, all at the same time, and none is stalled at the end.
    assert_eq!(s.stalls(), VIEWERS, "stalls: {}", s.stalls());
    assert_eq!(s.stall_durations.count, VIEWERS);
    assert_eq!(s.peak_stalled, VIEWERS);
    assert_eq!(report.stalled_at_end, 0);

    // The model fed with ground truth: each viewer's segment completions as the origin saw them.
    let mut done: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let t0 = log.iter().map(|l| l.ts).fold(f64::INFINITY, f64::min);
    for l in log.iter().filter(|l| l.kind == "segment") {
        done.entry(l.ua.clone())
            .or_default()
            .push(l.ts + l.duration_ms / 1e3 - t0);
    }
    assert_eq!(done.len() as u64, VIEWERS);
    let base = Instant::now();
    let at = |secs: f64| base + Duration::from_secs_f64(secs.max(0.0));
    let mut expected = Vec::new();
    for (ua, mut times) in done {
        times.sort_by(f64::total_cmp);
        let mut p = Player::new(base, 1, Duration::from_millis(1));
        let mut stalls = Vec::new();
        for t in times {
            for tr in p.on_buffered(0, Duration::from_secs(1), at(t)) {
                if let Transition::StallEnded { stalled } = tr {
                    stalls.push(stalled.as_secs_f64());
                }
            }
        }
        assert_eq!(stalls.len(), 1, "{ua}: model stalls {stalls:?}");
        expected.push(stalls[0]);
    }
    expected.sort_by(f64::total_cmp);
    let (emin, emax) = (expected[0], expected[expected.len() - 1]);
    let esum: f64 = expected.iter().sum();
    let got = &s.stall_durations;
    // Histogram min is not exported; p50 and max bracket the distribution well enough.
    assert!(
        got.max <= emax * 1.2 && got.max >= emin * 0.8,
        "max stall {} vs model {emin}..{emax}",
        got.max
    );
    assert!(
        got.p50 >= emin * 0.8 && got.p50 <= emax * 1.2,
        "median stall {} vs model {emin}..{emax}",
        got.p50
    );
    let total = s.stall_seconds();
    assert!(
        (total - esum).abs() <= esum * 0.2,
        "total stall {total:.2}s vs model {esum:.2}s"
    );
    // A 7 s freeze with a ~3 s buffer: stalls of roughly 4 s.
    assert!(emin > 2.0 && emax < 6.5, "model stalls {expected:?}");
}

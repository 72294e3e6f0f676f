//! The abandon rule against figures worked out by hand. Ladder 0.2/0.8/2/5 Mbit/s,
//! 4 s fragments, TTFB estimate 100 ms, last playlist load 50 ms: a switch costs
//! 0.25 s on top of the fragment's transfer.

use std::time::Duration;

use super::*;
use crate::engine::abr::{Abr, AbrSettings, StartRung, Switch};

fn ladder() -> Vec<Rung> {
    [200_000, 800_000, 2_000_000, 5_000_000]
        .into_iter()
        .map(|bandwidth| Rung {
            bandwidth,
            average_bandwidth: None,
        })
        .collect()
}

fn ctx(rungs: &[Rung], rung: usize, buffer_ms: u64, live: bool) -> Context<'_> {
    Context {
        rungs,
        rung,
        estimate_bps: 6e6,
        ttfb_estimate: Duration::from_millis(100),
        buffer: Duration::from_millis(buffer_ms),
        fragment: Duration::from_secs(4),
        live,
        playlist_load: Duration::from_millis(50),
    }
}

/// A 5 Mbit/s fragment (2.5 MB) of which `loaded` bytes arrived by `elapsed_ms`, the
/// head after 100 ms.
fn loading(elapsed_ms: u64, loaded: u64) -> Loading {
    Loading {
        elapsed: Duration::from_millis(elapsed_ms),
        ttfb: Some(Duration::from_millis(100)),
        loaded,
        content_length: Some(2_500_000),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn abandons_to_the_highest_lower_rung_that_arrives_in_time_live() {
    let r = ladder();
    // 1.16 MB in 2.9 s of body: 400 kB/s = 3.2 Mbit/s. The rest (1.34 MB) needs 3.35 s,
    // the buffer holds 1.5 s. Rung 2 would need 0.1 + 8/3.2 + 0.25 = 2.85 s (too late),
    // rung 1 0.1 + 3.2/3.2 + 0.25 = 1.25 s (in time); 3.35 > 2 × 1.25: abort at once.
    let e = check(&ctx(&r, 3, 1_500, true), &loading(3_000, 1_160_000)).unwrap();
    assert_eq!((e.below, e.next), (1, 1));
    assert!(close(e.finish_secs, 3.35), "{}", e.finish_secs);
    assert!(close(e.lower_secs, 1.25), "{}", e.lower_secs);
    assert_eq!(e.abort_after, Some(Duration::ZERO));
    assert_eq!(
        e.partial,
        Partial::Download {
            time: Duration::from_millis(2_900),
            bytes: 1_160_000
        }
    );
}

#[test]
fn for_vod_the_switch_level_must_also_arrive_before_the_buffer_runs_dry() {
    let r = ladder();
    // As above, but not live: at an estimate of 0.8 Mbit/s rung 1's fragment takes
    // 0.1 + 4 = 4.1 s > 1.5 s, rung 0's 0.1 + 1 = 1.1 s: hls.js `findBestLevel` picks
    // rung 0, the lowest, so the download is not aborted (it finishes, the next
    // fragment comes from rung 0).
    let e = check(&ctx(&r, 3, 1_500, false), &loading(3_000, 1_160_000)).unwrap();
    assert_eq!((e.below, e.next), (1, 0));
    assert_eq!(e.abort_after, None);
}

#[test]
fn the_abort_waits_for_the_lower_fragment_time_unless_twice_as_slow() {
    let r = ladder();
    // 1.45 MB in 2.9 s: 500 kB/s = 4 Mbit/s; the rest needs 2.1 s, rung 1 1.05 s:
    // not more than twice, so the abort waits 1.05 s.
    let e = check(&ctx(&r, 3, 1_500, true), &loading(3_000, 1_450_000)).unwrap();
    assert_eq!(e.next, 1);
    assert!(close(e.finish_secs, 2.1) && close(e.lower_secs, 1.05));
    assert_eq!(e.abort_after, Some(Duration::from_secs_f64(e.lower_secs)));
}

#[test]
fn too_early_to_judge() {
    let r = ladder();
    // Half the fragment (2 s) must have passed; the same load judged just after fires.
    let c = ctx(&r, 3, 1_500, true);
    assert_eq!(check(&c, &loading(2_000, 770_000)), None);
    assert!(check(&c, &loading(2_100, 770_000)).is_some());
    // Or the TTFB estimate, if longer.
    let slow = Context {
        ttfb_estimate: Duration::from_secs(3),
        ..c
    };
    assert_eq!(check(&slow, &loading(2_900, 770_000)), None);
}

#[test]
fn no_abandon_when_the_rest_arrives_before_the_buffer_runs_dry() {
    let r = ladder();
    // 1.5 MB in 2.9 s: the last 1 MB needs 1.93 s; 2 s of buffer suffices, 1.9 s not
    // (then rung 1 would take 0.1 + 0.77 + 0.25 = 1.12 s).
    assert_eq!(
        check(&ctx(&r, 3, 2_000, true), &loading(3_000, 1_500_000)),
        None
    );
    let e = check(&ctx(&r, 3, 1_900, true), &loading(3_000, 1_500_000)).unwrap();
    assert_eq!(e.next, 1);
    // A finished body is never abandoned.
    assert_eq!(
        check(&ctx(&r, 3, 0, true), &loading(3_000, 2_500_000)),
        None
    );
}

#[test]
fn no_abandon_when_no_lower_rung_helps() {
    let r = ladder();
    // The lowest rung has nowhere to go; from rung 1 hls.js's search (which stops above
    // the lowest rung) finds nothing either.
    assert_eq!(check(&ctx(&r, 0, 0, true), &loading(3_000, 1_000)), None);
    assert_eq!(check(&ctx(&r, 1, 0, true), &loading(3_000, 1_000)), None);
    // 0.1 MB left of 2.5 at 0.83 MB/s: 0.12 s, sooner than any switch (≥ 0.35 s).
    assert_eq!(
        check(&ctx(&r, 3, 100, true), &loading(3_000, 2_400_000)),
        None
    );
    // 10 kB/s: rung 1's fragment would take 40.25 s, over 10 × 4 s: not worth it.
    assert_eq!(check(&ctx(&r, 3, 0, true), &loading(3_000, 29_000)), None);
    assert!(check(&ctx(&r, 3, 0, true), &loading(3_000, 30_000)).is_some());
}

#[test]
fn without_a_first_byte_the_estimate_judges_and_the_wait_is_a_ttfb_sample() {
    let r = ladder();
    // No head yet: the whole 2.5 MB at 6 Mbit/s + 0.1 s = 3.43 s > 1.5 s; rung 1 at
    // 6 Mbit/s: 0.1 + 0.533 + 0.25 = 0.883 s.
    let l = Loading {
        elapsed: Duration::from_secs(3),
        ttfb: None,
        loaded: 0,
        content_length: None,
    };
    let e = check(&ctx(&r, 3, 1_500, true), &l).unwrap();
    assert_eq!(e.next, 1);
    assert!(
        close(e.finish_secs, 2.5e6 * 8.0 / 6e6 + 0.1),
        "{}",
        e.finish_secs
    );
    assert!(
        close(e.lower_secs, 0.1 + 3.2e6 / 6e6 + 0.15),
        "{}",
        e.lower_secs
    );
    assert_eq!(e.partial, Partial::Ttfb(Duration::from_secs(3)));
}

#[test]
fn the_lowest_switch_is_the_lowest_rung() {
    let r = ladder();
    let d = Duration::from_secs(4);
    let t = Duration::from_millis(100);
    assert_eq!(lowest_switch(&r, 2, Duration::from_secs(1), d, t, true), 0);
    assert_eq!(lowest_switch(&r, 2, Duration::from_secs(1), d, t, false), 0);
    assert_eq!(lowest_switch(&r, 9, Duration::ZERO, d, t, false), 0);
}

#[test]
fn the_controller_samples_resets_switches_and_aborts() {
    let settings = AbrSettings {
        start: StartRung::Highest,
        ..AbrSettings::default()
    };
    let mut a = Abr::new(ladder(), settings);
    a.playlist_loaded(Duration::from_millis(50));
    // A first fragment at 8 Mbit/s: the estimate is 8 Mbit/s.
    a.segment_loaded(Duration::from_secs(1), None, 1_000_000);
    assert!(close(a.estimator().estimate(), 8e6));
    let four = Duration::from_secs(4);
    // Too early: nothing changes.
    let early = loading(1_000, 100_000);
    assert_eq!(a.abandon_check(3, &early, Duration::ZERO, four, true), None);
    assert_eq!(a.current(), 3);
    // The TTFB estimate is the default 100 ms, the buffer 1.5 s: as in the first test.
    let (e, switch) = a
        .abandon_check(
            3,
            &loading(3_000, 1_160_000),
            Duration::from_millis(1_500),
            four,
            true,
        )
        .unwrap();
    assert_eq!(e.next, 1);
    assert_eq!(switch, Some(Switch { from: 3, to: 1 }));
    assert_eq!(a.current(), 1);
    // The partial sample (3.2 Mbit/s over 2.9 s) left the estimate well above 0.8 / 0.7
    // Mbit/s, so the estimator restarted from rung 1's bitrate.
    assert!(!a.estimator().can_estimate());
    assert_eq!(a.estimator().estimate(), 800_000.0);
    // The abort drops to the lowest rung, the estimate to its bitrate.
    let abort = a.abort(e.next, Duration::from_millis(1_500), four, true);
    assert_eq!(abort, Some(Switch { from: 1, to: 0 }));
    assert_eq!(a.current(), 0);
    assert_eq!(a.estimator().estimate(), 200_000.0);
}

#[test]
fn a_slow_partial_sample_is_kept_when_below_the_rung_found() {
    let mut r = ladder();
    r[0].bandwidth = 400_000;
    let mut a = Abr::new(
        r,
        AbrSettings {
            start: StartRung::Highest,
            ..AbrSettings::default()
        },
    );
    // No download yet (estimate: the 500 kbit/s default); no head after 3 s: a TTFB
    // sample. Rung 1 would take 0.1 + 6.4 + 0.25 s, too long for 4.1 s: the rung found
    // below is the lowest, and 0.5 × 0.7 < 0.4 Mbit/s, so no reset.
    let l = Loading {
        elapsed: Duration::from_secs(3),
        ttfb: None,
        loaded: 0,
        content_length: None,
    };
    let four = Duration::from_secs(4);
    let (e, switch) = a
        .abandon_check(3, &l, Duration::from_secs(20), four, true)
        .unwrap();
    assert_eq!((e.below, e.next, e.abort_after), (0, 0, None));
    assert_eq!(switch, Some(Switch { from: 3, to: 0 }));
    assert_eq!(e.partial, Partial::Ttfb(Duration::from_secs(3)));
    assert!(a.estimator().ttfb_estimate() > Duration::from_secs(2));
    assert_eq!(a.estimator().estimate(), 500_000.0);
}

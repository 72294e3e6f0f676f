//! The estimator and the decision against figures worked out by hand.

use std::time::Duration;

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn one_sample_is_its_own_average_whatever_its_weight() {
    for w in [0.01, 1.0, 7.5] {
        let mut e = Ewma::new(3.0);
        e.sample(w, 42.0);
        assert!(close(e.estimate(), 42.0), "{w}: {}", e.estimate());
        assert!(close(e.total_weight(), w));
    }
}

#[test]
fn two_samples_mix_by_weight_and_half_life() {
    // Half-life 2: a weight of 2 keeps half of what came before.
    let mut e = Ewma::new(2.0);
    e.sample(2.0, 10.0);
    e.sample(2.0, 20.0);
    // raw: 10·½ = 5, then 20·½ + 5·½ = 12.5; bias: 1 − ½² = ¾ → 16⅔.
    assert!(close(e.estimate(), 50.0 / 3.0), "{}", e.estimate());
}

/// The closed form of two samples (v1 with weight w1, then v2 with w2) for half-life h.
fn two(h: f64, (w1, v1): (f64, f64), (w2, v2): (f64, f64)) -> f64 {
    let a = 0.5f64.powf(1.0 / h);
    (v2 * (1.0 - a.powf(w2)) + a.powf(w2) * v1 * (1.0 - a.powf(w1))) / (1.0 - a.powf(w1 + w2))
}

#[test]
fn the_estimate_is_the_smaller_average_and_falls_faster_than_it_rises() {
    let mut b = BandwidthEstimator::new(HalfLives::default());
    assert!(!b.can_estimate());
    assert_eq!(b.estimate(), DEFAULT_ESTIMATE_BPS);
    // 125 000 bytes in 1 s = 1 Mbit/s.
    b.sample(Duration::from_secs(1), 125_000);
    assert!(close(b.estimate(), 1e6), "{}", b.estimate());
    // Then 2 Mbit/s for 1 s: the slow average (half-life 9) is the smaller one.
    b.sample(Duration::from_secs(1), 250_000);
    let fast = two(3.0, (1.0, 1e6), (1.0, 2e6));
    let slow = two(9.0, (1.0, 1e6), (1.0, 2e6));
    assert!(slow < fast);
    assert!(close(b.estimate(), slow), "{} vs {slow}", b.estimate());

    // Falling from 2 to 1 Mbit/s, the fast average leads.
    let mut d = BandwidthEstimator::new(HalfLives::default());
    d.sample(Duration::from_secs(1), 250_000);
    d.sample(Duration::from_secs(1), 125_000);
    let fast = two(3.0, (1.0, 2e6), (1.0, 1e6));
    assert!(close(d.estimate(), fast), "{} vs {fast}", d.estimate());
}

#[test]
fn empty_and_instant_downloads() {
    let mut b = BandwidthEstimator::new(HalfLives::default());
    b.sample(Duration::from_secs(1), 0);
    assert!(!b.can_estimate(), "0 bytes is no sample");
    // 1 MB "in" 1 ms counts as min(50 ms, 1e6 / 100 000 = 10 ms): 800 Mbit/s.
    b.sample(Duration::from_millis(1), 1_000_000);
    assert!(close(b.estimate(), 8e8), "{}", b.estimate());
}

#[test]
fn ttfb_average_starts_at_the_default() {
    let mut b = BandwidthEstimator::new(HalfLives::default());
    assert_eq!(b.ttfb_estimate(), DEFAULT_TTFB);
    b.sample_ttfb(Duration::from_millis(40));
    let got = b.ttfb_estimate().as_secs_f64();
    assert!((got - 0.040).abs() < 1e-6, "{got}");
    b.sample_ttfb(Duration::from_millis(1));
    assert!(
        b.ttfb_estimate() < Duration::from_millis(40),
        "values under 5 ms count as 5 ms"
    );
    assert!(b.ttfb_estimate() > Duration::from_millis(5));
}

const LADDER: [Rung; 3] = [
    Rung {
        bandwidth: 200_000,
        average_bandwidth: None,
    },
    Rung {
        bandwidth: 800_000,
        average_bandwidth: None,
    },
    Rung {
        bandwidth: 2_000_000,
        average_bandwidth: None,
    },
];

fn live(estimate_bps: f64) -> Situation {
    Situation {
        estimate_bps,
        ttfb: Duration::from_millis(100),
        buffer: Duration::from_secs(4),
        fragment: Duration::from_secs(2),
        live: true,
    }
}

#[test]
fn going_up_takes_the_up_factor_and_staying_the_down_factor() {
    // 0.7 × 1.0 M = 700 k < 800 k: rung 0 stays.
    assert_eq!(next_rung(&LADDER, 0, &live(1_000_000.0)), 0);
    // 0.7 × 1.2 M = 840 k ≥ 800 k: up to rung 1, not 2 (0.7 × 1.2 M < 2 M).
    assert_eq!(next_rung(&LADDER, 0, &live(1_200_000.0)), 1);
    // From rung 1, 1 M keeps it: 0.95 × 1 M = 950 k ≥ 800 k.
    assert_eq!(next_rung(&LADDER, 1, &live(1_000_000.0)), 1);
    // 0.7 × 3 M = 2.1 M ≥ 2 M: straight to the top.
    assert_eq!(next_rung(&LADDER, 0, &live(3_000_000.0)), 2);
    // At the top, 0.95 × 2.2 M = 2.09 M keeps it; 0.95 × 2.1 M = 1.995 M does not.
    assert_eq!(next_rung(&LADDER, 2, &live(2_200_000.0)), 2);
    assert_eq!(next_rung(&LADDER, 2, &live(2_100_000.0)), 1);
    // Nothing fits: the lowest rung.
    assert_eq!(next_rung(&LADDER, 2, &live(100_000.0)), 0);
    // A single rung is always rung 0.
    assert_eq!(next_rung(&LADDER[..1], 0, &live(1.0)), 0);
}

#[test]
fn the_average_bitrate_counts_once_two_segments_are_buffered() {
    let mut ladder = LADDER;
    ladder[2].average_bandwidth = Some(1_500_000);
    // 0.7 × 2.2 M = 1.54 M: enough for the average (1.5 M), not the peak (2 M).
    let mut s = live(2_200_000.0);
    s.buffer = Duration::from_secs(4);
    assert_eq!(next_rung(&ladder, 1, &s), 2);
    s.buffer = Duration::from_millis(3_999);
    assert_eq!(next_rung(&ladder, 1, &s), 1);
}

#[test]
fn an_ended_stream_must_load_the_segment_before_the_buffer_runs_dry() {
    // 0.95 × 1 M is enough for rung 1, but a 4 s segment of it takes 0.1 + 3.37 s and
    // only 1 s is buffered: rung 0 (0.1 + 0.84 s) avoids the stall.
    let s = Situation {
        estimate_bps: 1_000_000.0,
        ttfb: Duration::from_millis(100),
        buffer: Duration::from_secs(1),
        fragment: Duration::from_secs(4),
        live: false,
    };
    assert_eq!(next_rung(&LADDER, 1, &s), 0);
    assert_eq!(next_rung(&LADDER, 1, &Situation { live: true, ..s }), 1);
    // With more buffer, rung 1 fits the budget.
    let roomy = Situation {
        buffer: Duration::from_secs(5),
        ..s
    };
    assert_eq!(next_rung(&LADDER, 1, &roomy), 1);
}

#[test]
fn the_rung_changes_only_at_a_segment_boundary() {
    let mut abr = Abr::new(LADDER.to_vec(), AbrSettings::default());
    assert_eq!(abr.current(), 0);
    // No download yet: the start rung stays, whatever the default estimate says.
    assert_eq!(
        abr.at_boundary(Duration::ZERO, Duration::from_secs(2), true),
        None
    );
    // A fast download (5 Mbit/s) is folded in, but the rung stays until the boundary.
    abr.segment_loaded(
        Duration::from_millis(1100),
        Some(Duration::from_millis(100)),
        625_000,
    );
    assert_eq!(abr.current(), 0);
    let est = abr.estimator().estimate();
    assert!(close(est, 5e6), "TTFB taken out of the load time: {est}");
    let switch = abr.at_boundary(Duration::from_secs(4), Duration::from_secs(2), true);
    assert_eq!(switch, Some(Switch { from: 0, to: 2 }));
    assert_eq!(abr.current(), 2);
    assert_eq!(
        abr.at_boundary(Duration::from_secs(4), Duration::from_secs(2), true),
        None
    );
}

#[test]
fn start_rungs_parse_and_fit_the_ladder() {
    assert_eq!("lowest".parse::<StartRung>(), Ok(StartRung::Lowest));
    assert_eq!("HIGHEST".parse::<StartRung>(), Ok(StartRung::Highest));
    assert_eq!("2".parse::<StartRung>(), Ok(StartRung::Index(2)));
    assert!("16".parse::<StartRung>().is_err());
    assert!("middle".parse::<StartRung>().is_err());
    assert_eq!(StartRung::Highest.index(3), 2);
    assert_eq!(StartRung::Index(7).index(3), 2);
    assert_eq!(StartRung::Lowest.index(3), 0);
    assert_eq!(
        "1.5,4".parse::<HalfLives>(),
        Ok(HalfLives {
            fast: 1.5,
            slow: 4.0
        })
    );
    for bad in ["3", "0,9", "3,x", "-1,2", "3,inf"] {
        assert!(bad.parse::<HalfLives>().is_err(), "{bad}");
    }
}

#[test]
fn the_ledger_credits_played_time_to_the_rung_it_came_from() {
    let mut l = RungLedger::default();
    let s = Duration::from_secs;
    l.buffered(0, s(2));
    l.buffered(0, s(2));
    l.buffered(2, s(2));
    assert_eq!(l.played(s(3)), vec![(0, s(3))]);
    assert_eq!(l.played(s(2)), vec![(0, s(1)), (2, s(1))]);
    // More than recorded goes to the last rung known.
    assert_eq!(l.played(s(3)), vec![(2, s(3))]);
    l.buffered(1, s(2));
    l.clear();
    assert_eq!(l.played(s(1)), vec![(1, s(1))]);
    for i in 0..200 {
        l.buffered(i % 2, s(1));
    }
    assert!(l.queue.len() <= RungLedger::CAPACITY);
}

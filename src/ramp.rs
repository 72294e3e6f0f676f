//! The ramp: when each viewer starts, at an exact mean rate with symmetric jitter.
//!
//! Viewer `i` starts at `i / rate` plus a jitter drawn uniformly from `[-j, +j]`, where `j`
//! is `-ramp-jitter` capped at half the ramp interval. Because the jitter is symmetric and
//! zero-mean, the mean start rate equals `-ramp-rate` exactly (the Go tool added only
//! positive jitter, which made its real rate lower than configured). The cap keeps start
//! times in order. Viewer 0 never starts before time zero.
//!
//! Time zero is when the stream answered, or the `--start-at` instant ([`RampAnchor`]):
//! a process that reaches it early waits; one that reaches it late *catches up*: the
//! schedule stays anchored to the agreed instant, so the viewers whose slot has passed
//! start at once and the rest keep their slots, and `-duration` still ends at the
//! instant plus the duration. That keeps the combined ramp of N shards the asked one.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// Start offsets of a ramp. Pure and reproducible for a given seed.
#[derive(Debug, Clone)]
pub struct RampSchedule {
    interval: f64,
    jitter: f64,
    seed: u64,
}

impl RampSchedule {
    /// A ramp of `rate` viewers per second (> 0, fractional allowed) with up to `jitter`
    /// of symmetric jitter per start.
    pub fn new(rate: f64, jitter: Duration, seed: u64) -> Self {
        let interval = if rate > 0.0 && rate.is_finite() {
            1.0 / rate
        } else {
            0.0
        };
        RampSchedule {
            interval,
            jitter: jitter.as_secs_f64().min(interval / 2.0),
            seed,
        }
    }

    /// The effective jitter bound after the half-interval cap.
    pub fn effective_jitter(&self) -> Duration {
        Duration::from_secs_f64(self.jitter)
    }

    /// Offset from the ramp start at which viewer `index` starts.
    pub fn start_offset(&self, index: u64) -> Duration {
        let nominal = index as f64 * self.interval;
        let jitter = if self.jitter > 0.0 {
            let mut rng =
                SmallRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            rng.random_range(-self.jitter..=self.jitter)
        } else {
            0.0
        };
        Duration::from_secs_f64((nominal + jitter).max(0.0))
    }

    /// When the last of `n` viewers starts (nominally).
    pub fn nominal_duration(&self, n: u64) -> Duration {
        Duration::from_secs_f64(n.saturating_sub(1) as f64 * self.interval)
    }
}

/// Where time zero of the ramp falls, seen from one reading of the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RampAnchor {
    /// How long until time zero (zero when it has passed).
    pub wait: Duration,
    /// How long ago time zero passed (zero when it is still ahead).
    pub late: Duration,
}

impl RampAnchor {
    /// Time zero at once (no `--start-at`).
    pub const NOW: RampAnchor = RampAnchor {
        wait: Duration::ZERO,
        late: Duration::ZERO,
    };

    /// Time zero at the wall-clock instant `start_at`, the clock reading `now`.
    pub fn at(start_at: SystemTime, now: SystemTime) -> RampAnchor {
        match start_at.duration_since(now) {
            Ok(wait) => RampAnchor {
                wait,
                late: Duration::ZERO,
            },
            Err(e) => RampAnchor {
                wait: Duration::ZERO,
                late: e.duration(),
            },
        }
    }

    /// Time zero on the monotonic clock, `now` being the same moment as the wall-clock
    /// reading; `None` if it lies before the monotonic clock's origin (late by more than
    /// the host's uptime).
    pub fn ramp_start(&self, now: Instant) -> Option<Instant> {
        now.checked_add(self.wait)?.checked_sub(self.late)
    }

    /// From the same moment, how long until the viewer whose ramp slot is `slot` starts
    /// (zero: at once, its slot has passed).
    pub fn due_in(&self, slot: Duration) -> Duration {
        (self.wait + slot).saturating_sub(self.late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn an_early_process_waits_for_the_instant() {
        let a = RampAnchor::at(wall(10_000), wall(8_000));
        assert_eq!(a.wait, Duration::from_secs(2));
        assert_eq!(a.late, Duration::ZERO);
        assert_eq!(a.due_in(Duration::ZERO), Duration::from_secs(2));
        assert_eq!(
            a.due_in(Duration::from_millis(500)),
            Duration::from_millis(2_500)
        );
        let now = Instant::now();
        assert_eq!(a.ramp_start(now), Some(now + Duration::from_secs(2)));
    }

    #[test]
    fn a_late_process_catches_up_on_the_anchored_schedule() {
        // Time zero passed 1.2 s ago: slots 0, 0.5 s and 1 s are due at once, the rest
        // keep their places on the agreed schedule.
        let a = RampAnchor::at(wall(10_000), wall(11_200));
        assert_eq!(
            (a.wait, a.late),
            (Duration::ZERO, Duration::from_millis(1_200))
        );
        let r = RampSchedule::new(2.0, Duration::ZERO, 1);
        let due: Vec<Duration> = (0..5).map(|i| a.due_in(r.start_offset(i))).collect();
        let ms = Duration::from_millis;
        assert_eq!(due, vec![ms(0), ms(0), ms(0), ms(300), ms(800)]);
        let now = Instant::now();
        if let Some(start) = a.ramp_start(now) {
            assert_eq!(now - start, ms(1_200));
        }
        assert_eq!(RampAnchor::at(wall(5), wall(5)), RampAnchor::NOW);
    }

    #[test]
    fn shards_keep_the_slots_of_the_whole_test() {
        use crate::config::Shard;
        let r = RampSchedule::new(7.0, Duration::from_millis(60), 9);
        let whole: Vec<(u64, Duration)> = (0..50).map(|i| (i, r.start_offset(i))).collect();
        let mut union: Vec<(u64, Duration)> = (0..3)
            .filter_map(|i| Shard::new(i, 3))
            .flat_map(|s| s.indices(50).map(|i| (i, r.start_offset(i))))
            .collect();
        union.sort();
        assert_eq!(union, whole);
    }

    #[test]
    fn no_jitter_is_exactly_periodic() {
        let r = RampSchedule::new(4.0, Duration::ZERO, 1);
        assert_eq!(r.start_offset(0), Duration::ZERO);
        assert_eq!(r.start_offset(1), Duration::from_millis(250));
        assert_eq!(r.start_offset(8), Duration::from_secs(2));
    }

    #[test]
    fn fractional_rate() {
        let r = RampSchedule::new(0.5, Duration::ZERO, 1);
        assert_eq!(r.start_offset(3), Duration::from_secs(6));
    }

    #[test]
    fn jitter_is_symmetric_so_the_mean_rate_is_exact() {
        let rate = 5.0;
        let r = RampSchedule::new(rate, Duration::from_millis(200), 42);
        // Cap: half of the 200 ms interval.
        assert_eq!(r.effective_jitter(), Duration::from_millis(100));
        let n = 20_000u64;
        let mut sum_dev = 0.0;
        let mut max_dev: f64 = 0.0;
        for i in 1..n {
            let dev = r.start_offset(i).as_secs_f64() - i as f64 / rate;
            sum_dev += dev;
            max_dev = max_dev.max(dev.abs());
        }
        let mean_dev = sum_dev / (n - 1) as f64;
        assert!(mean_dev.abs() < 0.002, "mean deviation {mean_dev}");
        assert!(max_dev <= 0.1 + 1e-9, "max deviation {max_dev}");
        assert!(max_dev > 0.09, "jitter unused: {max_dev}");
        // Mean rate over the whole ramp.
        let last = r.start_offset(n - 1).as_secs_f64();
        let measured_rate = (n - 1) as f64 / last;
        assert!(
            (measured_rate - rate).abs() / rate < 0.001,
            "{measured_rate}"
        );
    }

    #[test]
    fn starts_stay_ordered_and_reproducible() {
        let a = RampSchedule::new(10.0, Duration::from_secs(1), 7);
        let b = RampSchedule::new(10.0, Duration::from_secs(1), 7);
        let mut prev = Duration::ZERO;
        for i in 0..1000 {
            let t = a.start_offset(i);
            assert!(t >= prev);
            assert_eq!(t, b.start_offset(i));
            prev = t;
        }
    }
}

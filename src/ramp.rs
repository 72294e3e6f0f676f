//! The ramp: when each viewer starts, at an exact mean rate with symmetric jitter.
//!
//! Viewer `i` starts at `i / rate` plus a jitter drawn uniformly from `[-j, +j]`, where `j`
//! is `-ramp-jitter` capped at half the ramp interval. Because the jitter is symmetric and
//! zero-mean, the mean start rate equals `-ramp-rate` exactly (the Go tool added only
//! positive jitter, which made its real rate lower than configured). The cap keeps start
//! times in order. Viewer 0 never starts before time zero.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Exponential backoff with jitter, pure and reproducible.
//!
//! `initial × factorⁿ`, capped at `max`, then jittered by ±`jitter` (a fraction). The
//! attempt counter resets once the guarded thing stayed healthy for `reset_after`.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// Backoff parameters and state.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    factor: f64,
    max: Duration,
    jitter: f64,
    reset_after: Duration,
    attempt: u32,
    rng: SmallRng,
}

impl Backoff {
    /// The default: 250 ms × 1.7ⁿ, capped at 5 s, ±20 % jitter, reset after 30 s healthy.
    pub fn standard(seed: u64) -> Self {
        Backoff::new(
            Duration::from_millis(250),
            1.7,
            Duration::from_secs(5),
            0.2,
            Duration::from_secs(30),
            seed,
        )
    }

    /// Custom backoff.
    pub fn new(
        initial: Duration,
        factor: f64,
        max: Duration,
        jitter: f64,
        reset_after: Duration,
        seed: u64,
    ) -> Self {
        Backoff {
            initial,
            factor,
            max,
            jitter: jitter.clamp(0.0, 1.0),
            reset_after,
            attempt: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The un-jittered delay of attempt `n`.
    pub fn base_delay(&self, n: u32) -> Duration {
        let secs = self.initial.as_secs_f64() * self.factor.powi(n.min(64) as i32);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The next delay to wait, advancing the attempt counter.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base_delay(self.attempt).as_secs_f64();
        self.attempt = self.attempt.saturating_add(1);
        let j = if self.jitter > 0.0 {
            self.rng.random_range(-self.jitter..=self.jitter)
        } else {
            0.0
        };
        Duration::from_secs_f64((base * (1.0 + j)).max(0.0))
    }

    /// Tell the backoff how long the last attempt stayed healthy; long enough resets it.
    pub fn healthy_for(&mut self, uptime: Duration) {
        if uptime >= self.reset_after {
            self.attempt = 0;
        }
    }

    /// Reset the attempt counter now.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_grows_by_factor_and_caps() {
        let b = Backoff::standard(1);
        let ms: Vec<u128> = (0..8).map(|n| b.base_delay(n).as_millis()).collect();
        assert_eq!(ms, vec![250, 425, 722, 1228, 2088, 3549, 5000, 5000]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut b = Backoff::standard(9);
        for n in 0..50 {
            let base = b.base_delay(b.attempts()).as_secs_f64();
            let d = b.next_delay().as_secs_f64();
            assert!(
                d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9,
                "attempt {n}: {d} vs {base}"
            );
        }
    }

    #[test]
    fn resets_after_healthy_period() {
        let mut b = Backoff::standard(1);
        b.next_delay();
        b.next_delay();
        b.healthy_for(Duration::from_secs(10));
        assert_eq!(b.attempts(), 2);
        b.healthy_for(Duration::from_secs(30));
        assert_eq!(b.attempts(), 0);
    }
}

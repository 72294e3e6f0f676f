//! Arrival mode's schedule (`--arrival-rate`): viewers arrive as a Poisson process, so the
//! gaps between arrivals are exponential with mean `1 / rate`. Pure and reproducible:
//! the gap before arrival `k` is drawn from `-seed` and `k` alone, so the whole test's
//! schedule is the same in every process.
//!
//! Shards: arrival `k` of the whole test is viewer `-client-id-offset + k` and belongs to
//! shard `k mod N` (like a fixed crowd's viewer indices, [`crate::config::Shard`]). Every
//! shard walks the whole schedule and starts only its own arrivals, so N shards started
//! together make exactly the single-host run's arrivals, each at its instant.

use std::time::Duration;

use crate::config::bandwidth::{splitmix64, unit_open};
use crate::config::shard::Shard;

/// One arrival of the whole test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Arrival {
    /// Its index in the whole test (0, 1, 2, … in arrival order).
    pub index: u64,
    /// When it arrives, from time zero.
    pub offset: Duration,
}

/// The whole test's arrivals at `rate` per second, seeded `seed`: an endless iterator in
/// arrival order.
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    mean_gap: f64,
    seed: u64,
    next: u64,
    at: f64,
}

impl ArrivalSchedule {
    /// Arrivals at `rate` per second (> 0) on average.
    pub fn new(rate: f64, seed: u64) -> Self {
        ArrivalSchedule {
            mean_gap: if rate > 0.0 && rate.is_finite() {
                1.0 / rate
            } else {
                f64::INFINITY
            },
            seed,
            next: 0,
            at: 0.0,
        }
    }

    /// The gap before arrival `index`, seconds: exponential with the schedule's mean.
    pub fn gap(&self, index: u64) -> f64 {
        let h = splitmix64(self.seed ^ splitmix64(index ^ 0x6172_7269_7661_6c73));
        -self.mean_gap * unit_open(h).ln()
    }

    /// This shard's arrivals only (see the module doc).
    pub fn for_shard(self, shard: Shard) -> impl Iterator<Item = Arrival> {
        self.filter(move |a| shard.owns(a.index))
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        self.at += self.gap(self.next);
        if !self.at.is_finite() {
            return None;
        }
        let a = Arrival {
            index: self.next,
            offset: Duration::from_secs_f64(self.at.min(1e12)),
        };
        self.next += 1;
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_over_a_window_is_the_rate_within_sampling_error() {
        // Poisson: over T = 2000 s at 5/s the count has mean 10,000 and sd 100.
        let (rate, t) = (5.0, 2_000.0);
        let n = ArrivalSchedule::new(rate, 42)
            .take_while(|a| a.offset.as_secs_f64() < t)
            .count() as f64;
        assert!((n - rate * t).abs() < 400.0, "{n} arrivals");
    }

    #[test]
    fn gaps_are_exponential() {
        let rate = 2.0;
        let n = 20_000usize;
        let offsets: Vec<f64> = ArrivalSchedule::new(rate, 7)
            .take(n)
            .map(|a| a.offset.as_secs_f64())
            .collect();
        let mut gaps: Vec<f64> = std::iter::once(offsets[0])
            .chain(offsets.windows(2).map(|w| w[1] - w[0]))
            .collect();
        let mean = gaps.iter().sum::<f64>() / n as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Exponential: mean 1/rate = 0.5 (se 0.0035), variance 1/rate² = 0.25.
        assert!((mean - 0.5).abs() < 0.014, "mean gap {mean}");
        assert!((var - 0.25).abs() < 0.02, "variance {var}");
        // Kolmogorov–Smirnov against 1 - exp(-rate x): the 1 % critical value for
        // n = 20,000 is 1.63/sqrt(n) = 0.0115.
        gaps.sort_by(f64::total_cmp);
        let d = gaps
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let cdf = 1.0 - (-rate * g).exp();
                (cdf - i as f64 / n as f64)
                    .abs()
                    .max(((i + 1) as f64 / n as f64 - cdf).abs())
            })
            .fold(0.0, f64::max);
        assert!(d < 0.0115, "KS distance {d}");
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a: Vec<Arrival> = ArrivalSchedule::new(3.0, 9).take(500).collect();
        let b: Vec<Arrival> = ArrivalSchedule::new(3.0, 9).take(500).collect();
        let c: Vec<Arrival> = ArrivalSchedule::new(3.0, 10).take(500).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].offset <= w[1].offset));
        assert!(a.iter().enumerate().all(|(i, x)| x.index == i as u64));
    }

    #[test]
    fn shards_partition_the_same_arrivals() {
        let whole: Vec<Arrival> = ArrivalSchedule::new(4.0, 5).take(1_000).collect();
        let last = whole[whole.len() - 1].offset;
        for n in 1..=4u64 {
            let mut union: Vec<Arrival> = (0..n)
                .filter_map(|i| Shard::new(i, n))
                .flat_map(|s| {
                    ArrivalSchedule::new(4.0, 5)
                        .for_shard(s)
                        .take_while(move |a| a.offset <= last)
                })
                .collect();
            union.sort();
            assert_eq!(union, whole, "{n} shards");
        }
    }
}

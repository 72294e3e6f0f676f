//! The link rates the run's viewers got (`--viewer-bandwidth`): recorded by the engine as
//! it draws each viewer's rate, summarised for the reports (`bandwidth` in the JSON
//! report, docs/json-report.md). Memory is bounded: an HDR histogram of the rates (two
//! significant digits, so percentiles are within 1 %), exact min/max and mean, and the
//! running mean and variance of `ln(rate)` for the realised log-normal median and sigma.

use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::bandwidth::{BandwidthModel, MAX_BITS_PER_SECOND, MIN_BITS_PER_SECOND};

/// The rates drawn so far, one per viewer.
#[derive(Debug)]
pub struct LinkRates {
    model: BandwidthModel,
    inner: Mutex<Tally>,
}

#[derive(Debug)]
struct Tally {
    histogram: Histogram<u64>,
    min: u64,
    max: u64,
    sum: f64,
    /// Running mean of `ln(rate)` and sum of squared deviations from it (Welford's
    /// update, exact for equal rates where sums of squares cancel badly).
    mean_ln: f64,
    m2_ln: f64,
}

/// The configured model and the realised distribution of viewers' link rates (bits per
/// second).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatesSummary {
    /// The model, as `--viewer-bandwidth` spells it, rates in bit/s (e.g.
    /// `lognormal:median=8000000,sigma=0.5`).
    pub model: String,
    /// Viewers whose rate was drawn.
    pub viewers: u64,
    /// Slowest link.
    pub min_bits_per_second: u64,
    /// Fastest link.
    pub max_bits_per_second: u64,
    /// Mean rate.
    pub mean_bits_per_second: f64,
    /// 10th, 50th and 90th percentiles (within 1 %).
    pub p10_bits_per_second: u64,
    /// Median.
    pub p50_bits_per_second: u64,
    /// 90th percentile.
    pub p90_bits_per_second: u64,
    /// `exp(mean of ln(rate))`: the realised median of a log-normal model.
    pub geometric_mean_bits_per_second: f64,
    /// Standard deviation of `ln(rate)`: the realised sigma of a log-normal model.
    pub sigma_ln: f64,
}

impl LinkRates {
    /// An empty record of rates drawn from `model`.
    pub fn new(model: BandwidthModel) -> Self {
        // Bounds are constants known to be valid, so construction cannot fail.
        let histogram = Histogram::new_with_bounds(MIN_BITS_PER_SECOND, MAX_BITS_PER_SECOND, 2)
            .unwrap_or_else(|_| unreachable!());
        LinkRates {
            model,
            inner: Mutex::new(Tally {
                histogram,
                min: u64::MAX,
                max: 0,
                sum: 0.0,
                mean_ln: 0.0,
                m2_ln: 0.0,
            }),
        }
    }

    /// The model the rates are drawn from.
    pub fn model(&self) -> BandwidthModel {
        self.model
    }

    /// Draw the rate of viewer `viewer_id` (seeded `seed`) and record it.
    pub fn draw(&self, seed: u64, viewer_id: u64) -> u64 {
        let rate = self.model.rate_for(seed, viewer_id);
        self.record(rate);
        rate
    }

    /// Record one viewer's rate.
    pub fn record(&self, rate: u64) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.histogram.saturating_record(rate);
        t.min = t.min.min(rate);
        t.max = t.max.max(rate);
        let ln = (rate.max(1) as f64).ln();
        t.sum += rate as f64;
        let n = t.histogram.len() as f64;
        let delta = ln - t.mean_ln;
        t.mean_ln += delta / n;
        t.m2_ln += delta * (ln - t.mean_ln);
    }

    /// The configured model and what was drawn so far.
    pub fn summary(&self) -> RatesSummary {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.histogram.len();
        let per = |v: f64| if n == 0 { 0.0 } else { v / n as f64 };
        let mean_ln = t.mean_ln;
        let var_ln = if n > 1 {
            (t.m2_ln / (n - 1) as f64).max(0.0)
        } else {
            0.0
        };
        let q = |p: f64| {
            if n == 0 {
                0
            } else {
                // The histogram's bucket value, kept within the exact extremes.
                t.histogram.value_at_quantile(p).clamp(t.min, t.max)
            }
        };
        RatesSummary {
            model: self.model.to_string(),
            viewers: n,
            min_bits_per_second: if n == 0 { 0 } else { t.min },
            max_bits_per_second: t.max,
            mean_bits_per_second: per(t.sum),
            p10_bits_per_second: q(0.10),
            p50_bits_per_second: q(0.50),
            p90_bits_per_second: q(0.90),
            geometric_mean_bits_per_second: if n == 0 { 0.0 } else { mean_ln.exp() },
            sigma_ln: var_ln.sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_of_the_rates_drawn() {
        let r = LinkRates::new(BandwidthModel::LogNormal {
            median: 8_000_000,
            sigma: 0.5,
        });
        assert_eq!(r.summary().viewers, 0);
        let drawn: Vec<u64> = (0..5_000).map(|id| r.draw(11, id)).collect();
        let s = r.summary();
        assert_eq!(s.model, "lognormal:median=8000000,sigma=0.5");
        assert_eq!(s.viewers, 5_000);
        assert_eq!(s.min_bits_per_second, *drawn.iter().min().unwrap_or(&0));
        assert_eq!(s.max_bits_per_second, *drawn.iter().max().unwrap_or(&0));
        let mut sorted = drawn.clone();
        sorted.sort_unstable();
        let exact_median = sorted[sorted.len() / 2] as f64;
        assert!((s.p50_bits_per_second as f64 / exact_median - 1.0).abs() < 0.01);
        let mean = drawn.iter().sum::<u64>() as f64 / drawn.len() as f64;
        assert!((s.mean_bits_per_second / mean - 1.0).abs() < 1e-9);
        // 5,000 draws: sigma within 4 standard errors (0.5/sqrt(10000) = 0.005).
        assert!((s.sigma_ln - 0.5).abs() < 0.02, "{}", s.sigma_ln);
        assert!((s.geometric_mean_bits_per_second / 8e6 - 1.0).abs() < 0.03);
    }

    #[test]
    fn a_fixed_model_realises_one_rate() {
        let r = LinkRates::new(BandwidthModel::Fixed(2_000_000));
        for id in 0..10 {
            assert_eq!(r.draw(1, id), 2_000_000);
        }
        let s = r.summary();
        assert_eq!(
            (
                s.p10_bits_per_second,
                s.p50_bits_per_second,
                s.p90_bits_per_second
            ),
            (2_000_000, 2_000_000, 2_000_000)
        );
        assert_eq!(s.sigma_ln, 0.0);
    }
}

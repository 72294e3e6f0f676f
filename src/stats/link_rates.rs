//! The link rates the run's viewers got (`--viewer-bandwidth`): recorded by the engine as
//! it draws each viewer's rate, summarised for the reports (`bandwidth` in the JSON
//! report, docs/json-report.md). Memory is bounded: an HDR histogram of the rates (two
//! significant digits, so percentiles are within 1 %), exact min/max and mean, and the
//! running mean and variance of `ln(rate)` for the realised log-normal median and sigma.
//!
//! [`RatesState`] is that tally taken at once: the JSON report's `merge.bandwidth`, so
//! `hls-swarm merge` adds the shards' tallies up (histograms added, extremes and sums
//! combined, the `ln` moments by Chan et al.'s pairwise update) and summarises the whole
//! test with the same code.

use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::bandwidth::{BandwidthModel, MAX_BITS_PER_SECOND, MIN_BITS_PER_SECOND};

/// The rates drawn so far, one per viewer.
#[derive(Debug)]
pub struct LinkRates {
    model: BandwidthModel,
    inner: Mutex<RatesState>,
}

/// The rates drawn, in mergeable form (the JSON report's `merge.bandwidth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatesState {
    /// The model, as `--viewer-bandwidth` spells it (in a merge of shards with different
    /// models, the distinct models joined by ` + `).
    pub model: String,
    /// The rates, bit/s (2 significant figures).
    #[serde(with = "rate_codec")]
    pub histogram: Histogram<u64>,
    /// Slowest rate (`u64::MAX` while none).
    pub min: u64,
    /// Fastest rate (0 while none).
    pub max: u64,
    /// Sum of the rates.
    pub sum: f64,
    /// Running mean of `ln(rate)`.
    pub mean_ln: f64,
    /// Sum of squared deviations of `ln(rate)` from that mean (Welford's update, exact
    /// for equal rates where sums of squares cancel badly).
    pub m2_ln: f64,
}

/// Upper bounds, bit/s, of the `/metrics` histogram of the viewers' link rates
/// (`hls_swarm_viewer_link_bits_per_second`): 250 kbit/s to 1 Gbit/s, around the usual
/// video ladder's rungs.
pub const LINK_BUCKETS: [f64; 14] = [
    250e3, 500e3, 1e6, 2e6, 3e6, 5e6, 8e6, 12e6, 20e6, 35e6, 50e6, 100e6, 250e6, 1e9,
];

/// The link rates drawn so far as `/metrics` exports them: a Prometheus histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRateBuckets {
    /// `(le, viewers whose rate is at or below le)`, cumulative, at [`LINK_BUCKETS`].
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the rates, bit/s, exactly.
    pub sum: f64,
    /// Viewers whose rate was drawn.
    pub count: u64,
}

/// An empty histogram of rates: [`MIN_BITS_PER_SECOND`]..=[`MAX_BITS_PER_SECOND`], two
/// significant figures (within 1 %).
fn rate_histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid, so construction cannot fail.
    Histogram::new_with_bounds(MIN_BITS_PER_SECOND, MAX_BITS_PER_SECOND, 2)
        .unwrap_or_else(|_| unreachable!())
}

/// Serde adapter for the rate histogram: base64 V2 ([`crate::stats::histogram_codec`]),
/// read back into [`rate_histogram`]'s bounds.
mod rate_codec {
    use hdrhistogram::Histogram;
    use serde::Deserialize;
    use serde::de::Error as _;

    pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::stats::histogram_codec::encode(h))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        crate::stats::histogram_codec::decode_into(&text, super::rate_histogram())
            .map_err(D::Error::custom)
    }
}

impl RatesState {
    /// No rates yet, drawn from `model` (as `--viewer-bandwidth` spells it).
    pub fn empty(model: String) -> Self {
        RatesState {
            model,
            histogram: rate_histogram(),
            min: u64::MAX,
            max: 0,
            sum: 0.0,
            mean_ln: 0.0,
            m2_ln: 0.0,
        }
    }

    /// Record one viewer's rate.
    pub fn record(&mut self, rate: u64) {
        self.histogram.saturating_record(rate);
        self.min = self.min.min(rate);
        self.max = self.max.max(rate);
        let ln = (rate.max(1) as f64).ln();
        self.sum += rate as f64;
        let n = self.histogram.len() as f64;
        let delta = ln - self.mean_ln;
        self.mean_ln += delta / n;
        self.m2_ln += delta * (ln - self.mean_ln);
    }

    /// Add another process's rates into these: histograms added (exact), extremes and
    /// sums combined, the `ln` mean and squared deviations by the pairwise update (exact
    /// but for floating-point rounding).
    pub fn merge(&mut self, o: &RatesState) {
        let (na, nb) = (self.histogram.len() as f64, o.histogram.len() as f64);
        if o.model != self.model && !self.model.split(" + ").any(|m| m == o.model) {
            self.model = format!("{} + {}", self.model, o.model);
        }
        if nb == 0.0 {
            return;
        }
        let n = na + nb;
        let delta = o.mean_ln - self.mean_ln;
        self.mean_ln += delta * nb / n;
        self.m2_ln += o.m2_ln + delta * delta * na * nb / n;
        // Same bounds on both sides (the codec decodes into them), so adding cannot fail.
        let _ = self.histogram.add(&o.histogram);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
    }

    /// Cumulative counts at `bounds` (bit/s), the sum and the count. A rate counts toward
    /// a bound when the bottom of its HDR bucket is at or below it: a rate equal to a
    /// bound is always inside (`le` is inclusive), and rates above it by less than the
    /// histogram's resolution (2 significant figures, < 1 %) may be too.
    pub fn buckets(&self, bounds: &[f64]) -> LinkRateBuckets {
        let h = &self.histogram;
        let mut per = vec![0u64; bounds.len()];
        for v in h.iter_recorded() {
            let rate = h.lowest_equivalent(v.value_iterated_to()) as f64;
            if let Some(i) = bounds.iter().position(|b| rate <= *b) {
                per[i] += v.count_at_value();
            }
        }
        let mut run = 0;
        LinkRateBuckets {
            buckets: bounds
                .iter()
                .zip(per)
                .map(|(b, n)| {
                    run += n;
                    (*b, run)
                })
                .collect(),
            sum: self.sum,
            count: h.len(),
        }
    }

    /// The model and the realised distribution.
    pub fn summary(&self) -> RatesSummary {
        let n = self.histogram.len();
        let per = |v: f64| if n == 0 { 0.0 } else { v / n as f64 };
        let var_ln = if n > 1 {
            (self.m2_ln / (n - 1) as f64).max(0.0)
        } else {
            0.0
        };
        let q = |p: f64| {
            if n == 0 {
                0
            } else {
                // The histogram's bucket value, kept within the exact extremes.
                self.histogram
                    .value_at_quantile(p)
                    .clamp(self.min, self.max)
            }
        };
        RatesSummary {
            model: self.model.clone(),
            viewers: n,
            min_bits_per_second: if n == 0 { 0 } else { self.min },
            max_bits_per_second: self.max,
            mean_bits_per_second: per(self.sum),
            p10_bits_per_second: q(0.10),
            p50_bits_per_second: q(0.50),
            p90_bits_per_second: q(0.90),
            geometric_mean_bits_per_second: if n == 0 { 0.0 } else { self.mean_ln.exp() },
            sigma_ln: var_ln.sqrt(),
        }
    }
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
        LinkRates {
            model,
            inner: Mutex::new(RatesState::empty(model.to_string())),
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
        self.lock().record(rate);
    }

    /// The rates drawn so far, in mergeable form.
    pub fn state(&self) -> RatesState {
        self.lock().clone()
    }

    /// The configured model and what was drawn so far.
    pub fn summary(&self) -> RatesSummary {
        self.lock().summary()
    }

    /// What was drawn so far as `/metrics` exports it (buckets at [`LINK_BUCKETS`]).
    pub fn buckets(&self) -> LinkRateBuckets {
        self.lock().buckets(&LINK_BUCKETS)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RatesState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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

    #[test]
    fn buckets_count_each_rate_at_its_bound_and_above() {
        let r = LinkRates::new(BandwidthModel::Fixed(2_000_000));
        for rate in [400_000, 2_000_000, 2_000_000, 7_990_000, 40_000_000_000] {
            r.record(rate);
        }
        let b = r.buckets();
        let at = |le: f64| {
            b.buckets
                .iter()
                .find(|(x, _)| *x == le)
                .map(|(_, n)| *n)
                .unwrap_or_else(|| panic!("no bucket {le}"))
        };
        assert_eq!(at(250e3), 0);
        assert_eq!(at(500e3), 1);
        assert_eq!(at(1e6), 1);
        assert_eq!(at(2e6), 3, "a rate equal to a bound is inside it");
        assert_eq!(at(5e6), 3);
        assert_eq!(at(8e6), 4);
        assert_eq!(at(1e9), 4, "40 Gbit/s is only in +Inf (the count)");
        assert_eq!(b.count, 5);
        assert_eq!(b.sum, 40_012_390_000.0);
    }

    #[test]
    fn merged_states_summarise_as_one_process_would() {
        let model = BandwidthModel::LogNormal {
            median: 8_000_000,
            sigma: 0.5,
        };
        let (a, b, whole) = (
            LinkRates::new(model),
            LinkRates::new(model),
            LinkRates::new(model),
        );
        for id in 0..3_000 {
            let r = if id % 3 == 0 { &a } else { &b };
            whole.record(r.draw(7, id));
        }
        let through_json = |s: RatesState| -> RatesState {
            serde_json::from_str(&serde_json::to_string(&s).expect("serialises")).expect("reads")
        };
        let mut merged = through_json(a.state());
        merged.merge(&through_json(b.state()));
        let (m, one) = (merged.summary(), whole.summary());
        assert_eq!(m.viewers, 3_000);
        assert_eq!(
            (
                m.model.as_str(),
                m.min_bits_per_second,
                m.max_bits_per_second,
                m.p10_bits_per_second,
                m.p50_bits_per_second,
                m.p90_bits_per_second
            ),
            (
                one.model.as_str(),
                one.min_bits_per_second,
                one.max_bits_per_second,
                one.p10_bits_per_second,
                one.p50_bits_per_second,
                one.p90_bits_per_second
            )
        );
        let close = |x: f64, y: f64| (x / y - 1.0).abs() < 1e-9;
        assert!(close(m.mean_bits_per_second, one.mean_bits_per_second));
        assert!(
            close(m.sigma_ln, one.sigma_ln),
            "{} {}",
            m.sigma_ln,
            one.sigma_ln
        );
        assert!(close(
            m.geometric_mean_bits_per_second,
            one.geometric_mean_bits_per_second
        ));
        // An empty shard changes nothing; another model is named.
        merged.merge(&RatesState::empty("fixed:2000000".into()));
        let m2 = merged.summary();
        assert_eq!(
            m2.model,
            "lognormal:median=8000000,sigma=0.5 + fixed:2000000"
        );
        assert_eq!((m2.viewers, m2.sigma_ln), (3_000, m.sigma_ln));
    }
}

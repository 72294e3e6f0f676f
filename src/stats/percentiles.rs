//! [`Percentiles`]: how every sink sees a duration distribution (p50 … max, mean).

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of a duration distribution, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Summarise a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let s = |us: u64| us as f64 / 1e6;
        Percentiles {
            count: h.len(),
            p50: s(h.value_at_quantile(0.50)),
            p90: s(h.value_at_quantile(0.90)),
            p95: s(h.value_at_quantile(0.95)),
            p99: s(h.value_at_quantile(0.99)),
            max: s(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

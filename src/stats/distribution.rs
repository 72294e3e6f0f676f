//! The run's distributions (request TTFB and download time per kind, startup, stall
//! length, live latency) as of one tick, and the one computation sinks need beyond
//! percentiles: cumulative counts at a sink's bucket bounds (Prometheus histograms).
//! The HDR histograms stay private, so sinks read figures, not the accumulator.

use hdrhistogram::Histogram;

use super::accumulator::Accumulator;
use super::event::RequestKind;

/// Which distribution of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Time to first byte of one request kind.
    Ttfb(RequestKind),
    /// Whole download time of the successful requests of one kind.
    Download(RequestKind),
    /// Tune-in to first frame.
    Startup,
    /// Length of finished stalls.
    StallDuration,
    /// Distance behind the live edge.
    LiveLatency,
    /// Wait before the content was due, of one of [`HELD_KINDS`].
    Hold(RequestKind),
    /// Wait past the moment the content was due, of one of [`HELD_KINDS`].
    Lateness(RequestKind),
}

/// The request kinds an origin may hold (LL-HLS): the only ones with hold and lateness.
pub const HELD_KINDS: [RequestKind; 2] = [RequestKind::Blocking, RequestKind::Hint];

/// A distribution in a sink's buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketCounts {
    /// `(upper bound in seconds, samples at or below it)`, cumulative, in bound order.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the samples in seconds (at the histogram's resolution).
    pub sum_seconds: f64,
    /// Samples.
    pub count: u64,
}

/// The whole run's distributions, as of one tick.
#[derive(Debug, Clone)]
pub struct Distributions {
    ttfb: [Histogram<u64>; RequestKind::COUNT],
    download: [Histogram<u64>; RequestKind::COUNT],
    startup: Histogram<u64>,
    stall_durations: Histogram<u64>,
    live_latency: Histogram<u64>,
    /// Indexed like [`HELD_KINDS`].
    hold: [Histogram<u64>; 2],
    /// Indexed like [`HELD_KINDS`].
    lateness: [Histogram<u64>; 2],
    empty: Histogram<u64>,
}

impl Default for Distributions {
    fn default() -> Self {
        Distributions::of(&Accumulator::default())
    }
}

impl Distributions {
    /// The distributions of `acc` (the run's cumulative accumulator).
    pub fn of(acc: &Accumulator) -> Self {
        Distributions {
            ttfb: std::array::from_fn(|i| acc.kinds[i].ttfb.clone()),
            download: std::array::from_fn(|i| acc.kinds[i].total.clone()),
            startup: acc.startup.clone(),
            stall_durations: acc.stall_durations.clone(),
            live_latency: acc.live_latency.clone(),
            hold: HELD_KINDS.map(|k| acc.kinds[k.index()].hold.clone()),
            lateness: HELD_KINDS.map(|k| acc.kinds[k.index()].lateness.clone()),
            empty: super::accumulator::duration_histogram(),
        }
    }

    fn histogram(&self, m: Measure) -> &Histogram<u64> {
        match m {
            Measure::Ttfb(k) => &self.ttfb[k.index()],
            Measure::Download(k) => &self.download[k.index()],
            Measure::Startup => &self.startup,
            Measure::StallDuration => &self.stall_durations,
            Measure::LiveLatency => &self.live_latency,
            Measure::Hold(k) => match HELD_KINDS.iter().position(|h| *h == k) {
                Some(i) => &self.hold[i],
                None => &self.empty,
            },
            Measure::Lateness(k) => match HELD_KINDS.iter().position(|h| *h == k) {
                Some(i) => &self.lateness[i],
                None => &self.empty,
            },
        }
    }

    /// Distribution `m` counted into `bounds` (seconds, ascending).
    pub fn buckets(&self, m: Measure, bounds: &[f64]) -> BucketCounts {
        let h = self.histogram(m);
        BucketCounts {
            buckets: buckets(h, bounds),
            sum_seconds: sum_seconds(h),
            count: h.len(),
        }
    }
}

/// Cumulative bucket counts of `h` (µs) at `bounds` (seconds). A recorded value counts
/// toward a bound when the bottom of its HDR bucket is at or below it: a value equal to a
/// bound is always inside (`le` is inclusive), and values above it by less than the
/// histogram's resolution (3 significant figures, < 0.1 %) may be too.
pub fn buckets(h: &Histogram<u64>, bounds: &[f64]) -> Vec<(f64, u64)> {
    let mut per = vec![0u64; bounds.len()];
    if !h.is_empty() {
        for v in h.iter_recorded() {
            let secs = h.lowest_equivalent(v.value_iterated_to()) as f64 / 1e6;
            if let Some(i) = bounds.iter().position(|b| secs <= *b) {
                per[i] += v.count_at_value();
            }
        }
    }
    let mut run = 0;
    bounds
        .iter()
        .zip(per)
        .map(|(b, n)| {
            run += n;
            (*b, run)
        })
        .collect()
}

/// Sum of a histogram's samples in seconds (mean × count, at the histogram's resolution).
fn sum_seconds(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    }
}

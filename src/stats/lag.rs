//! Client scheduling lag: how late the viewer runtimes wake up.
//!
//! Every figure the swarm reports is taken on the client. When the load host runs out of
//! CPU, a response that has already arrived waits for its thread, and that wait ends up in
//! TTFB and download time: the origin looks slower than it is. A load tester has to say
//! when this happens. So each viewer runtime runs a probe that sleeps [`PROBE_EVERY`] and
//! records how late it woke. Late wakeups are the same queueing delay a response waits
//! for before the viewer sees it. A healthy client shows a lag of a millisecond or two
//! (tokio's timers tick in whole milliseconds). When the lag approaches the latencies
//! being measured, the figures are the client's, not the origin's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::{Instant, sleep_until};

use super::accumulator::{duration_histogram, record_duration};
use super::percentiles::Percentiles;

/// How often each viewer runtime's probe wakes.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);

/// A p99 lag above this marks the client as saturated in the summary.
pub const SATURATED_P99: Duration = Duration::from_millis(20);

/// Lag samples of all viewer runtimes: the whole run, and the largest since the last tick.
#[derive(Debug)]
pub struct LagMonitor {
    run: Mutex<Histogram<u64>>,
    window_max_us: AtomicU64,
    sum_us: AtomicU64,
    probes: AtomicU64,
}

impl Default for LagMonitor {
    fn default() -> Self {
        Self {
            run: Mutex::new(duration_histogram()),
            window_max_us: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        }
    }
}

/// What the monitor has seen, for one snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientLag {
    /// Lag over the whole run (seconds).
    pub run: Percentiles,
    /// Largest lag since the previous snapshot (seconds).
    pub window_max: f64,
    /// Sum of all probes' lag (seconds); with `probes`, the mean over any interval.
    pub sum: f64,
    /// Probes so far.
    pub probes: u64,
    /// The whole run's lag (µs) that `run` is of: the JSON report's
    /// `merge.client_wakeup_lag`, so shards' lags merge exactly.
    pub histogram: Option<Arc<Histogram<u64>>>,
}

impl ClientLag {
    /// The whole-run figures of `run` (µs), the lag over a run or several shards' runs;
    /// no window (`window_max` 0).
    pub fn of_run(run: &Histogram<u64>) -> Self {
        ClientLag {
            run: Percentiles::of(run),
            window_max: 0.0,
            sum: if run.is_empty() {
                0.0
            } else {
                run.mean() * run.len() as f64 / 1e6
            },
            probes: run.len(),
            histogram: Some(Arc::new(run.clone())),
        }
    }

    /// Whether the run's lag is large enough that latency figures include client-side
    /// delay.
    pub fn saturated(&self) -> bool {
        self.run.p99 > SATURATED_P99.as_secs_f64()
    }

    /// A warning for live views when the last tick's lag was over the threshold.
    pub fn live_warning(&self) -> Option<String> {
        (self.window_max > SATURATED_P99.as_secs_f64()).then(|| {
            format!(
                "CLIENT SATURATED: woke {} late; latencies include client-side delay",
                crate::units::secs(self.window_max)
            )
        })
    }
}

impl LagMonitor {
    /// Record one probe's lateness.
    pub fn record(&self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.window_max_us.fetch_max(us, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.probes.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.run.lock() {
            record_duration(&mut h, late);
        }
    }

    /// The figures for a snapshot; starts a new window for `window_max`.
    pub fn take(&self) -> ClientLag {
        let window_max = self.window_max_us.swap(0, Ordering::Relaxed) as f64 / 1e6;
        // One copy of the histogram, so the percentiles and the serialised histogram are
        // of the same probes.
        let histogram = self.run.lock().map(|h| h.clone()).ok();
        ClientLag {
            run: histogram.as_ref().map(Percentiles::of).unwrap_or_default(),
            window_max,
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            probes: self.probes.load(Ordering::Relaxed),
            histogram: histogram.map(Arc::new),
        }
    }

    /// Probe the current runtime until the task is dropped: sleep [`PROBE_EVERY`], record
    /// how late the wakeup came.
    pub async fn probe(self: std::sync::Arc<Self>) {
        loop {
            let due = Instant::now() + PROBE_EVERY;
            sleep_until(due).await;
            self.record(Instant::now().saturating_duration_since(due));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_max_resets_and_run_percentiles_accumulate() {
        let m = LagMonitor::default();
        for ms in [1, 2, 3, 40] {
            m.record(Duration::from_millis(ms));
        }
        let first = m.take();
        assert!((first.window_max - 0.040).abs() < 1e-3, "{first:?}");
        assert_eq!(first.run.count, 4);
        assert_eq!(first.probes, 4);
        assert!((first.sum - 0.046).abs() < 1e-6);
        assert!(first.saturated(), "p99 of 40 ms is over the threshold");
        m.record(Duration::from_micros(300));
        let second = m.take();
        assert!((second.window_max - 0.0003).abs() < 1e-5, "{second:?}");
        assert_eq!(second.run.count, 5);
        assert_eq!(m.take().window_max, 0.0);
    }

    #[test]
    fn live_warning_follows_the_last_tick() {
        let m = LagMonitor::default();
        m.record(Duration::from_millis(150));
        let hot = m.take();
        let text = hot.live_warning().expect("150 ms is over the threshold");
        assert!(
            text.contains("CLIENT SATURATED") && text.contains("150.0ms"),
            "{text}"
        );
        m.record(Duration::from_millis(1));
        assert_eq!(m.take().live_warning(), None, "a calm tick clears it");
    }

    #[test]
    fn a_quiet_client_is_not_saturated() {
        let m = LagMonitor::default();
        for _ in 0..100 {
            m.record(Duration::from_micros(200));
        }
        assert!(!m.take().saturated());
    }
}

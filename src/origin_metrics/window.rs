//! One origin figure over time: its latest value, a bounded trailing window (exact p50
//! and max) and run-long p50/max (HDR histogram, 3 significant figures, bounded memory).

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::stats::origin::FigureStats;

/// Hard cap on samples kept per window (300 s at the fastest 250 ms interval is 1200).
pub const MAX_WINDOW_SAMPLES: usize = 2048;

/// Values are kept in the run histogram in thousandths, so rates below 1/s and CPU
/// percentages keep their decimals.
const SCALE: f64 = 1000.0;

/// The history of one figure.
#[derive(Debug, Clone)]
pub struct Figure {
    last: Option<f64>,
    window: VecDeque<(Duration, f64)>,
    run: Option<Histogram<u64>>,
    run_max: Option<f64>,
    samples: u64,
}

impl Default for Figure {
    fn default() -> Self {
        Figure {
            last: None,
            window: VecDeque::new(),
            // 3 significant figures, auto-resizing: a few kB at most.
            run: Histogram::new(3).ok(),
            run_max: None,
            samples: 0,
        }
    }
}

impl Figure {
    /// Record `value` measured at `at`; samples older than `window` before it are dropped.
    /// Non-finite and negative values are not figures and are ignored (the latest value
    /// becomes unknown).
    pub fn record(&mut self, at: Duration, value: f64, window: Duration) {
        if !value.is_finite() || value < 0.0 {
            self.last = None;
            return;
        }
        self.last = Some(value);
        self.samples += 1;
        self.run_max = Some(self.run_max.map_or(value, |m| m.max(value)));
        if let Some(h) = self.run.as_mut() {
            let _ = h.record((value * SCALE).round() as u64);
        }
        // Out-of-order samples (two sources share a figure only in tests) stay ordered.
        let pos = self.window.partition_point(|(t, _)| *t <= at);
        self.window.insert(pos, (at, value));
        let newest = self.window.back().map_or(at, |(t, _)| *t);
        while let Some((t, _)) = self.window.front() {
            if newest.saturating_sub(*t) >= window || self.window.len() > MAX_WINDOW_SAMPLES {
                self.window.pop_front();
            } else {
                break;
            }
        }
    }

    /// The latest value is no longer known (its source failed, or it could not be
    /// computed this time).
    pub fn unknown(&mut self) {
        self.last = None;
    }

    /// The view as of `now`, with the trailing `window`.
    pub fn stats(&self, now: Duration, window: Duration) -> FigureStats {
        let mut recent: Vec<f64> = self
            .window
            .iter()
            .filter(|(t, _)| *t <= now && now.saturating_sub(*t) < window)
            .map(|(_, v)| *v)
            .collect();
        recent.sort_by(f64::total_cmp);
        let (run_p50, run_max) = match (&self.run, self.samples) {
            (Some(h), n) if n > 0 => (Some(h.value_at_quantile(0.5) as f64 / SCALE), self.run_max),
            _ => (None, self.run_max),
        };
        FigureStats {
            last: self.last,
            window_p50: nearest_rank(&recent, 0.5),
            window_max: recent.last().copied(),
            run_p50,
            run_max,
            samples: self.samples,
        }
    }
}

/// Nearest-rank quantile of sorted values.
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(10);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn window_p50_max_and_expiry() {
        let mut f = Figure::default();
        for (t, v) in [(1, 10.0), (2, 50.0), (3, 20.0), (4, 40.0), (5, 30.0)] {
            f.record(s(t), v, W);
        }
        let st = f.stats(s(5), W);
        assert_eq!(st.last, Some(30.0));
        assert_eq!(st.window_p50, Some(30.0));
        assert_eq!(st.window_max, Some(50.0));
        assert_eq!(st.samples, 5);
        // At t=12 only samples newer than 2 s remain: 20, 40, 30.
        let st = f.stats(s(12), W);
        assert_eq!(st.window_max, Some(40.0));
        assert_eq!(st.window_p50, Some(30.0));
        // Long after: the window is empty, the run figures remain.
        let st = f.stats(s(100), W);
        assert_eq!(st.window_p50, None);
        assert_eq!(st.window_max, None);
        assert_eq!(st.run_max, Some(50.0));
        assert!(st.run_p50.is_some_and(|p| (p - 30.0).abs() < 0.05));
    }

    #[test]
    fn window_is_bounded_by_time_and_count() {
        let mut f = Figure::default();
        for i in 0..10_000u64 {
            f.record(
                Duration::from_millis(i * 10),
                i as f64,
                Duration::from_secs(300),
            );
        }
        assert!(f.window.len() <= MAX_WINDOW_SAMPLES + 1);
        let mut g = Figure::default();
        for i in 0..100u64 {
            g.record(s(i), 1.0, W);
        }
        assert_eq!(g.window.len(), 10);
    }

    #[test]
    fn unknown_and_bad_values() {
        let mut f = Figure::default();
        f.record(s(1), 5.0, W);
        f.unknown();
        let st = f.stats(s(1), W);
        assert_eq!(st.last, None);
        assert_eq!(
            st.window_max,
            Some(5.0),
            "history survives an unknown latest value"
        );
        f.record(s(2), f64::NAN, W);
        f.record(s(3), -1.0, W);
        assert_eq!(f.stats(s(3), W).samples, 1);
        let empty = Figure::default().stats(s(0), W);
        assert_eq!(empty, FigureStats::default());
    }

    #[test]
    fn fractional_values_keep_decimals_in_run_p50() {
        let mut f = Figure::default();
        f.record(s(1), 0.5, W);
        let st = f.stats(s(1), W);
        assert!(st.run_p50.is_some_and(|p| (p - 0.5).abs() < 1e-3), "{st:?}");
    }

    #[test]
    fn nearest_rank_quantiles() {
        assert_eq!(nearest_rank(&[1.0, 2.0], 0.5), Some(1.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(nearest_rank(&[7.0], 0.5), Some(7.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }
}

//! Bounded time series of the run, fed with every tick's [`Snapshot`]; the TUI's
//! sparklines and the HTML report's charts read from it.
//!
//! Each sample copies figures the Snapshot already holds; what this module computes is the
//! downsampling (averages and maxima of merged ticks), so it lives in Stats and the sinks
//! only draw its points (DESIGN.md principle 3). Memory is constant (principle 4):
//! - the **history** keeps at most `capacity` points over the whole run. When it is full,
//!   neighbouring pairs are merged, halving its resolution, and from then on each new point
//!   covers twice as many ticks. A one-hour run at the default capacity ends with points of
//!   8 ticks each.
//! - the **recent** ring keeps the last [`RECENT`] ticks at full resolution.
//!
//! Merging keeps what a chart must not lose: rates and the active-viewer count are averaged
//! (weighted by ticks, so the area under the curve is kept); stalled viewers, the error
//! rate and latency percentiles keep the larger value, so a short spike stays visible when
//! the history is zoomed out.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use super::event::RequestKind;
use super::snapshot::Snapshot;

/// Points of the full-run history by default (about 10 minutes at full resolution).
pub const DEFAULT_CAPACITY: usize = 600;
/// Ticks kept at full resolution for live sparklines.
pub const RECENT: usize = 512;

/// One sample: a tick, or a merge of several consecutive ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the run started, at the end of the last tick merged in.
    pub t: f64,
    /// Ticks merged into this point.
    pub ticks: u32,
    /// Target viewers.
    pub target: f64,
    /// Active viewers (mean over the ticks).
    pub active: f64,
    /// Stalled viewers (largest).
    pub stalled: f64,
    /// Requests per second by kind over the last 1 s window, indexed like `RequestKind::ALL` (mean).
    pub requests_per_second: [f64; RequestKind::COUNT],
    /// Body bytes per second over the last 1 s window, all kinds (mean).
    pub bytes_per_second: f64,
    /// Failed requests per second over the last 1 s window (mean).
    pub errors_per_second: f64,
    /// Failed / finished requests over the last 1 s window (largest).
    pub error_rate: f64,
    /// Segment TTFB p50, p95, p99 of the requests finished in the tick, seconds
    /// (largest; `None` when no segment finished).
    pub segment_ttfb: Option<[f64; 3]>,
    /// Playlist TTFB p50, p95, p99 of the requests finished in the tick, seconds
    /// (largest; `None` when no playlist finished).
    pub playlist_ttfb: Option<[f64; 3]>,
    /// Origin CPU use, percent (mean; `None` without origin metrics).
    pub origin_cpu_percent: Option<f64>,
    /// Origin network receive, bytes per second (mean).
    pub origin_rx_bps: Option<f64>,
    /// Origin network transmit, bytes per second (mean).
    pub origin_tx_bps: Option<f64>,
    /// Arrival mode's sessions open: the concurrency (largest; `None` for a fixed crowd).
    pub sessions_open: Option<f64>,
}

impl Point {
    /// The sample of one tick.
    pub fn of(s: &Snapshot) -> Point {
        let origin = s.origin.as_ref();
        let w = s.window(1);
        let pct = |k: RequestKind| {
            let p = &s.tick_ttfb[k.index()];
            (p.count > 0).then_some([p.p50, p.p95, p.p99])
        };
        Point {
            t: s.elapsed.as_secs_f64(),
            ticks: 1,
            target: s.target as f64,
            active: s.active as f64,
            stalled: s.stalled as f64,
            requests_per_second: w.requests_per_second,
            bytes_per_second: w.bytes_per_second,
            errors_per_second: w.errors_per_second,
            error_rate: w.error_rate,
            segment_ttfb: pct(RequestKind::Segment),
            playlist_ttfb: pct(RequestKind::Playlist),
            origin_cpu_percent: origin.and_then(|o| o.cpu_percent.last),
            origin_rx_bps: origin.and_then(|o| o.net_rx_bytes_per_second.last),
            origin_tx_bps: origin.and_then(|o| o.net_tx_bytes_per_second.last),
            sessions_open: s.sessions.map(|c| c.open as f64),
        }
    }

    /// Requests per second of one kind.
    pub fn rate(&self, kind: RequestKind) -> f64 {
        self.requests_per_second[kind.index()]
    }

    /// `self` followed by the later point `next`, as one point.
    pub fn merge(&self, next: &Point) -> Point {
        let (a, b) = (f64::from(self.ticks), f64::from(next.ticks));
        let mean = |x: f64, y: f64| (x * a + y * b) / (a + b);
        let opt_mean = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => Some(mean(x, y)),
            (x, y) => x.or(y),
        };
        let opt_max = |x: Option<[f64; 3]>, y: Option<[f64; 3]>| match (x, y) {
            (Some(x), Some(y)) => Some(std::array::from_fn(|i| x[i].max(y[i]))),
            (x, y) => x.or(y),
        };
        Point {
            t: self.t.max(next.t),
            ticks: self.ticks + next.ticks,
            target: self.target.max(next.target),
            active: mean(self.active, next.active),
            stalled: self.stalled.max(next.stalled),
            requests_per_second: std::array::from_fn(|i| {
                mean(self.requests_per_second[i], next.requests_per_second[i])
            }),
            bytes_per_second: mean(self.bytes_per_second, next.bytes_per_second),
            errors_per_second: mean(self.errors_per_second, next.errors_per_second),
            error_rate: self.error_rate.max(next.error_rate),
            segment_ttfb: opt_max(self.segment_ttfb, next.segment_ttfb),
            playlist_ttfb: opt_max(self.playlist_ttfb, next.playlist_ttfb),
            origin_cpu_percent: opt_mean(self.origin_cpu_percent, next.origin_cpu_percent),
            origin_rx_bps: opt_mean(self.origin_rx_bps, next.origin_rx_bps),
            origin_tx_bps: opt_mean(self.origin_tx_bps, next.origin_tx_bps),
            sessions_open: match (self.sessions_open, next.sessions_open) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
        }
    }
}

/// The time series of one run: a downsampling history plus a full-resolution recent ring.
#[derive(Debug, Clone)]
pub struct Series {
    capacity: usize,
    /// Ticks per history point (a power of two).
    stride: u32,
    history: Vec<Point>,
    /// The history point being filled (fewer than `stride` ticks so far).
    pending: Option<Point>,
    recent: VecDeque<Point>,
}

impl Default for Series {
    fn default() -> Self {
        Series::new(DEFAULT_CAPACITY)
    }
}

impl Series {
    /// A series whose history holds at most `capacity` points (rounded up to an even
    /// number, at least 2).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_multiple_of(2);
        Series {
            capacity,
            stride: 1,
            history: Vec::with_capacity(capacity),
            pending: None,
            recent: VecDeque::with_capacity(RECENT),
        }
    }

    /// Add one tick's sample.
    pub fn push(&mut self, p: Point) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(p);

        let bucket = match self.pending.take() {
            Some(b) => b.merge(&p),
            None => p,
        };
        if bucket.ticks < self.stride {
            self.pending = Some(bucket);
            return;
        }
        if self.history.len() == self.capacity {
            self.halve();
            // The bucket now holds fewer ticks than a point covers: keep filling it.
            self.pending = Some(bucket);
            return;
        }
        self.history.push(bucket);
    }

    /// Merge neighbouring pairs: half the points, each covering twice the ticks.
    fn halve(&mut self) {
        let merged: Vec<Point> = self
            .history
            .chunks(2)
            .map(|c| match c {
                [a, b] => a.merge(b),
                [a] => *a,
                _ => unreachable!("chunks(2) yields one or two points"),
            })
            .collect();
        self.history = merged;
        self.stride *= 2;
    }

    /// The whole run, oldest first, including the partly filled last point.
    pub fn history(&self) -> Vec<Point> {
        let mut v = self.history.clone();
        v.extend(self.pending);
        v
    }

    /// The last `n` ticks at full resolution (at most [`RECENT`]), oldest first.
    pub fn recent(&self, n: usize) -> Vec<Point> {
        let skip = self.recent.len().saturating_sub(n);
        self.recent.iter().skip(skip).copied().collect()
    }

    /// Ticks per history point now.
    pub fn stride(&self) -> u32 {
        self.stride
    }

    /// Largest number of history points kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A [`Series`] shared between the swarm (which records each tick) and the sinks that
/// read it. Recording takes a short lock and copies one small point, so it never slows
/// the tick.
#[derive(Debug, Default)]
pub struct SeriesRecorder {
    inner: Mutex<Series>,
}

impl SeriesRecorder {
    /// A recorder whose history holds at most `capacity` points.
    pub fn new(capacity: usize) -> Self {
        SeriesRecorder {
            inner: Mutex::new(Series::new(capacity)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Series> {
        // A panic while holding the lock cannot leave a Series half-updated in a way that
        // matters for display, so a poisoned lock is still used.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record one tick's snapshot.
    pub fn record(&self, s: &Snapshot) {
        let p = Point::of(s);
        self.lock().push(p);
    }

    /// A copy of the series as it is now.
    pub fn series(&self) -> Series {
        self.lock().clone()
    }

    /// The last `n` ticks at full resolution, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Point> {
        self.lock().recent(n)
    }

    /// The whole-run history, oldest first.
    pub fn history(&self) -> Vec<Point> {
        self.lock().history()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(t: u32, active: f64, stalled: f64) -> Point {
        Point {
            t: f64::from(t),
            ticks: 1,
            target: 10.0,
            active,
            stalled,
            requests_per_second: [0.0, 2.0, 0.0, 4.0, 0.0, 0.0, 0.0],
            bytes_per_second: 1000.0 * f64::from(t),
            errors_per_second: 0.0,
            error_rate: 0.0,
            segment_ttfb: t.is_multiple_of(2).then_some([0.01, 0.02, f64::from(t)]),
            playlist_ttfb: None,
            origin_cpu_percent: None,
            origin_rx_bps: None,
            origin_tx_bps: None,
            sessions_open: None,
        }
    }

    #[test]
    fn keeps_every_tick_until_full() {
        let mut s = Series::new(8);
        for t in 1..=8 {
            s.push(pt(t, 5.0, 0.0));
        }
        let h = s.history();
        assert_eq!(h.len(), 8);
        assert_eq!(s.stride(), 1);
        assert_eq!(
            h.iter().map(|p| p.t).collect::<Vec<_>>(),
            (1..=8).map(f64::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn halves_when_full_and_memory_stays_bounded() {
        let mut s = Series::new(8);
        for t in 1..=10_000 {
            s.push(pt(t, f64::from(t), 0.0));
            assert!(s.history.len() <= 8, "history bounded");
            assert!(s.recent.len() <= RECENT, "recent bounded");
        }
        let h = s.history();
        assert!(h.len() <= 9, "history plus at most one pending point");
        assert!(s.stride() >= 10_000 / 8, "stride {} grew", s.stride());
        // Every tick is accounted for exactly once, in time order.
        assert_eq!(h.iter().map(|p| u64::from(p.ticks)).sum::<u64>(), 10_000);
        assert!(h.windows(2).all(|w| w[0].t < w[1].t));
        assert_eq!(h.last().map(|p| p.t), Some(10_000.0));
        // The recent ring is full resolution.
        let r = s.recent(3);
        assert_eq!(
            r.iter().map(|p| p.t).collect::<Vec<_>>(),
            vec![9998.0, 9999.0, 10_000.0]
        );
    }

    #[test]
    fn merge_averages_rates_and_keeps_peaks() {
        let mut s = Series::new(4);
        // Active 1..=5, one stalled spike at t=3, TTFB p99 = t on even ticks.
        for t in 1..=5 {
            s.push(pt(t, f64::from(t), if t == 3 { 7.0 } else { 0.0 }));
        }
        // Capacity 4 reached at t=4; t=5 halved it to [1+2, 3+4] and started a stride-2 bucket.
        let h = s.history();
        assert_eq!(s.stride(), 2);
        assert_eq!(h.len(), 3);
        assert_eq!((h[0].t, h[0].ticks, h[0].active), (2.0, 2, 1.5));
        assert_eq!((h[1].t, h[1].ticks, h[1].active), (4.0, 2, 3.5));
        assert_eq!(h[1].stalled, 7.0, "the stall spike survives the merge");
        assert_eq!(h[1].segment_ttfb.map(|p| p[2]), Some(4.0), "largest p99");
        assert_eq!(
            h[0].segment_ttfb.map(|p| p[2]),
            Some(2.0),
            "a missing sample is skipped"
        );
        assert_eq!(h[0].bytes_per_second, 1500.0);
        assert_eq!(h[0].rate(RequestKind::Segment), 4.0);
        // The pending bucket (t=5 alone) is shown too.
        assert_eq!((h[2].t, h[2].ticks), (5.0, 1));
        // Merging weighs by ticks: (1.5×2 + 3.5×2 + 5×1) / 5 = 3.
        let all = h[0].merge(&h[1]).merge(&h[2]);
        assert_eq!(all.ticks, 5);
        assert!((all.active - 3.0).abs() < 1e-12);
    }

    #[test]
    fn capacity_is_even_and_at_least_two() {
        assert_eq!(Series::new(0).capacity(), 2);
        assert_eq!(Series::new(5).capacity(), 6);
        let mut s = Series::new(1);
        for t in 1..=100 {
            s.push(pt(t, 1.0, 0.0));
        }
        assert_eq!(
            s.history().iter().map(|p| u64::from(p.ticks)).sum::<u64>(),
            100
        );
    }
}

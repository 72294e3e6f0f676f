//! The live timeline: which segments exist at a given time. Pure functions of `elapsed`.
//!
//! Definitions (D = segment duration, W = window, t = time since origin start):
//! * epoch = start − W×D. Segment N holds media time [N×D, (N+1)×D) after the epoch; its
//!   `EXT-X-PROGRAM-DATE-TIME` is wall(epoch) + N×D.
//! * Segment N is published (complete) at epoch + (N+1)×D, so the live edge — the count
//!   of published segments — is `L(t) = W + floor(t / D)`; the newest is `L − 1`.
//! * The media playlist at t lists N ∈ [L − W, L − 1] with `EXT-X-MEDIA-SEQUENCE = L − W`.
//!   At t = 0 that is 0..W−1: the window is full from the first request.
//! * A segment stays downloadable for W + 1 segment durations after it left the playlist
//!   (RFC 8216 §6.2.2: its duration plus the playlist's): N is served while
//!   `L − 2W − 1 ≤ N ≤ L − 1`; otherwise 404.
//!
//! With LL-HLS parts of duration P (P divides D, K = D/P parts per segment), part k of
//! segment N holds media time [N×D + k×P, N×D + (k+1)×P) and is published when complete.
//! Parts are numbered over the whole stream by `abs = N×K + k`; the count of published
//! parts is `Q(t) = W×K + ⌊t / P⌋`, so the part in production is `abs = Q` (the preload
//! hint) and the live edge is `L = ⌊Q / K⌋` as before.

use std::ops::RangeInclusive;
use std::time::Duration;

/// Segment timing of one origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    segment: Duration,
    window: u64,
    /// LL-HLS part duration (divides `segment`), `None` for classic HLS.
    part: Option<Duration>,
}

impl Timeline {
    /// A timeline of `window` segments of `segment` each; both must be non-zero.
    pub fn new(segment: Duration, window: usize) -> Self {
        Self {
            segment: segment.max(Duration::from_millis(1)),
            window: (window as u64).max(1),
            part: None,
        }
    }

    /// The same timeline cut into parts of `part` each (LL-HLS). `part` must divide the
    /// segment duration (checked by the configuration); otherwise it is ignored.
    pub fn with_parts(mut self, part: Duration) -> Self {
        let ok = !part.is_zero() && self.segment.as_nanos().is_multiple_of(part.as_nanos());
        self.part = ok.then_some(part);
        self
    }

    /// Part duration, `None` for classic HLS.
    pub fn part_duration(&self) -> Option<Duration> {
        self.part
    }

    /// Parts per segment (K; 1 without parts).
    pub fn parts_per_segment(&self) -> u64 {
        self.part.map_or(1, |p| {
            u64::try_from(self.segment.as_nanos() / p.as_nanos()).unwrap_or(1)
        })
    }

    /// `Q(t)`: number of published parts (whole stream) at `elapsed`.
    pub fn parts_done(&self, elapsed: Duration) -> u64 {
        let p = self.part.unwrap_or(self.segment);
        let done = u64::try_from(elapsed.as_nanos() / p.as_nanos()).unwrap_or(u64::MAX);
        (self.window * self.parts_per_segment()).saturating_add(done)
    }

    /// Time since origin start at which `q` parts are published (0 for those there at
    /// start): the moment part `q − 1` completes.
    pub fn parts_done_at(&self, q: u64) -> Duration {
        let p = self.part.unwrap_or(self.segment);
        let k = q.saturating_sub(self.window * self.parts_per_segment());
        p.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
    }

    /// Segment duration.
    pub fn segment_duration(&self) -> Duration {
        self.segment
    }

    /// Segments per playlist.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Segments kept downloadable after leaving the playlist (W + 1).
    pub fn retain(&self) -> u64 {
        self.window + 1
    }

    /// `L(t)`: number of published segments at `elapsed` since origin start.
    pub fn live_edge(&self, elapsed: Duration) -> u64 {
        let done = elapsed.as_nanos() / self.segment.as_nanos();
        self.window
            .saturating_add(u64::try_from(done).unwrap_or(u64::MAX))
    }

    /// Media sequence numbers listed by a playlist rendered at live edge `edge`.
    pub fn playlist_range(&self, edge: u64) -> RangeInclusive<u64> {
        edge.saturating_sub(self.window)..=edge.saturating_sub(1)
    }

    /// Whether segment `n` may be downloaded at `elapsed`.
    pub fn is_available(&self, n: u64, elapsed: Duration) -> bool {
        let edge = self.live_edge(elapsed);
        n < edge && n.saturating_add(self.window + self.retain()) >= edge
    }

    /// Time since origin start at which segment `n` is published (saturating at 0 for
    /// the segments already there at start).
    pub fn published_at(&self, n: u64) -> Duration {
        let k = (n + 1).saturating_sub(self.window);
        self.segment
            .saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
    }

    /// Capacity a per-track segment cache needs so that no two available segments share a slot.
    pub fn cache_slots(&self) -> usize {
        usize::try_from(self.window + self.retain() + 2).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl() -> Timeline {
        Timeline::new(Duration::from_secs(2), 10)
    }

    #[test]
    fn window_full_at_start() {
        let t = tl();
        assert_eq!(t.live_edge(Duration::ZERO), 10);
        assert_eq!(t.playlist_range(10), 0..=9);
    }

    #[test]
    fn edge_advances_once_per_segment() {
        let t = tl();
        assert_eq!(t.live_edge(Duration::from_millis(1999)), 10);
        assert_eq!(t.live_edge(Duration::from_secs(2)), 11);
        assert_eq!(t.live_edge(Duration::from_secs(3600)), 1810);
        assert_eq!(t.playlist_range(1810), 1800..=1809);
        for n in [0u64, 9, 10, 11, 500] {
            let at = t.published_at(n);
            assert!(t.live_edge(at) > n, "{n} published at {at:?}");
            if at > Duration::ZERO {
                assert!(t.live_edge(at - Duration::from_nanos(1)) <= n);
            }
        }
    }

    #[test]
    fn parts_count_and_schedule() {
        let t = Timeline::new(Duration::from_secs(2), 10).with_parts(Duration::from_millis(200));
        assert_eq!(t.parts_per_segment(), 10);
        assert_eq!(
            t.parts_done(Duration::ZERO),
            100,
            "the window's segments, complete"
        );
        assert_eq!(t.parts_done(Duration::from_millis(199)), 100);
        assert_eq!(t.parts_done(Duration::from_millis(200)), 101);
        for ms in [0u64, 199, 200, 1999, 2000, 3456, 60_000] {
            let e = Duration::from_millis(ms);
            assert_eq!(t.parts_done(e) / 10, t.live_edge(e), "edge at {ms} ms");
        }
        for q in [90u64, 100, 101, 157] {
            let at = t.parts_done_at(q);
            assert!(t.parts_done(at) >= q, "{q}");
            if at > Duration::ZERO {
                assert!(
                    t.parts_done(at - Duration::from_nanos(1)) < q,
                    "{q}: earliest"
                );
            }
        }
        // A part that does not divide the segment is ignored; classic counts segments.
        let odd = Timeline::new(Duration::from_secs(2), 10).with_parts(Duration::from_millis(300));
        assert_eq!((odd.part_duration(), odd.parts_per_segment()), (None, 1));
        assert_eq!(odd.parts_done(Duration::from_secs(4)), 12);
    }

    #[test]
    fn availability_bounds() {
        let t = tl();
        let e = Duration::from_secs(100); // edge 60: playlist 50..=59, retained down to 39
        assert_eq!(t.live_edge(e), 60);
        assert!(!t.is_available(60, e));
        assert!(t.is_available(59, e));
        assert!(t.is_available(39, e));
        assert!(!t.is_available(38, e));
        assert!(t.cache_slots() as u64 > 59 - 39);
    }
}

//! Where a track's segment loader goes on after a new playlist version: checked
//! media-sequence arithmetic, pure.
//!
//! The loader wants segment `next` (the one after the last it loaded). A new playlist
//! lists `len` segments from `first`. Normally `next` is listed or one past the end
//! (waiting for the origin). Three other things can happen:
//!
//! * `next < first` by a plausible gap: the viewer fell behind and those segments left
//!   the window (*expired*; counted). Plausible means at most the window, a small slack,
//!   and [`MAX_SEGMENTS_PER_SEC`] per second since the previous version was seen (at
//!   most a day's worth).
//! * `next < first` by more than that (e.g. a jump of 2^60): no stream moves that fast;
//!   the origin renumbered it. A *stream reset*, not billions of expired segments.
//! * `next` far beyond the end: the numbers went backwards (an encoder restart). Also a
//!   stream reset.
//!
//! After an expiry or a reset the loader re-tunes at the live point. Nothing here can
//! overflow: every step is checked or saturating.

use std::time::Duration;

/// Fastest plausible media-sequence growth, in segments per second (a 100 ms segment).
pub const MAX_SEGMENTS_PER_SEC: u64 = 10;

/// Longest absence credited with segment growth: a day (so a gap is never believed to
/// be more than about 864,000 segments plus the window).
const MAX_ABSENCE_SECS: u64 = 86_400;

/// Segments beyond the window's end (or the gap below its start) still treated as the
/// same stream, on top of the window length.
const SLACK: u64 = 3;

/// What the loader does with a new playlist version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on with this segment number.
    Continue(u64),
    /// `count` segments expired; re-tune at the live point.
    Expired {
        /// Segments that left the window unloaded.
        count: u64,
    },
    /// The numbering jumped (backwards, or implausibly far forward); re-tune at the live
    /// point.
    Reset,
}

/// Decide where to go on from `next`, given the new window (`first`, `len` segments)
/// and the time since the previous version was seen.
pub fn step(next: u64, first: u64, len: u64, since_previous: Duration) -> Step {
    if next < first {
        let gap = first - next;
        let secs = since_previous.as_secs().min(MAX_ABSENCE_SECS) + 1;
        let plausible = len
            .saturating_add(SLACK)
            .saturating_add(secs.saturating_mul(MAX_SEGMENTS_PER_SEC));
        return if gap <= plausible {
            Step::Expired { count: gap }
        } else {
            Step::Reset
        };
    }
    let end = first.saturating_add(len);
    if next - end.min(next) > len.saturating_add(SLACK) {
        Step::Reset
    } else {
        Step::Continue(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn listed_or_next_to_come_continues() {
        assert_eq!(step(12, 10, 5, S), Step::Continue(12));
        assert_eq!(step(15, 10, 5, S), Step::Continue(15));
        assert_eq!(step(10, 10, 5, S), Step::Continue(10));
    }

    #[test]
    fn a_small_lag_expires_the_missed_segments() {
        assert_eq!(step(7, 10, 5, S), Step::Expired { count: 3 });
    }

    #[test]
    fn a_long_absence_makes_a_bigger_gap_plausible() {
        // 10 minutes stuck: up to 6,000+ segments could have passed.
        let long = Duration::from_secs(600);
        assert_eq!(step(0, 5_000, 5, long), Step::Expired { count: 5_000 });
        assert_eq!(step(0, 5_000, 5, S), Step::Reset);
    }

    #[test]
    fn an_absurd_forward_jump_is_a_reset() {
        assert_eq!(step(100, 1 << 60, 5, S), Step::Reset);
        assert_eq!(step(0, u64::MAX - 4, 5, Duration::MAX), Step::Reset);
    }

    #[test]
    fn numbers_going_backwards_is_a_reset() {
        assert_eq!(step(1_000_003, 900_000, 5, S), Step::Reset);
        // Within the slack: wait for the stream to catch up.
        assert_eq!(step(23, 10, 5, S), Step::Continue(23));
        assert_eq!(step(24, 10, 5, S), Step::Reset);
    }

    #[test]
    fn extremes_never_overflow() {
        assert_eq!(step(u64::MAX, u64::MAX - 2, 3, S), Step::Continue(u64::MAX));
        assert_eq!(step(u64::MAX, 0, 0, S), Step::Reset);
        assert_eq!(step(0, u64::MAX, 5, Duration::MAX), Step::Reset);
        assert_eq!(step(u64::MAX, 0, u64::MAX, S), Step::Continue(u64::MAX));
    }
}

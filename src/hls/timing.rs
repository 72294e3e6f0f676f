//! Sanity limits on a media playlist's timing, applied before a client acts on it.
//!
//! A client reloads a live playlist every target duration (RFC 8216 §6.3.4) and models
//! playback from the segment durations. An origin that sends
//! `#EXT-X-TARGETDURATION:0` would make it reload in a tight loop (a reload storm that
//! looks healthy), and absurd segment durations would make its player model meaningless.
//! [`clamp`] brings both into sane bounds and says what it changed, so the engine can make
//! it visible (a counter, a metric, a log line):
//!
//! * a target duration outside [`MIN_TARGET`]..=[`MAX_TARGET`] is replaced by the longest
//!   segment duration rounded up to whole seconds, kept within those bounds (1 s when no
//!   segment has a usable duration);
//! * a segment duration of zero, or longer than [`MAX_EXTINF_FACTOR`] × the (clamped)
//!   target duration, becomes the target duration. The slack above one target duration
//!   leaves encoders that overshoot `EXTINF ≤ TD` by a little untouched.
//!
//! Negative, non-numeric and over-a-day values never get here: the parser rejects them.

use std::time::Duration;

use super::MediaPlaylist;

/// Shortest target duration acted on: reloads are at least this far apart (half of it
/// after an unchanged reload).
pub const MIN_TARGET: Duration = Duration::from_secs(1);

/// Longest target duration acted on: a live playlist is reloaded at least this often.
pub const MAX_TARGET: Duration = Duration::from_secs(60);

/// A segment duration above this many target durations counts as absurd.
pub const MAX_EXTINF_FACTOR: u32 = 2;

/// What [`clamp`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clamped {
    /// The target duration as the playlist gave it, when it was replaced.
    pub target_from: Option<Duration>,
    /// Segment durations replaced.
    pub segments: usize,
}

impl Clamped {
    /// Whether anything was changed.
    pub fn any(&self) -> bool {
        self.target_from.is_some() || self.segments > 0
    }
}

/// Bring `pl`'s target duration and segment durations into sane bounds (see the module
/// documentation); returns what was changed.
pub fn clamp(pl: &mut MediaPlaylist) -> Clamped {
    let mut out = Clamped::default();
    let td = pl.target_duration;
    if !(MIN_TARGET..=MAX_TARGET).contains(&td) {
        let longest = pl
            .segments
            .iter()
            .map(|s| s.duration)
            .max()
            .unwrap_or_default();
        let whole = Duration::from_secs(longest.as_secs() + u64::from(longest.subsec_nanos() > 0));
        pl.target_duration = whole.clamp(MIN_TARGET, MAX_TARGET);
        out.target_from = Some(td);
    }
    let target = pl.target_duration;
    let limit = target * MAX_EXTINF_FACTOR;
    for seg in &mut pl.segments {
        if seg.duration.is_zero() || seg.duration > limit {
            seg.duration = target;
            out.segments += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{Playlist, parse};

    fn media(text: &str) -> MediaPlaylist {
        let base = url::Url::parse("http://o/p.m3u8").unwrap();
        match parse(text.as_bytes(), &base).unwrap() {
            Playlist::Media(m) => m,
            Playlist::Master(_) => panic!("media expected"),
        }
    }

    fn pl(td: &str, extinf: &[&str]) -> MediaPlaylist {
        let mut t = format!("#EXTM3U\n#EXT-X-TARGETDURATION:{td}\n");
        for (i, d) in extinf.iter().enumerate() {
            t.push_str(&format!("#EXTINF:{d},\ns{i}.ts\n"));
        }
        media(&t)
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn sane_timing_is_left_alone() {
        let mut p = pl("6", &["6.006", "5.5", "6"]);
        let before = p.clone();
        assert!(!clamp(&mut p).any());
        assert_eq!(p, before);
    }

    #[test]
    fn a_slight_extinf_overshoot_is_not_absurd() {
        let mut p = pl("2", &["2.3", "3.9"]);
        assert!(!clamp(&mut p).any());
        assert_eq!(p.segments[1].duration, Duration::from_millis(3900));
    }

    #[test]
    fn target_zero_takes_the_longest_segment_rounded_up() {
        let mut p = pl("0", &["1", "5.2", "4"]);
        let c = clamp(&mut p);
        assert_eq!(c.target_from, Some(Duration::ZERO));
        assert_eq!(c.segments, 0);
        assert_eq!(p.target_duration, 6 * S);
    }

    #[test]
    fn target_zero_with_zero_segments_is_the_minimum() {
        let mut p = pl("0", &["0", "0"]);
        let c = clamp(&mut p);
        assert_eq!(p.target_duration, MIN_TARGET);
        assert_eq!(c.segments, 2);
        assert!(p.segments.iter().all(|s| s.duration == MIN_TARGET));
    }

    #[test]
    fn a_fractional_target_below_the_minimum_is_clamped() {
        let mut p = pl("0.2", &["0.2"]);
        assert!(clamp(&mut p).any());
        assert_eq!(p.target_duration, MIN_TARGET);
    }

    #[test]
    fn a_huge_target_follows_the_segments() {
        let mut p = pl("86400", &["1", "1"]);
        let c = clamp(&mut p);
        assert_eq!(c.target_from, Some(86_400 * S));
        assert_eq!(p.target_duration, S);
    }

    #[test]
    fn a_huge_target_and_huge_segments_stop_at_the_maximum() {
        let mut p = pl("86400", &["80000"]);
        let c = clamp(&mut p);
        assert_eq!(p.target_duration, MAX_TARGET);
        assert_eq!(c.segments, 1);
        assert_eq!(p.segments[0].duration, MAX_TARGET);
    }

    #[test]
    fn absurd_segments_under_a_sane_target_become_the_target() {
        let mut p = pl("1", &["80000", "1", "0"]);
        let c = clamp(&mut p);
        assert_eq!(c.target_from, None);
        assert_eq!(c.segments, 2);
        let d: Vec<_> = p.segments.iter().map(|s| s.duration).collect();
        assert_eq!(d, vec![S, S, S]);
    }

    #[test]
    fn an_empty_playlist_with_target_zero_gets_the_minimum() {
        let mut p = pl("0", &[]);
        clamp(&mut p);
        assert_eq!(p.target_duration, MIN_TARGET);
    }
}

//! Low-Latency HLS scheduling for the native viewer, pure: where to start, which part to
//! load next, what to ask a blocking reload for, how to merge a delta update, whether
//! the server really blocked, and how a held request's wait splits into hold and
//! lateness. No I/O and no clock reads: times are passed in (the engine's loop in
//! [`crate::engine::ll_track`] does the fetching). The rules and their sources are in
//! docs/viewer.md ("LL-HLS").

use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use url::Url;

use crate::config::LlHlsMode;
use crate::hls::{MediaPlaylist, Part, RenditionReport, Segment};

/// A partial segment's place in the stream: part `part` of the segment numbered `msn`.
/// Ordered by stream position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartPos {
    /// Media sequence number of the segment the part belongs to.
    pub msn: u64,
    /// Index of the part within its segment (0 = first).
    pub part: u64,
}

impl PartPos {
    /// Part `part` of segment `msn`.
    pub fn new(msn: u64, part: u64) -> Self {
        PartPos { msn, part }
    }

    /// The first part of the segment after this one's.
    pub fn next_segment(self) -> Self {
        PartPos::new(self.msn.saturating_add(1), 0)
    }
}

/// How a track plays, decided from its first media playlist and `--ll-hls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Low-latency: blocking reloads, parts, preload hints.
    Low,
    /// Classic HLS, as configured (`--ll-hls off`, or `auto` on a stream that does not
    /// offer LL-HLS).
    Classic,
    /// Classic HLS although `--ll-hls on` asked for LL-HLS: the stream has no parts.
    FallBack,
}

/// The mode a track plays in, given `--ll-hls` and its first media playlist.
pub fn mode_for(setting: LlHlsMode, pl: &MediaPlaylist) -> Mode {
    let has_parts = pl.part_target.is_some();
    let can_block = pl
        .server_control
        .as_ref()
        .is_some_and(|sc| sc.can_block_reload);
    match setting {
        LlHlsMode::Off => Mode::Classic,
        _ if !pl.is_live() => Mode::Classic,
        LlHlsMode::Auto if has_parts && can_block => Mode::Low,
        LlHlsMode::Auto => Mode::Classic,
        LlHlsMode::On if has_parts => Mode::Low,
        LlHlsMode::On => Mode::FallBack,
    }
}

/// The part a blocking reload asks for after `pl`: the one after the last part `pl`
/// lists — the next part of the segment in production, or part 0 of the next segment
/// when no part of it is listed yet (hls.js `base-playlist-controller`, low-latency
/// mode). It is also the part the preload hint names.
pub fn next_part(pl: &MediaPlaylist) -> PartPos {
    PartPos::new(pl.next_msn(), pl.trailing_parts.len() as u64)
}

/// Whether `pl` answers a blocking reload for `asked`: it lists that part (or the whole
/// segment it belongs to) or something later (rfc8216bis §6.2.5.2).
pub fn satisfies(pl: &MediaPlaylist, asked: PartPos) -> bool {
    next_part(pl) > asked || pl.end_list
}

/// One loadable piece of a track: a listed part, or a whole segment whose parts are no
/// longer listed (older than three target durations).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<'a> {
    /// A listed part at `pos`.
    Part {
        /// Its position.
        pos: PartPos,
        /// The part.
        part: &'a Part,
    },
    /// A whole segment whose part at the position is no longer listed; `from` is the
    /// media of it already loaded as parts (zero from its start).
    Segment {
        /// The segment.
        seg: &'a Segment,
        /// Media at its start the track already has.
        from: Duration,
    },
}

/// What the loader does at `pos` with playlist `pl`.
#[derive(Debug, Clone, PartialEq)]
pub enum Locate<'a> {
    /// Load this, then go on at `then`.
    Load(Piece<'a>, PartPos),
    /// `pos` is past the last part of its segment: go on at this position instead.
    Skip(PartPos),
    /// Not listed yet: wait for a newer playlist (or load the preload hint).
    NotYet,
    /// Before the playlist's window: the media expired.
    Expired,
}

/// Where the part at `pos` is in `pl`.
pub fn locate(pl: &MediaPlaylist, pos: PartPos) -> Locate<'_> {
    let first = pl.segments.first().map_or(pl.next_msn(), |s| s.msn);
    if pos.msn < first {
        return Locate::Expired;
    }
    if pos.msn == pl.next_msn() {
        return match pl.trailing_parts.get(pos.part as usize) {
            Some(part) => Locate::Load(
                Piece::Part { pos, part },
                PartPos::new(pos.msn, pos.part + 1),
            ),
            None => Locate::NotYet,
        };
    }
    let Some(seg) = pl.segment(pos.msn) else {
        return Locate::NotYet;
    };
    let target = pl.part_target.unwrap_or_default();
    let unlisted = unlisted_parts(seg, target);
    if seg.parts.is_empty() || pos.part < unlisted {
        // The part is no longer listed (older than three target durations): the whole
        // segment, of which the media from the part on is new.
        let from = target.saturating_mul(u32::try_from(pos.part).unwrap_or(u32::MAX));
        if from >= seg.duration {
            return Locate::Skip(pos.next_segment());
        }
        return Locate::Load(Piece::Segment { seg, from }, pos.next_segment());
    }
    match seg.parts.get((pos.part - unlisted) as usize) {
        Some(part) => Locate::Load(
            Piece::Part { pos, part },
            PartPos::new(pos.msn, pos.part + 1),
        ),
        None => Locate::Skip(pos.next_segment()),
    }
}

/// How many of a complete segment's first parts the playlist no longer lists: a server
/// removes `EXT-X-PART` tags once they are older than three target durations
/// (rfc8216bis §6.2.2), so a segment may list only its last parts. Counted as the
/// segment's duration its listed parts do not cover, in PART-TARGETs.
fn unlisted_parts(seg: &Segment, part_target: Duration) -> u64 {
    if seg.parts.is_empty() || part_target.is_zero() {
        return 0;
    }
    let missing = seg.duration.saturating_sub(listed_duration(seg));
    (missing.as_secs_f64() / part_target.as_secs_f64()).round() as u64
}

/// Total duration of a segment's listed parts.
fn listed_duration(seg: &Segment) -> Duration {
    seg.parts.iter().map(|p| p.duration).sum()
}

/// Every listed part in stream order, with its position and its start date (from the
/// segment's PROGRAM-DATE-TIME; the segment in production is dated after the last one).
fn listed_parts(pl: &MediaPlaylist) -> Vec<(PartPos, &Part, Option<SystemTime>)> {
    let target = pl.part_target.unwrap_or_default();
    let mut out = Vec::new();
    for seg in &pl.segments {
        let unlisted = unlisted_parts(seg, target);
        let prefix = match unlisted {
            0 => Duration::ZERO,
            _ => seg.duration.saturating_sub(listed_duration(seg)),
        };
        let mut at = seg.program_date_time.map(|t| t + prefix);
        for (i, part) in seg.parts.iter().enumerate() {
            out.push((PartPos::new(seg.msn, unlisted + i as u64), part, at));
            at = at.map(|t| t + part.duration);
        }
    }
    let mut at = production_date(pl);
    for (i, part) in pl.trailing_parts.iter().enumerate() {
        out.push((PartPos::new(pl.next_msn(), i as u64), part, at));
        at = at.map(|t| t + part.duration);
    }
    out
}

/// The date the segment in production starts at: the last segment's date plus its
/// duration.
fn production_date(pl: &MediaPlaylist) -> Option<SystemTime> {
    let last = pl.segments.last()?;
    Some(last.program_date_time? + last.duration)
}

/// Where an LL-HLS viewer starts: the part at least PART-HOLD-BACK (default 3 ×
/// PART-TARGET) from the end of the playlist, moved back to the nearest independent
/// part at or before it (rfc8216bis §4.4.3.8 and §6.3.3; hls.js `getNextPart` keeps the
/// last independent part before its target). Returns the position to load from and how
/// much media lies between that part's start and the PART-HOLD-BACK point (played past
/// at startup, as a player seeks to its live sync position). `None` when no part is
/// listed.
pub fn start(pl: &MediaPlaylist) -> Option<(PartPos, Duration)> {
    let parts = listed_parts(pl);
    if parts.is_empty() {
        return None;
    }
    let hold = part_hold_back(pl);
    let mut from_end = Duration::ZERO;
    let mut target = 0;
    for (i, (_, part, _)) in parts.iter().enumerate().rev() {
        from_end += part.duration;
        target = i;
        if from_end >= hold {
            break;
        }
    }
    let independent = (0..=target)
        .rev()
        .find(|&i| parts[i].1.independent)
        .unwrap_or(target);
    let skipped = parts[independent..target]
        .iter()
        .map(|(_, p, _)| p.duration)
        .sum();
    parts.get(independent).map(|(pos, _, _)| (*pos, skipped))
}

/// PART-HOLD-BACK, or 3 × PART-TARGET when the playlist leaves it out.
pub fn part_hold_back(pl: &MediaPlaylist) -> Duration {
    pl.server_control
        .as_ref()
        .and_then(|sc| sc.part_hold_back)
        .unwrap_or_else(|| pl.part_target.unwrap_or_default() * 3)
}

/// When the part at `pos` should exist by the playlist: its segment's
/// PROGRAM-DATE-TIME plus the durations of its parts up to and including it (a part
/// not listed yet counts PART-TARGET). `None` without dates or when `pos` is not
/// listed and not the next part.
pub fn due(pl: &MediaPlaylist, pos: PartPos) -> Option<SystemTime> {
    let index = usize::try_from(pos.part).ok()?;
    if pos.msn == pl.next_msn() {
        let start = production_date(pl)?;
        let listed = pl.trailing_parts.len();
        let until: Duration = pl
            .trailing_parts
            .iter()
            .take(index + 1)
            .map(|p| p.duration)
            .sum();
        return match index.cmp(&listed) {
            std::cmp::Ordering::Less => Some(start + until),
            std::cmp::Ordering::Equal => Some(start + until + pl.part_target.unwrap_or_default()),
            std::cmp::Ordering::Greater => None,
        };
    }
    let seg = pl.segment(pos.msn)?;
    let unlisted = unlisted_parts(seg, pl.part_target.unwrap_or_default());
    let listed = index.checked_sub(usize::try_from(unlisted).ok()?)?;
    let prefix = match unlisted {
        0 => Duration::ZERO,
        _ => seg.duration.saturating_sub(listed_duration(seg)),
    };
    let until: Duration = seg.parts.get(..=listed)?.iter().map(|p| p.duration).sum();
    Some(seg.program_date_time? + prefix + until)
}

/// A held request's wait (sent to content received), split at the moment its content
/// was due: the *hold* is the wait before it (the origin doing what LL-HLS asks of it),
/// the *lateness* the wait past it (content arriving late). Disjoint: they add up to
/// the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitSplit {
    /// Wait before the content was due.
    pub hold: Duration,
    /// Wait past the moment the content was due.
    pub lateness: Duration,
}

/// Split the wait of a request sent at `sent` whose content arrived at `arrived`, the
/// content being due at `due` (all on the same clock).
pub fn split_wait(sent: Instant, arrived: Instant, due: Instant) -> WaitSplit {
    let waited = arrived.saturating_duration_since(sent);
    let hold = due.saturating_duration_since(sent).min(waited);
    WaitSplit {
        hold,
        lateness: waited - hold,
    }
}

/// `due` (a wall-clock date) on the monotonic clock, given one moment read on both.
pub fn due_instant(due: SystemTime, now: Instant, wall_now: SystemTime) -> Instant {
    match due.duration_since(wall_now) {
        Ok(ahead) => now + ahead,
        Err(e) => now.checked_sub(e.duration()).unwrap_or(now),
    }
}

/// Whether to ask for a delta update (`_HLS_skip=YES`): the server offers them
/// (CAN-SKIP-UNTIL) and the copy the viewer holds is younger than half the skip
/// boundary (rfc8216bis §6.3.7), so its segments cover what the update leaves out.
pub fn ask_skip(pl: &MediaPlaylist, copy_age: Duration) -> bool {
    pl.server_control
        .as_ref()
        .and_then(|sc| sc.can_skip_until)
        .is_some_and(|until| copy_age < until / 2)
}

/// The URL of a blocking reload for `pos`, with `_HLS_skip=YES` when `skip` (other
/// query parameters of `base` kept, earlier directives replaced).
pub fn blocking_url(base: &Url, pos: PartPos, skip: bool) -> Url {
    let mut url = plain_url(base);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("_HLS_msn", &pos.msn.to_string());
        q.append_pair("_HLS_part", &pos.part.to_string());
        if skip {
            q.append_pair("_HLS_skip", "YES");
        }
    }
    url
}

/// `url` without the LL-HLS delivery directives (`_HLS_*` query parameters): the
/// playlist's own address, to reload from.
pub fn plain_url(url: &Url) -> Url {
    let mut plain = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("_HLS_"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    plain.set_query(None);
    if !kept.is_empty() {
        plain.query_pairs_mut().extend_pairs(kept);
    }
    plain
}

/// The live edge another rendition's playlist reported for `url`
/// (`EXT-X-RENDITION-REPORT` with `LAST-MSN` and `LAST-PART`): a blocking request for
/// it is answered at once with a playlist at least as far along (rfc8216bis §4.4.5.4,
/// §6.2.5.2; hls.js `switchParams` does the same when it switches renditions).
pub fn reported(reports: &[RenditionReport], url: &Url) -> Option<PartPos> {
    let plain = plain_url(url);
    let r = reports.iter().find(|r| r.uri == plain)?;
    Some(PartPos::new(r.last_msn?, r.last_part?))
}

/// Why a delta update could not be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeError {
    /// The update skips segments the viewer's copy does not hold.
    Gap,
}

/// Merge a delta update into the full playlist `old` (rfc8216bis §4.4.5.2, §6.2.5.1):
/// the segments it skipped are taken from `old`, its listed ones as they are. A full
/// playlist is returned unchanged.
pub fn merge_delta(
    old: &MediaPlaylist,
    mut delta: MediaPlaylist,
) -> Result<MediaPlaylist, MergeError> {
    if delta.skipped_segments == 0 {
        return Ok(delta);
    }
    let from = delta.media_sequence;
    let until = from.saturating_add(delta.skipped_segments);
    let mut merged: Vec<Segment> =
        Vec::with_capacity(delta.segments.len() + delta.skipped_segments as usize);
    for msn in from..until {
        merged.push(old.segment(msn).ok_or(MergeError::Gap)?.clone());
    }
    merged.append(&mut delta.segments);
    delta.segments = merged;
    delta.skipped_segments = 0;
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{self, Playlist};

    const BASE: &str = "http://o/v0/playlist.m3u8";

    /// A playlist like the built-in origin's: 2 s segments of ten 200 ms parts, part 0
    /// independent, `listed` complete segments from 10 (the last ones with parts), then
    /// `trailing` parts of segment 10+listed.
    fn ll_playlist(listed: u64, trailing: u64, skip_until: bool) -> String {
        let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n");
        s.push_str("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600");
        if skip_until {
            s.push_str(",CAN-SKIP-UNTIL=12.0");
        }
        s.push_str("\n#EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:10\n");
        for n in 10..10 + listed {
            s.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:{:02}.000Z\n",
                (n - 10) * 2
            ));
            if n + 3 >= 10 + listed {
                for j in 0..10 {
                    let ind = if j == 0 { ",INDEPENDENT=YES" } else { "" };
                    s.push_str(&format!(
                        "#EXT-X-PART:DURATION=0.200,URI=\"seg{n}.{j}.ts\"{ind}\n"
                    ));
                }
            }
            s.push_str(&format!("#EXTINF:2.000,\nseg{n}.ts\n"));
        }
        let n = 10 + listed;
        for j in 0..trailing {
            let ind = if j == 0 { ",INDEPENDENT=YES" } else { "" };
            s.push_str(&format!(
                "#EXT-X-PART:DURATION=0.200,URI=\"seg{n}.{j}.ts\"{ind}\n"
            ));
        }
        s.push_str(&format!(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg{n}.{trailing}.ts\"\n"
        ));
        s
    }

    fn parse(text: &str) -> MediaPlaylist {
        match hls::parse(text.as_bytes(), &Url::parse(BASE).unwrap()).unwrap() {
            Playlist::Media(m) => m,
            Playlist::Master(_) => panic!("master"),
        }
    }

    #[test]
    fn the_mode_follows_the_setting_and_what_the_playlist_offers() {
        let ll = parse(&ll_playlist(4, 3, false));
        let classic = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n");
        assert_eq!(mode_for(LlHlsMode::Auto, &ll), Mode::Low);
        assert_eq!(mode_for(LlHlsMode::On, &ll), Mode::Low);
        assert_eq!(mode_for(LlHlsMode::Off, &ll), Mode::Classic);
        assert_eq!(mode_for(LlHlsMode::Auto, &classic), Mode::Classic);
        assert_eq!(mode_for(LlHlsMode::On, &classic), Mode::FallBack);
        // Parts without CAN-BLOCK-RELOAD: auto stays classic, on tries.
        let no_block = parse(&ll_playlist(4, 3, false).replace("CAN-BLOCK-RELOAD=YES,", ""));
        assert_eq!(mode_for(LlHlsMode::Auto, &no_block), Mode::Classic);
        assert_eq!(mode_for(LlHlsMode::On, &no_block), Mode::Low);
    }

    #[test]
    fn the_next_part_is_after_the_last_listed_one() {
        assert_eq!(
            next_part(&parse(&ll_playlist(4, 3, false))),
            PartPos::new(14, 3)
        );
        assert_eq!(
            next_part(&parse(&ll_playlist(4, 0, false))),
            PartPos::new(14, 0)
        );
    }

    #[test]
    fn a_playlist_satisfies_a_request_when_it_lists_the_part_or_later() {
        let pl = parse(&ll_playlist(4, 3, false));
        assert!(satisfies(&pl, PartPos::new(14, 2)));
        assert!(satisfies(&pl, PartPos::new(13, 9)));
        assert!(
            !satisfies(&pl, PartPos::new(14, 3)),
            "the old playlist again"
        );
        assert!(!satisfies(&pl, PartPos::new(15, 0)));
    }

    #[test]
    fn start_is_part_hold_back_from_the_end_at_an_independent_part() {
        // Trailing parts 0..=4 of segment 14: 3 parts back is part 2; the independent
        // one at or before it is part 0, 400 ms of media before the target.
        let pl = parse(&ll_playlist(4, 5, false));
        assert_eq!(
            start(&pl),
            Some((PartPos::new(14, 0), Duration::from_millis(400)))
        );
        // Only one trailing part: 3 back is part 8 of 13, independent part 0 of 13.
        let pl = parse(&ll_playlist(4, 1, false));
        assert_eq!(
            start(&pl),
            Some((PartPos::new(13, 0), Duration::from_millis(1600)))
        );
        // No parts at all.
        let classic = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n");
        assert_eq!(start(&classic), None);
    }

    #[test]
    fn locate_walks_parts_then_whole_segments_then_waits() {
        let pl = parse(&ll_playlist(6, 2, false));
        // Segment 11 lists no parts any more: loaded whole, from its start.
        assert!(matches!(
            locate(&pl, PartPos::new(11, 0)),
            Locate::Load(Piece::Segment { seg, from }, next)
                if seg.msn == 11 && from.is_zero() && next == PartPos::new(12, 0)
        ));
        // Mid-segment: the rest of it, from the part on.
        assert!(matches!(
            locate(&pl, PartPos::new(11, 4)),
            Locate::Load(Piece::Segment { seg, from }, next)
                if seg.msn == 11 && from == Duration::from_millis(800) && next == PartPos::new(12, 0)
        ));
        assert!(matches!(
            locate(&pl, PartPos::new(13, 9)),
            Locate::Load(Piece::Part { pos, .. }, next) if pos == PartPos::new(13, 9) && next == PartPos::new(13, 10)
        ));
        assert_eq!(
            locate(&pl, PartPos::new(13, 10)),
            Locate::Skip(PartPos::new(14, 0))
        );
        assert!(matches!(
            locate(&pl, PartPos::new(16, 1)),
            Locate::Load(Piece::Part { .. }, _)
        ));
        assert_eq!(locate(&pl, PartPos::new(16, 2)), Locate::NotYet);
        assert_eq!(locate(&pl, PartPos::new(17, 0)), Locate::NotYet);
        assert_eq!(locate(&pl, PartPos::new(9, 0)), Locate::Expired);
    }

    #[test]
    fn a_segment_listing_only_its_last_parts_keeps_their_numbers() {
        // Segment 13 lists only parts 7, 8 and 9 (the older ones were removed).
        let text = ll_playlist(4, 2, false);
        let mut kept = Vec::new();
        for l in text.lines() {
            let old_part = (0..7).any(|j| l.contains(&format!("URI=\"seg13.{j}.ts\"")));
            if !old_part {
                kept.push(l);
            }
        }
        let pl = parse(&kept.join("\n"));
        assert_eq!(pl.segment(13).map(|s| s.parts.len()), Some(3));
        assert!(matches!(
            locate(&pl, PartPos::new(13, 8)),
            Locate::Load(Piece::Part { part, .. }, _) if part.uri.path().ends_with("seg13.8.ts")
        ));
        assert!(matches!(
            locate(&pl, PartPos::new(13, 0)),
            Locate::Load(Piece::Segment { seg, from }, _) if seg.msn == 13 && from.is_zero()
        ));
        assert!(matches!(
            locate(&pl, PartPos::new(13, 3)),
            Locate::Load(Piece::Segment { from, .. }, _) if from == Duration::from_millis(600)
        ));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        // Segment 13 starts at 6 s: part 8 ends at 7.8 s.
        assert_eq!(
            due(&pl, PartPos::new(13, 8)),
            Some(t0 + Duration::from_millis(7800))
        );
        assert_eq!(due(&pl, PartPos::new(13, 2)), None, "not listed");
    }

    #[test]
    fn due_is_the_end_of_the_part_by_program_date_time() {
        let pl = parse(&ll_playlist(4, 3, false));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
        // Segment 14 starts at 8 s; its part 2 ends at 8.6 s, the next (part 3) at 8.8 s.
        assert_eq!(
            due(&pl, PartPos::new(14, 2)),
            Some(t0 + Duration::from_millis(8600))
        );
        assert_eq!(
            due(&pl, PartPos::new(14, 3)),
            Some(t0 + Duration::from_millis(8800))
        );
        assert_eq!(
            due(&pl, PartPos::new(13, 0)),
            Some(t0 + Duration::from_millis(6200))
        );
        let pl = parse(&ll_playlist(4, 0, false));
        assert_eq!(
            due(&pl, PartPos::new(14, 0)),
            Some(t0 + Duration::from_millis(8200))
        );
        assert_eq!(due(&pl, PartPos::new(20, 0)), None);
    }

    #[test]
    fn a_wait_splits_into_hold_before_the_due_time_and_lateness_after() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        // Sent 150 ms before due, arrived 10 ms after due.
        assert_eq!(
            split_wait(t, t + ms(160), t + ms(150)),
            WaitSplit {
                hold: ms(150),
                lateness: ms(10)
            }
        );
        // On time.
        assert_eq!(
            split_wait(t, t + ms(100), t + ms(150)),
            WaitSplit {
                hold: ms(100),
                lateness: ms(0)
            }
        );
        // Sent after due: the whole wait is late.
        assert_eq!(
            split_wait(t + ms(200), t + ms(900), t + ms(150)),
            WaitSplit {
                hold: ms(0),
                lateness: ms(700)
            }
        );
    }

    #[test]
    fn due_dates_map_onto_the_monotonic_clock() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let s = Duration::from_secs(1);
        assert_eq!(due_instant(wall + s, now, wall), now + s);
        assert_eq!(due_instant(wall - s, now + s, wall), now);
    }

    #[test]
    fn skip_is_asked_only_when_offered_and_the_copy_is_fresh() {
        let offers = parse(&ll_playlist(4, 3, true));
        assert!(ask_skip(&offers, Duration::from_secs(1)));
        assert!(!ask_skip(&offers, Duration::from_secs(6)));
        assert!(!ask_skip(&parse(&ll_playlist(4, 3, false)), Duration::ZERO));
    }

    #[test]
    fn blocking_urls_carry_the_directives_once() {
        let base = Url::parse("http://o/v0/playlist.m3u8?token=a&_HLS_msn=1").unwrap();
        let u = blocking_url(&base, PartPos::new(14, 3), true);
        assert_eq!(
            u.as_str(),
            "http://o/v0/playlist.m3u8?token=a&_HLS_msn=14&_HLS_part=3&_HLS_skip=YES"
        );
        let u = blocking_url(&Url::parse(BASE).unwrap(), PartPos::new(1, 0), false);
        assert_eq!(u.query(), Some("_HLS_msn=1&_HLS_part=0"));
    }

    #[test]
    fn rendition_reports_give_the_other_playlists_live_edge() {
        let url = |s: &str| Url::parse(s).unwrap();
        let reports = vec![
            RenditionReport {
                uri: url("http://o/a/playlist.m3u8"),
                last_msn: Some(14),
                last_part: Some(3),
            },
            RenditionReport {
                uri: url("http://o/b/playlist.m3u8"),
                last_msn: Some(14),
                last_part: None,
            },
        ];
        assert_eq!(
            reported(
                &reports,
                &url("http://o/a/playlist.m3u8?_HLS_msn=2&_HLS_part=0")
            ),
            Some(PartPos::new(14, 3))
        );
        assert_eq!(
            reported(&reports, &url("http://o/b/playlist.m3u8")),
            None,
            "no LAST-PART"
        );
        assert_eq!(reported(&reports, &url("http://o/c/playlist.m3u8")), None);
        assert_eq!(
            plain_url(&url("http://o/a.m3u8?k=1&_HLS_msn=2&_HLS_skip=YES")).as_str(),
            "http://o/a.m3u8?k=1"
        );
        assert_eq!(
            plain_url(&url("http://o/a.m3u8?_HLS_msn=2")).as_str(),
            "http://o/a.m3u8"
        );
    }

    #[test]
    fn a_delta_update_merges_with_the_skipped_segments_of_the_old_copy() {
        let full = parse(&ll_playlist(8, 3, true));
        // The delta of the next version: segments 10..=13 skipped, 14..=17 listed, 4
        // trailing parts.
        let text = ll_playlist(8, 4, true);
        let mut lines: Vec<&str> = Vec::new();
        let mut skipping = false;
        for l in text.lines() {
            if l.starts_with("#EXT-X-MEDIA-SEQUENCE") {
                lines.push(l);
                lines.push("#EXT-X-SKIP:SKIPPED-SEGMENTS=4");
                skipping = true;
                continue;
            }
            if skipping {
                if l.contains("00:00:08.000") {
                    skipping = false;
                } else {
                    continue;
                }
            }
            lines.push(l);
        }
        let delta = parse(&lines.join("\n"));
        assert_eq!(delta.skipped_segments, 4);
        assert_eq!(delta.segments.first().map(|s| s.msn), Some(14));
        let merged = merge_delta(&full, delta).unwrap();
        assert_eq!(merged, parse(&ll_playlist(8, 4, true)));
        // A copy lacking the skipped segments cannot be merged.
        let mut short = parse(&ll_playlist(8, 3, true));
        short.segments.remove(0);
        let delta = parse(&lines.join("\n"));
        assert_eq!(merge_delta(&short, delta), Err(MergeError::Gap));
    }
}

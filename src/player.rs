//! The player model: a pure, clock-driven playhead/buffer simulation of one viewer.
//!
//! The engine tells it when media became buffered; it answers when playback started,
//! when the playhead ran into the end of the buffer (a stall) and when playback resumed.
//! Time is always passed in (`now`), so tests drive it with a fake clock and every
//! timestamp it reports is exact model time, not the time a task happened to wake up.
//!
//! Model (one viewer, one or more tracks such as video variants and audio renditions):
//! - each track has a contiguous buffer `[0, buffered_end)` in its own media time;
//! - the playable end is the minimum over tracks (a player needs every stream);
//! - playback starts once every track has at least `startup_buffer` buffered past the
//!   start position (0, or where an LL-HLS viewer seeks to: PART-HOLD-BACK from the live
//!   edge, after the independent part it loaded from — [`Player::set_start`]);
//! - while playing, the playhead advances with wall time; when it reaches the playable
//!   end the viewer stalls, and resumes as soon as the playable end moves past it;
//! - when every track reached its end of stream (VOD/ENDLIST) and the playhead reached
//!   the playable end, playback ends (not a stall).

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Where the viewer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerState {
    /// Tuned in, waiting for the startup buffer.
    Startup,
    /// Playhead advancing.
    Playing,
    /// Playhead stopped at the end of the buffer.
    Stalled,
    /// Every track ended and everything was played.
    Ended,
}

/// Something the model decided; the engine turns these into events and gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    /// Playback began `startup` after tune-in.
    Started {
        /// Tune-in to first frame.
        startup: Duration,
    },
    /// The playhead reached the end of the buffer at `at`.
    StallStarted {
        /// Exact model time the buffer ran dry.
        at: Instant,
    },
    /// Playback resumed after a stall of `stalled`.
    StallEnded {
        /// Length of the stall.
        stalled: Duration,
    },
    /// All media played; the viewer is done.
    Ended,
}

#[derive(Debug, Clone)]
struct Track {
    buffered_end: Duration,
    end_of_stream: bool,
}

/// One viewer's playhead and buffers. Pure: no I/O, no clock reads.
#[derive(Debug, Clone)]
pub struct Player {
    state: PlayerState,
    tune_in: Instant,
    startup_buffer: Duration,
    tracks: Vec<Track>,
    /// Playhead position at `anchor_at` (valid in Playing/Stalled/Ended).
    anchor_playhead: Duration,
    anchor_at: Instant,
    stall_started: Option<Instant>,
    n_stalls: u64,
    stalled_total: Duration,
    reported_played: Duration,
    /// Where playback starts in media time (see [`Player::set_start`]).
    start_at: Duration,
    /// Track 0's latest dated media: its offset in the buffer and its
    /// PROGRAM-DATE-TIME, for [`Player::playhead_date`].
    dated: Option<(Duration, SystemTime)>,
}

impl Player {
    /// A viewer that tuned in at `tune_in` and plays `n_tracks` streams (at least one).
    /// Playback starts once every track holds `startup_buffer` of media.
    pub fn new(tune_in: Instant, n_tracks: usize, startup_buffer: Duration) -> Self {
        Player {
            state: PlayerState::Startup,
            tune_in,
            startup_buffer,
            tracks: vec![
                Track {
                    buffered_end: Duration::ZERO,
                    end_of_stream: false,
                };
                n_tracks.max(1)
            ],
            anchor_playhead: Duration::ZERO,
            anchor_at: tune_in,
            stall_started: None,
            n_stalls: 0,
            stalled_total: Duration::ZERO,
            reported_played: Duration::ZERO,
            start_at: Duration::ZERO,
            dated: None,
        }
    }

    /// Before playback starts: begin playing at media time `at` rather than at the start
    /// of the buffer (an LL-HLS viewer loads from an independent part and seeks to its
    /// live point after it). Ignored once playback started.
    pub fn set_start(&mut self, at: Duration) {
        if self.state == PlayerState::Startup {
            self.start_at = at;
        }
    }

    /// `media` more of `track` finished downloading at `now`; `date` is the
    /// PROGRAM-DATE-TIME of its first sample, if the playlist gives one (dates of track 0
    /// make [`Player::playhead_date`]).
    pub fn on_buffered_dated(
        &mut self,
        track: usize,
        media: Duration,
        now: Instant,
        date: Option<SystemTime>,
    ) -> Vec<Transition> {
        if track == 0
            && let (Some(date), Some(t)) = (date, self.tracks.first())
        {
            self.dated = Some((t.buffered_end, date));
        }
        self.on_buffered(track, media, now)
    }

    /// The PROGRAM-DATE-TIME of the media at the playhead at `now` (from track 0's latest
    /// dated media); `None` before playback or without dates. Live latency is the wall
    /// clock minus this.
    pub fn playhead_date(&self, now: Instant) -> Option<SystemTime> {
        if !matches!(self.state, PlayerState::Playing | PlayerState::Stalled) {
            return None;
        }
        let (offset, date) = self.dated?;
        let playhead = self.playhead(now);
        if playhead >= offset {
            date.checked_add(playhead - offset)
        } else {
            date.checked_sub(offset - playhead)
        }
    }

    /// Current state (as of the last call that took `now`).
    pub fn state(&self) -> PlayerState {
        self.state
    }

    /// Number of stalls so far.
    pub fn stalls(&self) -> u64 {
        self.n_stalls
    }

    /// Total stalled time of finished stalls.
    pub fn stalled_total(&self) -> Duration {
        self.stalled_total
    }

    fn playable_end(&self) -> Duration {
        self.tracks
            .iter()
            .map(|t| t.buffered_end)
            .min()
            .unwrap_or(Duration::ZERO)
    }

    fn all_ended(&self) -> bool {
        self.tracks.iter().all(|t| t.end_of_stream)
    }

    /// Playhead position at `now` (media time; zero before playback starts).
    pub fn playhead(&self, now: Instant) -> Duration {
        match self.state {
            PlayerState::Playing => {
                let p = self.anchor_playhead + now.saturating_duration_since(self.anchor_at);
                p.min(self.playable_end())
            }
            _ => self.anchor_playhead,
        }
    }

    /// Media buffered ahead of the playhead on `track` at `now`.
    pub fn buffer_ahead(&self, track: usize, now: Instant) -> Duration {
        let end = self
            .tracks
            .get(track)
            .map(|t| t.buffered_end)
            .unwrap_or_default();
        end.saturating_sub(self.playhead(now))
    }

    /// When the playhead will reach the playable end if nothing more arrives
    /// (a stall, or the end of playback for ended streams). `None` unless playing.
    pub fn next_stall_at(&self) -> Option<Instant> {
        match self.state {
            PlayerState::Playing => {
                let ahead = self.playable_end().saturating_sub(self.anchor_playhead);
                Some(self.anchor_at + ahead)
            }
            _ => None,
        }
    }

    /// Bring the model up to `now`: detects a stall (or the end) that happened since the
    /// last call, stamped with the exact moment the buffer ran dry.
    pub fn advance(&mut self, now: Instant) -> Vec<Transition> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    fn advance_into(&mut self, now: Instant, out: &mut Vec<Transition>) {
        if self.state != PlayerState::Playing {
            return;
        }
        let Some(dry_at) = self.next_stall_at() else {
            return;
        };
        if now < dry_at {
            return;
        }
        self.anchor_playhead = self.playable_end();
        self.anchor_at = dry_at;
        if self.all_ended() {
            self.state = PlayerState::Ended;
            out.push(Transition::Ended);
        } else {
            self.state = PlayerState::Stalled;
            self.stall_started = Some(dry_at);
            self.n_stalls += 1;
            out.push(Transition::StallStarted { at: dry_at });
        }
    }

    /// `media` more of `track` finished downloading at `now`.
    pub fn on_buffered(&mut self, track: usize, media: Duration, now: Instant) -> Vec<Transition> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        if let Some(t) = self.tracks.get_mut(track) {
            t.buffered_end += media;
        }
        self.after_buffer_change(now, &mut out);
        out
    }

    /// `track` skipped ahead (segments expired or were given up): its buffer continues from
    /// the playhead, so the next buffered media plays right after what is already there.
    pub fn resync(&mut self, track: usize, now: Instant) {
        let playhead = self.playhead(now);
        if let Some(t) = self.tracks.get_mut(track) {
            t.buffered_end = t.buffered_end.max(playhead);
        }
    }

    /// `track` has no more media (ENDLIST reached and fully downloaded).
    pub fn on_end_of_stream(&mut self, track: usize, now: Instant) -> Vec<Transition> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        if let Some(t) = self.tracks.get_mut(track) {
            t.end_of_stream = true;
        }
        self.after_buffer_change(now, &mut out);
        out
    }

    fn after_buffer_change(&mut self, now: Instant, out: &mut Vec<Transition>) {
        match self.state {
            PlayerState::Startup => {
                let need = self.start_at + self.startup_buffer;
                let ready = self
                    .tracks
                    .iter()
                    .all(|t| t.buffered_end >= need || t.end_of_stream);
                if ready && self.playable_end() > self.start_at {
                    self.state = PlayerState::Playing;
                    self.anchor_at = now;
                    self.anchor_playhead = self.start_at;
                    self.reported_played = self.start_at;
                    out.push(Transition::Started {
                        startup: now.saturating_duration_since(self.tune_in),
                    });
                }
            }
            PlayerState::Stalled => {
                if self.playable_end() > self.anchor_playhead {
                    let began = self.stall_started.take().unwrap_or(now);
                    let stalled = now.saturating_duration_since(began);
                    self.stalled_total += stalled;
                    self.state = PlayerState::Playing;
                    self.anchor_at = now;
                    out.push(Transition::StallEnded { stalled });
                } else if self.all_ended() {
                    // Stalled at the very end and no more media will come: playback is over.
                    self.stall_started = None;
                    self.state = PlayerState::Ended;
                    out.push(Transition::Ended);
                }
            }
            PlayerState::Playing | PlayerState::Ended => {}
        }
    }

    /// Length of the stall in progress at `now`, if stalled.
    pub fn current_stall(&self, now: Instant) -> Option<Duration> {
        self.stall_started
            .filter(|_| self.state == PlayerState::Stalled)
            .map(|s| now.saturating_duration_since(s))
    }

    /// Media played since the previous call (for rebuffer ratio accounting).
    pub fn take_played(&mut self, now: Instant) -> Duration {
        let p = self.playhead(now);
        let d = p.saturating_sub(self.reported_played);
        self.reported_played = self.reported_played.max(p);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn startup_waits_for_the_first_segment_and_reports_its_time() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        assert_eq!(p.state(), PlayerState::Startup);
        let tr = p.on_buffered(0, 2 * S, start + Duration::from_millis(350));
        assert_eq!(
            tr,
            vec![Transition::Started {
                startup: Duration::from_millis(350)
            }]
        );
        assert_eq!(p.state(), PlayerState::Playing);
    }

    #[test]
    fn startup_needs_every_track() {
        let start = t0();
        let mut p = Player::new(start, 2, S);
        assert!(p.on_buffered(0, 2 * S, start + S).is_empty());
        let tr = p.on_buffered(1, 2 * S, start + 2 * S);
        assert_eq!(tr, vec![Transition::Started { startup: 2 * S }]);
    }

    #[test]
    fn stall_is_stamped_when_the_buffer_ran_dry_not_when_noticed() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, 3 * S, start);
        assert_eq!(p.next_stall_at(), Some(start + 3 * S));
        // Noticed late: still stamped at 3 s.
        let tr = p.advance(start + 5 * S);
        assert_eq!(tr, vec![Transition::StallStarted { at: start + 3 * S }]);
        assert_eq!(p.state(), PlayerState::Stalled);
        assert_eq!(p.current_stall(start + 5 * S), Some(2 * S));
        assert_eq!(p.playhead(start + 5 * S), 3 * S);
    }

    #[test]
    fn recovery_ends_the_stall_with_its_exact_length() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, 2 * S, start);
        let tr = p.on_buffered(0, 2 * S, start + 7 * S);
        assert_eq!(
            tr,
            vec![
                Transition::StallStarted { at: start + 2 * S },
                Transition::StallEnded { stalled: 5 * S }
            ]
        );
        assert_eq!(p.stalls(), 1);
        assert_eq!(p.stalled_total(), 5 * S);
        // Playhead resumes from 2 s.
        assert_eq!(p.playhead(start + 8 * S), 3 * S);
        assert_eq!(p.next_stall_at(), Some(start + 9 * S));
    }

    #[test]
    fn steady_live_playback_never_stalls() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        // Tune in 3 segments back, then one new 1 s segment every second.
        p.on_buffered(0, 3 * S, start);
        for i in 1..100u32 {
            let tr = p.on_buffered(0, S, start + i * S);
            assert!(tr.is_empty(), "unexpected {tr:?} at {i}");
        }
        assert_eq!(p.stalls(), 0);
        assert_eq!(p.buffer_ahead(0, start + 99 * S), 3 * S);
    }

    #[test]
    fn slowest_track_decides_the_stall() {
        let start = t0();
        let mut p = Player::new(start, 2, S);
        p.on_buffered(0, 10 * S, start);
        p.on_buffered(1, 2 * S, start);
        assert_eq!(p.next_stall_at(), Some(start + 2 * S));
    }

    #[test]
    fn end_of_stream_ends_playback_without_a_stall() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, 4 * S, start);
        p.on_end_of_stream(0, start + S);
        let tr = p.advance(start + 10 * S);
        assert_eq!(tr, vec![Transition::Ended]);
        assert_eq!(p.stalls(), 0);
        assert_eq!(p.state(), PlayerState::Ended);
    }

    #[test]
    fn end_of_stream_while_stalled_ends() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, S, start);
        p.advance(start + 2 * S);
        assert_eq!(p.state(), PlayerState::Stalled);
        let tr = p.on_end_of_stream(0, start + 3 * S);
        assert_eq!(tr, vec![Transition::Ended]);
    }

    #[test]
    fn resync_continues_from_the_playhead() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, 2 * S, start);
        p.advance(start + 4 * S); // stalled at 2 s
        p.resync(0, start + 4 * S);
        let tr = p.on_buffered(0, S, start + 4 * S);
        assert_eq!(tr, vec![Transition::StallEnded { stalled: 2 * S }]);
        assert_eq!(p.playhead(start + 4 * S), 2 * S);
    }

    #[test]
    fn a_start_position_waits_for_media_past_it_and_plays_from_there() {
        let start = t0();
        let ms = Duration::from_millis;
        let mut p = Player::new(start, 1, ms(1));
        p.set_start(ms(400));
        // Two 200 ms parts reach the start point but nothing past it yet.
        assert!(p.on_buffered(0, ms(200), start).is_empty());
        assert!(p.on_buffered(0, ms(200), start + ms(10)).is_empty());
        let tr = p.on_buffered(0, ms(200), start + ms(200));
        assert_eq!(tr, vec![Transition::Started { startup: ms(200) }]);
        assert_eq!(p.playhead(start + ms(300)), ms(500));
        assert_eq!(
            p.take_played(start + ms(300)),
            ms(100),
            "the skipped media was not played"
        );
        p.set_start(Duration::ZERO);
        assert_eq!(p.playhead(start + ms(300)), ms(500), "ignored once playing");
    }

    #[test]
    fn the_playhead_date_follows_the_latest_dated_media() {
        let start = t0();
        let ms = Duration::from_millis;
        let day = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        let mut p = Player::new(start, 1, ms(1));
        assert_eq!(p.playhead_date(start), None);
        p.on_buffered_dated(0, ms(200), start, Some(day));
        assert_eq!(p.playhead_date(start + ms(50)), Some(day + ms(50)));
        // The next part's date re-anchors; the playhead is still in the first part.
        p.on_buffered_dated(0, ms(200), start + ms(100), Some(day + ms(200)));
        assert_eq!(p.playhead_date(start + ms(150)), Some(day + ms(150)));
        // Dates of another track are not used.
        p.on_buffered_dated(1, ms(200), start + ms(100), Some(day + ms(9000)));
        assert_eq!(p.playhead_date(start + ms(150)), Some(day + ms(150)));
    }

    #[test]
    fn take_played_reports_increments() {
        let start = t0();
        let mut p = Player::new(start, 1, S);
        p.on_buffered(0, 10 * S, start);
        assert_eq!(p.take_played(start + 3 * S), 3 * S);
        assert_eq!(p.take_played(start + 5 * S), 2 * S);
        assert_eq!(p.take_played(start + 5 * S), Duration::ZERO);
    }
}

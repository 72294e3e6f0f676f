//! The crash-loop breaker (pure): when most viewers keep dying within seconds of their
//! start, respawning them only burns CPU and hides the real problem (a bad FFmpeg, a bad
//! option, an unreachable stream). It trips once; the engine then stops the ramp, shows
//! the failing process's last stderr lines with a hint, and — if no FFmpeg ever played —
//! ends the run with exit code 1.

use std::time::Duration;

/// A process that exits sooner than this after its start died "quickly".
pub const QUICK: Duration = Duration::from_secs(5);

/// Consecutive quick deaths that put a viewer slot in a crash loop.
pub const STREAK: u32 = 3;

/// Per-slot streak of quick deaths.
#[derive(Debug, Default, Clone, Copy)]
pub struct SlotStreak(u32);

/// Shared breaker state.
#[derive(Debug, Default)]
pub struct Breaker {
    looping: u64,
    ever_played: bool,
    tripped: bool,
}

/// The breaker just tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trip {
    /// Slots in a crash loop.
    pub looping: u64,
    /// Slots started so far.
    pub ramped: u64,
    /// Some FFmpeg played at some point of the run.
    pub ever_played: bool,
}

impl Breaker {
    /// An FFmpeg started playing (output advanced).
    pub fn played(&mut self) {
        self.ever_played = true;
    }

    /// Whether it has tripped.
    pub fn tripped(&self) -> bool {
        self.tripped
    }

    /// Slots currently in a crash loop.
    pub fn looping(&self) -> u64 {
        self.looping
    }

    /// A process of `slot` ended on its own (not killed by the swarm) after `uptime`, with
    /// `ramped` slots started so far. Returns the trip if this exit tripped the breaker.
    pub fn on_exit(
        &mut self,
        slot: &mut SlotStreak,
        uptime: Duration,
        ramped: u64,
    ) -> Option<Trip> {
        if uptime < QUICK {
            slot.0 = slot.0.saturating_add(1);
            if slot.0 == STREAK {
                self.looping += 1;
            }
        } else {
            self.healthy(slot);
        }
        if !self.tripped && self.looping >= 1 && self.looping * 2 > ramped.max(1) {
            self.tripped = true;
            return Some(Trip {
                looping: self.looping,
                ramped,
                ever_played: self.ever_played,
            });
        }
        None
    }

    /// `slot` ran fine (or was replaced by the swarm): its streak ends.
    pub fn healthy(&mut self, slot: &mut SlotStreak) {
        if slot.0 >= STREAK {
            self.looping = self.looping.saturating_sub(1);
        }
        slot.0 = 0;
    }
}

/// A hint for the operator from the failing process's last lines.
pub fn hint(lines: &[&str]) -> &'static str {
    let any = |needle: &str| lines.iter().any(|l| l.contains(needle));
    if any("cannot start") {
        "the FFmpeg binary could not be started: install FFmpeg (`apt-get install ffmpeg`) or point -ffmpeg at it"
    } else if any("Unrecognized option") || any("Invalid loglevel") || any("Option not found") {
        "this FFmpeg rejects an option hls-swarm passed: run `hls-swarm --check -engine ffmpeg URL` and report the version"
    } else if any("HTTP error") || any("Connection refused") || any("Server returned") {
        "FFmpeg cannot load the stream: check the URL and the origin (`hls-swarm --check URL`)"
    } else if any("Invalid data") || any("could not find codec") {
        "FFmpeg cannot read the stream's media: check the playlist and segments with `ffprobe URL`"
    } else {
        "run the command of `hls-swarm --print-cmd -engine ffmpeg URL` by hand to see why FFmpeg exits"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(100);

    #[test]
    fn trips_when_most_slots_loop() {
        let mut b = Breaker::default();
        let mut slots = [SlotStreak::default(); 4];
        // Two quick deaths each: nothing yet.
        for _ in 0..2 {
            for s in &mut slots {
                assert!(b.on_exit(s, FAST, 4).is_none());
            }
        }
        // Third death of slots 0 and 1: 2 of 4 is not most.
        assert!(b.on_exit(&mut slots[0], FAST, 4).is_none());
        assert!(b.on_exit(&mut slots[1], FAST, 4).is_none());
        // Slot 2 makes 3 of 4.
        let t = b.on_exit(&mut slots[2], FAST, 4);
        assert_eq!(
            t,
            Some(Trip {
                looping: 3,
                ramped: 4,
                ever_played: false
            })
        );
        assert!(b.tripped());
        assert!(b.on_exit(&mut slots[3], FAST, 4).is_none(), "trips once");
    }

    #[test]
    fn long_lives_break_the_streak() {
        let mut b = Breaker::default();
        let mut s = SlotStreak::default();
        b.played();
        for _ in 0..2 {
            b.on_exit(&mut s, FAST, 10);
        }
        b.on_exit(&mut s, Duration::from_secs(60), 10);
        assert_eq!(b.looping(), 0);
        for _ in 0..3 {
            b.on_exit(&mut s, FAST, 10);
        }
        assert_eq!(b.looping(), 1);
        assert!(!b.tripped(), "1 of 10 is not most");
        b.healthy(&mut s);
        assert_eq!(b.looping(), 0);
    }

    #[test]
    fn a_single_viewer_run_trips() {
        let mut b = Breaker::default();
        let mut s = SlotStreak::default();
        assert!(b.on_exit(&mut s, FAST, 1).is_none());
        assert!(b.on_exit(&mut s, FAST, 1).is_none());
        assert!(b.on_exit(&mut s, FAST, 1).is_some());
    }

    #[test]
    fn hints() {
        assert!(hint(&["[error] Unrecognized option 'seg_max_retry'."]).contains("--check"));
        assert!(hint(&["cannot start ffmpeg: No such file"]).contains("install"));
        assert!(hint(&["[http @ 0x1] [error] HTTP error 404 Not Found"]).contains("URL"));
        assert!(hint(&["boom"]).contains("--print-cmd"));
    }
}

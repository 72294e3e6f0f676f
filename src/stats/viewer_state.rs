//! The states a viewer slot is in, defined once for both engines (docs/metrics.md,
//! "Viewer states"). Every live count (`active`, `stalled`, …), every SLO on them and the
//! per-viewer series follow these definitions:
//!
//! * **starting** — tuned in (a native viewer fetching its playlists, an FFmpeg process
//!   spawned) and waiting for its first media, for at most the startup timeout
//!   (`--startup-timeout`);
//! * **playing** — the playhead advances (native: the player model has buffered media
//!   ahead of it; FFmpeg: output time advances within the stall threshold). Only playing
//!   viewers are **active**: a viewer that has not played is not active;
//! * **stalled** — it cannot play now: its playhead ran out of buffer after playing
//!   (a rebuffer), or it is still without its first media past the startup timeout (it
//!   never started). Either way it is back to playing as soon as media flows;
//! * **failed** — its run ended in failure (a connection error with `-reconnect=false`,
//!   an FFmpeg exit with an error) and the slot waits out its backoff before restarting;
//!   a restart is *starting* again.
//!
//! A slot is in exactly one state, so starting + playing + stalled + failed is the number
//! of slots ramped (up to the moments in between). [`ViewerState::after`] is the one state
//! machine; [`ViewerStatus`] counts slots per state in shared atomics for the live
//! gauges; the per-viewer table runs the same machine on each viewer's events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::event::{Event, LifecycleEvent, PlaybackEvent};

/// Where one viewer slot is (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerState {
    /// Waiting for its first media, within the startup timeout.
    Starting,
    /// The playhead advances (the only *active* state).
    Playing,
    /// Out of buffer after playing, or no first media past the startup timeout.
    Stalled,
    /// Its run failed; waiting out the backoff before a restart.
    Failed,
}

/// What moves a viewer between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// A run of the viewer began (first start, restart, respawn): tune-in.
    Tuned,
    /// First media played (or output time advanced for the first time).
    FirstMedia,
    /// The playhead ran out of buffer.
    StallStarted,
    /// The playhead advances again.
    StallEnded,
    /// Still no first media at the startup timeout.
    StartupTimedOut,
    /// The run ended in failure (a restart follows after a backoff).
    RunFailed,
}

impl ViewerState {
    /// The state after `h` happened in state `self` (`None`: not running yet).
    pub fn after(state: Option<ViewerState>, h: Happening) -> Option<ViewerState> {
        use ViewerState::*;
        Some(match (state, h) {
            (_, Happening::Tuned) => Starting,
            (_, Happening::RunFailed) => Failed,
            (_, Happening::FirstMedia | Happening::StallEnded) => Playing,
            (_, Happening::StallStarted) => Stalled,
            // Only a viewer still waiting for its first media times out.
            (Some(Starting), Happening::StartupTimedOut) => Stalled,
            (s, Happening::StartupTimedOut) => return s,
        })
    }

    /// The happening an event means for its viewer's state, if any.
    pub fn happening(ev: &Event) -> Option<Happening> {
        match ev {
            Event::Lifecycle(LifecycleEvent::Started | LifecycleEvent::Restarted) => {
                Some(Happening::Tuned)
            }
            Event::Lifecycle(LifecycleEvent::Exited { failure: true }) => {
                Some(Happening::RunFailed)
            }
            Event::Playback(PlaybackEvent::Started { .. }) => Some(Happening::FirstMedia),
            Event::Playback(PlaybackEvent::StallStarted) => Some(Happening::StallStarted),
            Event::Playback(PlaybackEvent::StallEnded { .. }) => Some(Happening::StallEnded),
            Event::Playback(PlaybackEvent::StartupTimedOut) => Some(Happening::StartupTimedOut),
            _ => None,
        }
    }

    const ALL: [ViewerState; 4] = [
        ViewerState::Starting,
        ViewerState::Playing,
        ViewerState::Stalled,
        ViewerState::Failed,
    ];

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(c: u8) -> Option<ViewerState> {
        Self::ALL.get(usize::from(c).checked_sub(1)?).copied()
    }

    /// Lower-case name (`starting`, `playing`, `stalled`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            ViewerState::Starting => "starting",
            ViewerState::Playing => "playing",
            ViewerState::Stalled => "stalled",
            ViewerState::Failed => "failed",
        }
    }
}

/// Viewer slots per state right now, shared by every viewer of a run.
#[derive(Debug, Default)]
pub struct StateCounts {
    counts: [AtomicU64; 4],
}

impl StateCounts {
    /// Slots in `s` now.
    pub fn get(&self, s: ViewerState) -> u64 {
        self.counts[s as usize].load(Ordering::Relaxed)
    }

    fn add(&self, s: ViewerState) {
        self.counts[s as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, s: ViewerState) {
        self.counts[s as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// One viewer slot's state, counted in a run's [`StateCounts`] while it lives (and no
/// longer once dropped, panics included).
#[derive(Debug)]
pub struct ViewerStatus {
    counts: Arc<StateCounts>,
    state: AtomicU8,
}

impl ViewerStatus {
    /// A slot not running yet (counted nowhere until its first [`Happening::Tuned`]).
    pub fn new(counts: Arc<StateCounts>) -> Self {
        ViewerStatus {
            counts,
            state: AtomicU8::new(0),
        }
    }

    /// Its state now (`None` before it first tuned in).
    pub fn state(&self) -> Option<ViewerState> {
        ViewerState::from_code(self.state.load(Ordering::Relaxed))
    }

    /// Apply `h`; returns the new state. A slot's happenings come from its own tasks, in
    /// order; the compare-and-swap keeps the counts exact even if two of them race.
    pub fn apply(&self, h: Happening) -> Option<ViewerState> {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let old = ViewerState::from_code(cur);
            let new = ViewerState::after(old, h);
            if new == old {
                return new;
            }
            let code = new.map_or(0, ViewerState::code);
            match self
                .state
                .compare_exchange(cur, code, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    if let Some(o) = old {
                        self.counts.remove(o);
                    }
                    if let Some(n) = new {
                        self.counts.add(n);
                    }
                    return new;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Apply what `ev` means for the state, if anything.
    pub fn observe(&self, ev: &Event) {
        if let Some(h) = ViewerState::happening(ev) {
            self.apply(h);
        }
    }
}

impl Drop for ViewerStatus {
    fn drop(&mut self) {
        if let Some(s) = self.state() {
            self.counts.remove(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ViewerState::*;
    use std::time::Duration;

    #[test]
    fn the_state_machine() {
        let after = ViewerState::after;
        assert_eq!(after(None, Happening::Tuned), Some(Starting));
        assert_eq!(after(Some(Starting), Happening::FirstMedia), Some(Playing));
        assert_eq!(
            after(Some(Starting), Happening::StartupTimedOut),
            Some(Stalled)
        );
        assert_eq!(
            after(Some(Playing), Happening::StartupTimedOut),
            Some(Playing),
            "a late timer does not stall a playing viewer"
        );
        assert_eq!(after(None, Happening::StartupTimedOut), None);
        assert_eq!(after(Some(Stalled), Happening::FirstMedia), Some(Playing));
        assert_eq!(after(Some(Playing), Happening::StallStarted), Some(Stalled));
        assert_eq!(after(Some(Stalled), Happening::StallEnded), Some(Playing));
        assert_eq!(after(Some(Playing), Happening::RunFailed), Some(Failed));
        assert_eq!(after(Some(Failed), Happening::Tuned), Some(Starting));
    }

    #[test]
    fn counts_follow_each_slot_and_drop_with_it() {
        let c = Arc::new(StateCounts::default());
        let a = ViewerStatus::new(c.clone());
        let b = ViewerStatus::new(c.clone());
        let counts = || ViewerState::ALL.map(|s| c.get(s));
        assert_eq!(counts(), [0, 0, 0, 0]);
        a.apply(Happening::Tuned);
        b.apply(Happening::Tuned);
        assert_eq!(counts(), [2, 0, 0, 0]);
        a.apply(Happening::FirstMedia);
        b.apply(Happening::StartupTimedOut);
        assert_eq!(counts(), [0, 1, 1, 0]);
        a.apply(Happening::StallStarted);
        assert_eq!(counts(), [0, 0, 2, 0]);
        b.apply(Happening::RunFailed);
        assert_eq!(counts(), [0, 0, 1, 1]);
        drop(b);
        assert_eq!(counts(), [0, 0, 1, 0]);
        a.observe(&Event::Playback(PlaybackEvent::StallEnded {
            stalled: Duration::from_secs(1),
        }));
        assert_eq!(counts(), [0, 1, 0, 0]);
        drop(a);
        assert_eq!(counts(), [0, 0, 0, 0]);
    }
}

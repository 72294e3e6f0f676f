//! Live state counts (viewers per state, slots ramped), kept in atomics rather than
//! derived from the stats pipeline so they stay exact even if it drops events. The states
//! are defined in [`super::viewer_state`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::viewer_state::{StateCounts, ViewerState, ViewerStatus};

/// Counts of viewers in a state right now.
#[derive(Debug, Default)]
pub struct LiveGauges {
    states: Arc<StateCounts>,
    ramped: AtomicU64,
}

impl LiveGauges {
    /// Viewers active now: playing (see [`super::viewer_state`]).
    pub fn active(&self) -> u64 {
        self.states.get(ViewerState::Playing)
    }

    /// Viewers stalled now: out of buffer after playing, or past the startup timeout
    /// without their first media.
    pub fn stalled(&self) -> u64 {
        self.states.get(ViewerState::Stalled)
    }

    /// Viewers tuned in and waiting for their first media (within the startup timeout).
    pub fn starting(&self) -> u64 {
        self.states.get(ViewerState::Starting)
    }

    /// Viewers whose run failed, waiting out the backoff before a restart.
    pub fn failed(&self) -> u64 {
        self.states.get(ViewerState::Failed)
    }

    /// A status for one new viewer slot, counted here while it lives.
    pub fn new_viewer(&self) -> Arc<ViewerStatus> {
        Arc::new(ViewerStatus::new(self.states.clone()))
    }

    /// Viewer slots the ramp has started so far.
    pub fn ramped(&self) -> u64 {
        self.ramped.load(Ordering::Relaxed)
    }

    /// The ramp started one more viewer slot.
    pub fn add_ramped(&self) {
        self.ramped.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::viewer_state::Happening;

    #[test]
    fn states_are_counted_per_viewer_and_released() {
        let g = LiveGauges::default();
        let a = g.new_viewer();
        let b = g.new_viewer();
        a.apply(Happening::Tuned);
        b.apply(Happening::Tuned);
        assert_eq!((g.starting(), g.active()), (2, 0), "tuned in is not active");
        a.apply(Happening::FirstMedia);
        b.apply(Happening::StartupTimedOut);
        assert_eq!((g.active(), g.stalled()), (1, 1));
        b.apply(Happening::RunFailed);
        assert_eq!((g.stalled(), g.failed()), (0, 1));
        drop(a);
        drop(b);
        assert_eq!(g.active() + g.stalled() + g.starting() + g.failed(), 0);
    }
}

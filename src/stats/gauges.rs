//! Live state counts (active and stalled viewers), kept in atomics rather than derived
//! from events so they stay exact even if the event pipeline drops something.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of viewers in a state right now.
#[derive(Debug, Default)]
pub struct LiveGauges {
    active: AtomicU64,
    stalled: AtomicU64,
    ramped: AtomicU64,
}

impl LiveGauges {
    /// Viewers running now.
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Viewers in a stall now.
    pub fn stalled(&self) -> u64 {
        self.stalled.load(Ordering::Relaxed)
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

/// Marks a viewer active for as long as it lives (decrements on drop, panics included).
#[derive(Debug)]
pub struct ActiveGuard(Arc<LiveGauges>);

impl ActiveGuard {
    /// Count one more active viewer.
    pub fn new(g: Arc<LiveGauges>) -> Self {
        g.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(g)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Marks a viewer stalled while held.
#[derive(Debug)]
pub struct StallGuard(Arc<LiveGauges>);

impl StallGuard {
    /// Count one more stalled viewer.
    pub fn new(g: Arc<LiveGauges>) -> Self {
        g.stalled.fetch_add(1, Ordering::Relaxed);
        StallGuard(g)
    }
}

impl Drop for StallGuard {
    fn drop(&mut self) {
        self.0.stalled.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let g = Arc::new(LiveGauges::default());
        let a = ActiveGuard::new(g.clone());
        let b = ActiveGuard::new(g.clone());
        let s = StallGuard::new(g.clone());
        assert_eq!((g.active(), g.stalled()), (2, 1));
        drop(a);
        drop(s);
        assert_eq!((g.active(), g.stalled()), (1, 0));
        drop(b);
        assert_eq!(g.active(), 0);
    }
}

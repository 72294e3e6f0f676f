//! RFC 8216 §6.3.4 playlist reload cadence, as a pure function of load times.
//!
//! After a load that found the playlist changed (the first load counts as changed), the
//! next reload waits at least one target duration measured from when that load *began*;
//! after a load that found it unchanged, half a target duration. A failed load is retried
//! after half a target duration too.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// What a load found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The playlist differs from the previous load (or is the first).
    Changed,
    /// Byte-identical to the previous load.
    Unchanged,
    /// The load failed.
    Failed,
}

/// Tracks playlist content across reloads and says when to reload next.
#[derive(Debug, Clone, Default)]
pub struct ReloadScheduler {
    last_digest: Option<u64>,
}

impl ReloadScheduler {
    /// A scheduler that has seen no load yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn digest(body: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        h.finish()
    }

    /// Whether `body` is byte-identical to the last observed load (so it need not be
    /// parsed again). Records nothing.
    pub fn is_unchanged(&self, body: &[u8]) -> bool {
        self.last_digest == Some(Self::digest(body))
    }

    /// Record a successful load of `body` and say whether it changed.
    pub fn observe(&mut self, body: &[u8]) -> LoadOutcome {
        let digest = Self::digest(body);
        let changed = self.last_digest != Some(digest);
        self.last_digest = Some(digest);
        if changed {
            LoadOutcome::Changed
        } else {
            LoadOutcome::Unchanged
        }
    }

    /// When to begin the next load, given when the last one began and what it found.
    pub fn next_load(load_began: Instant, outcome: LoadOutcome, target: Duration) -> Instant {
        match outcome {
            LoadOutcome::Changed => load_began + target,
            LoadOutcome::Unchanged | LoadOutcome::Failed => load_began + target / 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD: Duration = Duration::from_secs(2);

    #[test]
    fn first_load_is_changed_and_waits_a_full_target_duration_from_its_start() {
        let mut s = ReloadScheduler::new();
        let began = Instant::now();
        let outcome = s.observe(b"#EXTM3U\n1");
        assert_eq!(outcome, LoadOutcome::Changed);
        assert_eq!(ReloadScheduler::next_load(began, outcome, TD), began + TD);
    }

    #[test]
    fn unchanged_reload_waits_half() {
        let mut s = ReloadScheduler::new();
        let began = Instant::now();
        s.observe(b"a");
        let outcome = s.observe(b"a");
        assert_eq!(outcome, LoadOutcome::Unchanged);
        assert_eq!(
            ReloadScheduler::next_load(began, outcome, TD),
            began + TD / 2
        );
    }

    #[test]
    fn is_unchanged_compares_without_recording() {
        let mut s = ReloadScheduler::new();
        assert!(!s.is_unchanged(b"a"));
        s.observe(b"a");
        assert!(s.is_unchanged(b"a"));
        assert!(!s.is_unchanged(b"b"));
        assert!(s.is_unchanged(b"a"), "checking b recorded nothing");
    }

    #[test]
    fn change_after_unchanged_returns_to_full_cadence() {
        let mut s = ReloadScheduler::new();
        s.observe(b"a");
        s.observe(b"a");
        assert_eq!(s.observe(b"b"), LoadOutcome::Changed);
        assert_eq!(s.observe(b"b"), LoadOutcome::Unchanged);
    }

    #[test]
    fn failure_retries_at_half_cadence() {
        let began = Instant::now();
        assert_eq!(
            ReloadScheduler::next_load(began, LoadOutcome::Failed, TD),
            began + Duration::from_secs(1)
        );
    }

    #[test]
    fn cadence_over_a_simulated_live_stream_matches_the_rfc() {
        // Origin publishes a new segment every TD; a load at t sees the playlist of floor(t/TD).
        // Loads take 10 ms. Start at 0.3 s. Over 60 s there must be ~30 loads, never two closer
        // than TD/2, and a TD/2 gap only after an unchanged load.
        let t0 = Instant::now();
        let mut s = ReloadScheduler::new();
        let mut at = t0 + Duration::from_millis(300);
        let mut loads = Vec::new();
        while at < t0 + Duration::from_secs(60) {
            let generation = (at - t0).as_millis() / TD.as_millis();
            let outcome = s.observe(&generation.to_le_bytes());
            loads.push((at, outcome));
            at = ReloadScheduler::next_load(at, outcome, TD);
        }
        assert!((29..=31).contains(&loads.len()), "{} loads", loads.len());
        for w in loads.windows(2) {
            let gap = w[1].0 - w[0].0;
            match w[0].1 {
                LoadOutcome::Changed => assert_eq!(gap, TD),
                _ => assert_eq!(gap, TD / 2),
            }
        }
    }
}

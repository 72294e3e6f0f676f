//! Per-viewer figures for `-prom-client-metrics`: a fixed table of atomics, one cell per
//! viewer up to [`MAX_VIEWER_SERIES`], allocated once at start (DESIGN.md principle 4:
//! nothing grows with time). A viewer's [`EventSink`](super::hub::EventSink) updates its
//! cell as each event is offered, before the (lossy) channel, so these figures are exact
//! even when the stats pipeline drops events, and they work for any engine that reports
//! through an `EventSink`. The collector copies the table into each tick's Snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::event::{Event, PlaybackEvent};
use super::viewer_state::{StateCounts, ViewerState, ViewerStatus};

/// Most viewers that get their own series (each viewer adds [`SERIES_PER_VIEWER`] series).
pub const MAX_VIEWER_SERIES: u64 = 1000;
/// Series exported per viewer.
pub const SERIES_PER_VIEWER: u64 = 7;

/// One viewer's live figures.
#[derive(Debug)]
pub struct ViewerCell {
    id: u64,
    /// The same state machine as the live gauges, on this viewer's events alone.
    state: ViewerStatus,
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    stalls: AtomicU64,
    /// Last live-latency sample in µs; `u64::MAX` = none yet.
    live_latency_us: AtomicU64,
}

impl ViewerCell {
    fn new(id: u64) -> Self {
        ViewerCell {
            id,
            state: ViewerStatus::new(Arc::new(StateCounts::default())),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            live_latency_us: AtomicU64::new(u64::MAX),
        }
    }

    /// Fold one of this viewer's events in.
    pub fn observe(&self, ev: &Event) {
        let r = Ordering::Relaxed;
        self.state.observe(ev);
        match ev {
            Event::Request(req) => {
                self.requests.fetch_add(1, r);
                self.bytes.fetch_add(req.unstreamed(), r);
                if req.error.is_some() {
                    self.errors.fetch_add(1, r);
                }
            }
            Event::Playback(PlaybackEvent::StallStarted) => {
                self.stalls.fetch_add(1, r);
            }
            Event::Playback(PlaybackEvent::LiveLatency { latency }) => {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX - 1);
                self.live_latency_us.store(us.min(u64::MAX - 1), r);
            }
            Event::Progress { bytes, .. } => {
                self.bytes.fetch_add(*bytes, r);
            }
            Event::Playback(_) | Event::Lifecycle(_) | Event::StreamViewer { .. } => {}
        }
    }

    /// A copy of the figures now.
    pub fn figures(&self) -> ViewerFigures {
        let r = Ordering::Relaxed;
        let lat = self.live_latency_us.load(r);
        let state = self.state.state();
        ViewerFigures {
            id: self.id,
            active: state == Some(ViewerState::Playing),
            stalled: state == Some(ViewerState::Stalled),
            requests: self.requests.load(r),
            errors: self.errors.load(r),
            bytes: self.bytes.load(r),
            stalls: self.stalls.load(r),
            live_latency: (lat != u64::MAX).then(|| Duration::from_micros(lat)),
        }
    }
}

/// One viewer's figures at a tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ViewerFigures {
    /// Viewer id (includes `-client-id-offset`).
    pub id: u64,
    /// Playing now (the only active state, see [`super::viewer_state`]).
    pub active: bool,
    /// Stalled now: out of buffer after playing, or no first media past the startup
    /// timeout.
    pub stalled: bool,
    /// Requests finished.
    pub requests: u64,
    /// Requests failed.
    pub errors: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Stalls begun.
    pub stalls: u64,
    /// Last live-latency sample.
    pub live_latency: Option<Duration>,
}

/// The cells of viewers `first_id + k × stride` for `k` in `0..len` (stride 1 for a
/// whole test, N for a shard of N, whose viewers are every Nth of the test).
#[derive(Debug)]
pub struct ViewerTable {
    first_id: u64,
    stride: u64,
    cells: Vec<Arc<ViewerCell>>,
}

impl ViewerTable {
    /// A table for the first `min(n, MAX_VIEWER_SERIES)` viewers starting at `first_id`.
    pub fn new(first_id: u64, n: u64) -> Self {
        Self::strided(first_id, 1, n)
    }

    /// A table for the first `min(n, MAX_VIEWER_SERIES)` of the viewers `first_id`,
    /// `first_id + stride`, `first_id + 2 × stride`, … (`stride` >= 1).
    pub fn strided(first_id: u64, stride: u64, n: u64) -> Self {
        let n = n.min(MAX_VIEWER_SERIES);
        let stride = stride.max(1);
        ViewerTable {
            first_id,
            stride,
            cells: (0..n)
                .map(|k| Arc::new(ViewerCell::new(first_id + k * stride)))
                .collect(),
        }
    }

    /// Viewers covered.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// No viewer covered.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cell of viewer `id`, if the table covers it.
    pub fn cell(&self, id: u64) -> Option<Arc<ViewerCell>> {
        let from_first = id.checked_sub(self.first_id)?;
        if from_first % self.stride != 0 {
            return None;
        }
        let i = usize::try_from(from_first / self.stride).ok()?;
        self.cells.get(i).cloned()
    }

    /// Every covered viewer's figures, in id order.
    pub fn figures(&self) -> Vec<ViewerFigures> {
        self.cells.iter().map(|c| c.figures()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::event::{ErrorClass, LifecycleEvent, RequestDone, RequestKind};

    fn req(bytes: u64, error: Option<ErrorClass>) -> Event {
        Event::Request(RequestDone {
            kind: RequestKind::Segment,
            status: Some(if error.is_some() { 503 } else { 200 }),
            ttfb: None,
            total: Duration::ZERO,
            bytes,
            streamed: 0,
            error,
            redirects: 0,
            retry: false,
            aborted: false,
            protocol: None,
            connections: [0; 2],
            hold: None,
            lateness: None,
            stream: None,
        })
    }

    #[test]
    fn cells_follow_the_events_and_the_table_is_capped() {
        let t = ViewerTable::new(100, 5000);
        assert_eq!(t.len() as u64, MAX_VIEWER_SERIES);
        assert!(t.cell(99).is_none());
        assert!(t.cell(100 + MAX_VIEWER_SERIES).is_none());
        let c = t.cell(101).unwrap_or_else(|| unreachable!());
        assert_eq!(c.figures().live_latency, None);
        c.observe(&Event::Lifecycle(LifecycleEvent::Started));
        assert!(!c.figures().active, "tuned in, not playing yet: not active");
        c.observe(&req(1000, None));
        c.observe(&req(20, Some(ErrorClass::Http5xx)));
        c.observe(&Event::Playback(PlaybackEvent::Started {
            startup: Duration::from_millis(300),
        }));
        assert!(c.figures().active);
        c.observe(&Event::Playback(PlaybackEvent::StallStarted));
        c.observe(&Event::Playback(PlaybackEvent::LiveLatency {
            latency: Duration::from_millis(6500),
        }));
        let f = t.figures()[1];
        assert_eq!(f.id, 101);
        assert!(!f.active && f.stalled, "a stalled viewer is not active");
        assert_eq!((f.requests, f.errors, f.bytes, f.stalls), (2, 1, 1020, 1));
        assert_eq!(f.live_latency, Some(Duration::from_millis(6500)));
        c.observe(&Event::Playback(PlaybackEvent::StallEnded {
            stalled: Duration::from_secs(1),
        }));
        assert!(c.figures().active && !c.figures().stalled);
        c.observe(&Event::Lifecycle(LifecycleEvent::Exited { failure: true }));
        assert!(!c.figures().active && !c.figures().stalled);
        c.observe(&Event::Lifecycle(LifecycleEvent::Restarted));
        assert!(!c.figures().active);
        c.observe(&Event::Playback(PlaybackEvent::StartupTimedOut));
        assert!(c.figures().stalled, "no first media in time: stalled");
        assert_eq!(
            t.figures()[0],
            ViewerFigures {
                id: 100,
                ..ViewerFigures::default()
            }
        );
    }
}

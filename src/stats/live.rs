//! Body bytes of a running request, counted as they arrive.
//!
//! A request is normally reported once, when it ends ([`Event::Request`]). A long body (a
//! slow origin, an endless or huge segment) would then show no bytes until it ends — or
//! none at all if the run stops first. [`LiveBytes`] turns the bytes of a running request
//! into [`Event::Progress`] events at most every [`PROGRESS_EVERY`]; the final
//! [`RequestDone`](super::event::RequestDone) says how many were already reported
//! (`streamed`), so every byte is counted exactly once. Requests shorter than the period
//! send no progress at all. Pure logic: the caller passes the time.

use std::time::Duration;

use tokio::time::Instant;

use super::event::{Event, RequestKind};

/// A running request reports its new bytes at most this often.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The bytes of one running request and how many of them were reported.
#[derive(Debug, Clone)]
pub struct LiveBytes {
    kind: RequestKind,
    total: u64,
    streamed: u64,
    last: Instant,
}

impl LiveBytes {
    /// A request of `kind` that started at `started`.
    pub fn new(kind: RequestKind, started: Instant) -> Self {
        LiveBytes {
            kind,
            total: 0,
            streamed: 0,
            last: started,
        }
    }

    /// `n` more bytes arrived at `now`: a progress event when one is due.
    pub fn add(&mut self, n: u64, now: Instant) -> Option<Event> {
        self.total += n;
        if self.total == self.streamed || now.saturating_duration_since(self.last) < PROGRESS_EVERY
        {
            return None;
        }
        self.last = now;
        let bytes = self.total - self.streamed;
        self.streamed = self.total;
        Some(Event::Progress {
            kind: self.kind,
            bytes,
        })
    }

    /// Bytes so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes already reported by progress events.
    pub fn streamed(&self) -> u64 {
        self.streamed
    }

    /// The kind the progress events were reported under.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_at_most_every_period_and_only_new_bytes() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut l = LiveBytes::new(RequestKind::Segment, t0);
        assert_eq!(l.add(100, ms(10)), None, "a short request sends nothing");
        assert_eq!(l.add(100, ms(200)), None);
        assert_eq!(
            l.add(50, ms(260)),
            Some(Event::Progress {
                kind: RequestKind::Segment,
                bytes: 250
            })
        );
        assert_eq!(
            l.add(10, ms(400)),
            None,
            "within the period of the last report"
        );
        assert_eq!(
            l.add(5, ms(600)),
            Some(Event::Progress {
                kind: RequestKind::Segment,
                bytes: 15
            })
        );
        assert_eq!(l.add(0, ms(2000)), None, "nothing new, nothing sent");
        assert_eq!((l.total(), l.streamed()), (265, 265));
    }
}

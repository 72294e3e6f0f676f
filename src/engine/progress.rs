//! A download's progress, readable while the fetch runs: [`Tee`] passes what a fetch
//! observes on to its [`RequestMeter`](crate::engine::request_meter::RequestMeter) (which
//! keeps accounting for the request) and records it in a [`Progress`] the loop that
//! raced the fetch can read (the ABR abandon rule, every 100 ms).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::abr::abandon::Loading;
use crate::engine::http::FetchObserver;

/// What a download received so far (atomics: the fetch writes, the racing loop reads).
#[derive(Debug)]
pub struct Progress {
    bytes: AtomicU64,
    /// Time to the response head in µs + 1; 0 before the head.
    head_us: AtomicU64,
    /// `Content-Length` + 1; 0 if not (yet) known.
    length: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            bytes: AtomicU64::new(0),
            head_us: AtomicU64::new(0),
            length: AtomicU64::new(0),
        }
    }
}

impl Progress {
    /// The download as the abandon rule sees it, `elapsed` after its request.
    pub fn loading(&self, elapsed: Duration) -> Loading {
        let head = self.head_us.load(Ordering::Relaxed);
        let length = self.length.load(Ordering::Relaxed);
        Loading {
            elapsed,
            ttfb: head.checked_sub(1).map(Duration::from_micros),
            loaded: self.bytes.load(Ordering::Relaxed),
            content_length: length.checked_sub(1),
        }
    }
}

/// Passes a fetch's observations on to `inner` and records them in `progress`.
pub struct Tee<'a> {
    /// The observer that accounts for the request.
    pub inner: &'a mut dyn FetchObserver,
    /// Where the progress goes.
    pub progress: &'a Progress,
}

impl FetchObserver for Tee<'_> {
    fn on_head(&mut self, status: u16, ttfb: Duration) {
        let us = u64::try_from(ttfb.as_micros()).unwrap_or(u64::MAX - 1);
        self.progress.head_us.store(us + 1, Ordering::Relaxed);
        self.inner.on_head(status, ttfb);
    }

    fn on_length(&mut self, len: u64) {
        self.progress
            .length
            .store(len.saturating_add(1), Ordering::Relaxed);
        self.inner.on_length(len);
    }

    fn on_bytes(&mut self, n: u64) {
        self.progress.bytes.fetch_add(n, Ordering::Relaxed);
        self.inner.on_bytes(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen {
        head: Option<(u16, Duration)>,
        len: Option<u64>,
        bytes: u64,
    }

    impl FetchObserver for Seen {
        fn on_head(&mut self, status: u16, ttfb: Duration) {
            self.head = Some((status, ttfb));
        }
        fn on_length(&mut self, len: u64) {
            self.len = Some(len);
        }
        fn on_bytes(&mut self, n: u64) {
            self.bytes += n;
        }
    }

    #[test]
    fn the_tee_records_and_passes_everything_on() {
        let p = Progress::default();
        let mut seen = Seen::default();
        let at = Duration::from_secs(2);
        assert_eq!(
            p.loading(at),
            Loading {
                elapsed: at,
                ttfb: None,
                loaded: 0,
                content_length: None
            }
        );
        {
            let mut t = Tee {
                inner: &mut seen,
                progress: &p,
            };
            t.on_head(200, Duration::from_millis(30));
            t.on_length(0);
            t.on_bytes(700);
            t.on_bytes(300);
        }
        assert_eq!(
            p.loading(at),
            Loading {
                elapsed: at,
                ttfb: Some(Duration::from_millis(30)),
                loaded: 1_000,
                content_length: Some(0)
            }
        );
        assert_eq!(seen.head, Some((200, Duration::from_millis(30))));
        assert_eq!((seen.len, seen.bytes), (Some(0), 1_000));
    }
}

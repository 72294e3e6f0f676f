//! One native request's accounting from its start to its end — also when it never ends.
//!
//! A [`RequestMeter`] is created before a fetch and observes it ([`FetchObserver`]): body
//! bytes are counted live ([`LiveBytes`]). [`finish`](RequestMeter::finish) reports the
//! request when the fetch returns. If the meter is dropped first — the viewer's task was
//! cut off because the run stopped (after the stop's grace) or the viewer was replaced —
//! it reports the request as *aborted*, with its head and the bytes that had arrived, so
//! request counts and bytes still equal what the origin served.

use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::engine::http::{Fetch, FetchObserver};
use crate::stats::event::{ErrorClass, RequestDone, RequestKind};
use crate::stats::hub::EventSink;
use crate::stats::live::LiveBytes;

/// Accounts for one request (see the module docs).
#[derive(Debug)]
pub struct RequestMeter<'a> {
    sink: &'a EventSink,
    /// The URL requested (the request log's path when it is cut off).
    url: &'a Url,
    started: Instant,
    live: LiveBytes,
    status: Option<u16>,
    ttfb: Option<Duration>,
    /// When the response head arrived.
    head_at: Option<Instant>,
    /// When the first body byte arrived.
    first_byte_at: Option<Instant>,
    retry: bool,
    done: bool,
}

impl<'a> RequestMeter<'a> {
    /// A request of `kind` for `url` starting now, reported to `sink`; `retry` marks a
    /// retry.
    pub fn start(sink: &'a EventSink, url: &'a Url, kind: RequestKind, retry: bool) -> Self {
        let started = Instant::now();
        RequestMeter {
            sink,
            url,
            started,
            live: LiveBytes::new(kind, started),
            status: None,
            ttfb: None,
            head_at: None,
            first_byte_at: None,
            retry,
            done: false,
        }
    }

    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When the response head arrived, if it did.
    pub fn head_at(&self) -> Option<Instant> {
        self.head_at
    }

    /// When the first body byte arrived, if one did.
    pub fn first_byte_at(&self) -> Option<Instant> {
        self.first_byte_at
    }

    /// Like [`finish`](Self::finish), for a request the origin may hold (LL-HLS): `split`
    /// is its wait split into hold and lateness, when its content arrived.
    pub fn finish_held(
        mut self,
        f: &Fetch,
        kind: RequestKind,
        error: Option<ErrorClass>,
        split: Option<crate::engine::ll::WaitSplit>,
    ) {
        self.done = true;
        let mut done = f.request_done(kind, error, self.retry);
        done.streamed = self.live.streamed();
        if let Some(split) = split {
            done.hold = Some(split.hold);
            done.lateness = Some(split.lateness);
        }
        self.sink.send_request(done, &f.final_url);
    }

    /// The fetch returned: report it as `kind` (which may differ from the kind it started
    /// as, e.g. an entry URL that turned out to be a media playlist) with `error`.
    pub fn finish(self, f: &Fetch, kind: RequestKind, error: Option<ErrorClass>) {
        // Bytes reported live were counted under the starting kind; the final event
        // carries the rest (`bytes - streamed`) under `kind`, so totals stay exact even
        // when the two differ (only for a slow entry playlist).
        self.finish_held(f, kind, error, None);
    }
}

impl FetchObserver for RequestMeter<'_> {
    fn on_head(&mut self, status: u16, ttfb: Duration) {
        self.status = Some(status);
        self.ttfb = Some(ttfb);
        self.head_at = Some(Instant::now());
    }

    fn on_bytes(&mut self, n: u64) {
        if n > 0 && self.first_byte_at.is_none() {
            self.first_byte_at = Some(Instant::now());
        }
        if let Some(ev) = self.live.add(n, Instant::now()) {
            self.sink.send(ev);
        }
    }
}

impl Drop for RequestMeter<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut done = RequestDone::new(self.live.kind());
        done.status = self.status;
        done.ttfb = self.ttfb;
        done.total = self.started.elapsed();
        done.bytes = self.live.total();
        done.streamed = self.live.streamed();
        done.retry = self.retry;
        done.aborted = true;
        self.sink.send_request(done, self.url);
    }
}

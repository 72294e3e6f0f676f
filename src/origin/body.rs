//! Response bodies that count what they send, can be paced, can abort the connection,
//! and hand their access-log record over when they end — plus the connection wrapper
//! that turns an abort into a TCP reset.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::access_log::{AccessLogSender, LogRecord};

/// The access-log record of one request, sent exactly once: when the body ends, fails or
/// is dropped — or, if the request never got that far, on drop with status 499.
#[derive(Debug)]
pub struct PendingLog {
    record: Option<LogRecord>,
    sink: Option<AccessLogSender>,
    arrived: Instant,
}

impl PendingLog {
    /// Starts the record of a request that arrived at `arrived`.
    pub fn new(sink: Option<AccessLogSender>, arrived: Instant, record: LogRecord) -> Self {
        Self {
            record: sink.is_some().then_some(record),
            sink,
            arrived,
        }
    }

    /// Sets the status that is being sent.
    pub fn set_status(&mut self, status: u16) {
        if let Some(r) = &mut self.record {
            r.status = status;
        }
    }

    /// Notes an injected fault; several are joined with `+` (e.g. `delay+reset`).
    pub fn add_fault(&mut self, fault: &'static str) {
        if let Some(r) = &mut self.record {
            match &mut r.fault {
                Some(f) => {
                    f.push('+');
                    f.push_str(fault);
                }
                None => r.fault = Some(fault.to_owned()),
            }
        }
    }

    /// Records the deliberate hold (arrival until the content existed).
    pub fn set_hold(&mut self, hold: Duration) {
        if let Some(r) = &mut self.record {
            r.hold_ms = Some((hold.as_secs_f64() * 1e6).round() / 1e3);
        }
    }

    /// Marks the request as one that may be held (`hold_ms` 0 until set).
    pub fn set_holdable(&mut self) {
        if let Some(r) = &mut self.record {
            r.hold_ms.get_or_insert(0.0);
        }
    }

    /// Sends the record with the final byte count.
    fn finish(&mut self, bytes: u64, complete: bool) {
        if let (Some(mut r), Some(sink)) = (self.record.take(), &self.sink) {
            r.bytes = bytes;
            r.complete = complete;
            // Microsecond resolution keeps the JSON short.
            r.duration_ms = (self.arrived.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            sink.send(r);
        }
    }
}

impl Drop for PendingLog {
    fn drop(&mut self) {
        self.finish(0, false);
    }
}

/// Paces a body at a byte rate on an absolute schedule (no drift).
#[derive(Debug)]
struct Pacer {
    rate: u64,
    chunk: usize,
    start: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

/// A future that resolves once a held body's content exists (`true`) or the hold timed
/// out (`false`).
pub struct Gate(
    Pin<Box<dyn std::future::Future<Output = bool> + Send>>,
    Instant,
);

impl Gate {
    /// Wraps the wait; the hold is counted from now (after any injected delay).
    pub fn new(f: impl std::future::Future<Output = bool> + Send + 'static) -> Self {
        Self(Box::pin(f), Instant::now())
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

/// How the connection carrying a body is told to abort.
pub type AbortFlag = Arc<AtomicBool>;

/// A response body over shared bytes with optional pacing and mid-body reset.
#[derive(Debug)]
pub struct OriginBody {
    data: Bytes,
    sent: usize,
    /// Bytes to send before ending (== data.len() unless a reset is planned).
    limit: usize,
    pacer: Option<Pacer>,
    reset: Option<ResetState>,
    gate: Option<Gate>,
    log: PendingLog,
    done: bool,
}

#[derive(Debug)]
struct ResetState {
    abort: AbortFlag,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// Grace period between the last bytes before a reset and the reset itself, so the
/// connection flushes what was counted as sent.
const RESET_GRACE: Duration = Duration::from_millis(20);

impl OriginBody {
    /// A body sending all of `data` at full speed.
    pub fn new(data: Bytes, log: PendingLog) -> Self {
        let limit = data.len();
        Self {
            data,
            sent: 0,
            limit,
            pacer: None,
            reset: None,
            gate: None,
            log,
            done: false,
        }
    }

    /// An empty body (HEAD requests, 304s) that still logs.
    pub fn empty(log: PendingLog) -> Self {
        Self::new(Bytes::new(), log)
    }

    /// Paces the body at `bytes_per_sec` (> 0).
    pub fn with_rate(mut self, bytes_per_sec: u64) -> Self {
        let rate = bytes_per_sec.max(1);
        self.pacer = Some(Pacer {
            rate,
            chunk: usize::try_from(rate / 20)
                .unwrap_or(usize::MAX)
                .clamp(1, 64 * 1024),
            start: None,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        });
        self
    }

    /// Holds every byte until `gate` resolves (the content exists), then sends the body
    /// at full speed; the hold is logged as `hold_ms`. A gate that times out ends the
    /// body with an error (the connection is closed; logged as fault `hold_timeout`).
    /// The length is not announced, so HTTP/1.1 sends the body chunked.
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.log.set_holdable();
        self.gate = Some(gate);
        self
    }

    /// Sends only `fraction` of the body, then aborts the connection via `abort`.
    pub fn with_reset(mut self, fraction: f64, abort: AbortFlag) -> Self {
        let cut = (self.data.len() as f64 * fraction.clamp(0.0, 1.0)).floor() as usize;
        self.limit = cut.min(self.data.len().saturating_sub(1));
        self.reset = Some(ResetState { abort, sleep: None });
        self
    }

    fn finish(&mut self, complete: bool) {
        self.done = true;
        self.log.finish(self.sent as u64, complete);
    }
}

impl Drop for OriginBody {
    fn drop(&mut self) {
        if !self.done {
            let complete = self.sent == self.data.len() && self.reset.is_none();
            self.finish(complete);
        }
    }
}

impl Body for OriginBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(g) = &mut this.gate {
            match g.0.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(ready) => {
                    let held = g.1.elapsed();
                    this.gate = None;
                    this.log.set_hold(held);
                    if !ready {
                        this.log.add_fault("hold_timeout");
                        this.finish(false);
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the held part did not appear in time",
                        ))));
                    }
                }
            }
        }
        if this.sent < this.limit {
            let mut end = this.limit;
            if let Some(p) = &mut this.pacer {
                let start = *p.start.get_or_insert_with(Instant::now);
                let due = start + Duration::from_secs_f64(this.sent as f64 / p.rate as f64);
                if Instant::now() < due {
                    p.sleep.as_mut().reset(due.into());
                    if p.sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                end = end.min(this.sent + p.chunk);
            }
            let frame = this.data.slice(this.sent..end);
            this.sent = end;
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        if let Some(r) = &mut this.reset {
            let sleep = r
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(RESET_GRACE)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            r.abort.store(true, Ordering::Release);
            this.finish(false);
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "injected connection reset",
            ))));
        }
        this.finish(true);
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.sent >= self.data.len() && self.reset.is_none() && self.data.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        if self.gate.is_some() {
            return SizeHint::default();
        }
        SizeHint::with_exact((self.data.len() - self.sent.min(self.data.len())) as u64)
    }
}

/// A TCP stream that is closed with a reset (SO_LINGER 0, no FIN) once its abort flag
/// is set by a body.
#[derive(Debug)]
pub struct AbortableStream {
    inner: TcpStream,
    abort: AbortFlag,
}

impl AbortableStream {
    /// Wraps `inner`; setting `abort` makes later writes fail and the close a reset.
    pub fn new(inner: TcpStream, abort: AbortFlag) -> Self {
        Self { inner, abort }
    }

    fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }
}

impl Drop for AbortableStream {
    fn drop(&mut self) {
        if self.aborted() {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for AbortableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AbortableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.aborted() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.aborted() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.aborted() {
            // No FIN: the reset happens when the stream is dropped.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn log() -> (PendingLog, impl Fn() -> Vec<LogRecord>) {
        let (sink, collect) = AccessLogSender::capture();
        (
            PendingLog::new(Some(sink), Instant::now(), blank()),
            collect,
        )
    }

    fn blank() -> LogRecord {
        LogRecord {
            ts: 0.0,
            method: "GET".into(),
            path: "/".into(),
            status: 200,
            bytes: 0,
            duration_ms: 0.0,
            ua: String::new(),
            proto: "HTTP/1.1",
            kind: "other",
            complete: false,
            fault: None,
            hold_ms: None,
            channel: Some(0),
        }
    }

    #[tokio::test]
    async fn full_body_in_one_frame() {
        let (l, logged) = log();
        let body = OriginBody::new(Bytes::from_static(&[1u8; 1000]), l);
        assert_eq!(body.size_hint().exact(), Some(1000));
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 1000);
        let recs = logged();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].bytes, recs[0].complete), (1000, true));
    }

    #[test]
    fn dropped_before_response_logs_499_once() {
        let (mut l, rx) = log();
        l.set_status(499);
        drop(l);
        let recs = rx();
        assert_eq!(recs.len(), 1);
        assert_eq!(
            (recs[0].status, recs[0].bytes, recs[0].complete),
            (499, 0, false)
        );
    }

    #[tokio::test]
    async fn paced_body_takes_len_over_rate() {
        let (l, _logged) = log();
        let t = Instant::now();
        let body = OriginBody::new(Bytes::from(vec![0u8; 4_000]), l).with_rate(20_000);
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 4_000);
        let took = t.elapsed();
        // 4 000 B in 1 000 B chunks at 20 000 B/s: the last chunk starts at 150 ms.
        assert!(
            took >= Duration::from_millis(149) && took <= Duration::from_millis(400),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn reset_body_sends_part_then_fails_and_flags_abort() {
        let (l, logged) = log();
        let flag: AbortFlag = Arc::default();
        let mut body =
            OriginBody::new(Bytes::from(vec![0u8; 1000]), l).with_reset(0.5, flag.clone());
        let mut n = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(f)) => n += f.into_data().map(|d| d.len()).unwrap_or(0),
                Some(Err(e)) => break e,
                None => panic!("body ended without reset"),
            }
        };
        assert_eq!(n, 500);
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert!(flag.load(Ordering::Acquire));
        drop(body);
        let recs = logged();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].bytes, recs[0].complete), (500, false));
    }
}

//! `--request-log FILE`: one JSON line per finished request, for offline analysis
//! (docs/cli.md, "Request log").
//!
//! Off the hot path: a request's line is formatted where the request ends and offered to
//! a bounded queue ([`RequestLog::offer`]); a dedicated thread ([`writer`]) writes the
//! queue out through a buffer. A full queue drops the line and counts the drop, so a slow
//! disk never slows the viewers, and the loss is visible (`lines_dropped`). Without the
//! flag no log exists and nothing is formatted or allocated per request.
//!
//! [`RequestLog::close`] ends it: the queue closes (later lines are dropped and counted),
//! the writer writes what is queued and flushes, and the counts are final.

pub mod line;
pub mod writer;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use self::line::{Header, Line};
use crate::stats::event::RequestDone;

/// The flag, in messages.
pub const FLAG: &str = "--request-log";

/// What became of the request lines so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLogCounts {
    /// Lines written out (flushed to the file).
    pub written: u64,
    /// Lines dropped because the queue was full (the writer fell behind) or already
    /// closed (the run had ended).
    pub dropped: u64,
    /// Lines lost to a write error, or still unwritten when the run ended (a writer
    /// blocked, e.g. on a FIFO nobody reads).
    pub failed: u64,
}

impl RequestLogCounts {
    /// Lines not written, for whatever reason.
    pub fn lost(&self) -> u64 {
        self.dropped + self.failed
    }

    /// These counts plus `o`'s (the shards of a test).
    pub fn plus(self, o: RequestLogCounts) -> RequestLogCounts {
        RequestLogCounts {
            written: self.written + o.written,
            dropped: self.dropped + o.dropped,
            failed: self.failed + o.failed,
        }
    }
}

/// The log's counters, shared by the offering side and the writer.
#[derive(Debug, Default)]
pub struct Counters {
    accepted: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    error: Mutex<Option<String>>,
}

impl Counters {
    /// Lines written out so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Lines failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The write error, if one happened.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    fn add_failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }

    fn set_error(&self, e: String) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }

    fn counts(&self) -> RequestLogCounts {
        RequestLogCounts {
            written: self.written(),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed(),
        }
    }
}

/// A running request log (see the module docs). Shared by every event sink of the run.
#[derive(Debug)]
pub struct RequestLog {
    /// `None` once closed.
    queue: RwLock<Option<SyncSender<String>>>,
    counters: Arc<Counters>,
    /// Told when the writer thread has finished.
    finished: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl RequestLog {
    /// Open `path` (the output-path rules of [`crate::file::open_stream`]) and start the
    /// writer with a queue of `buffer` lines; `header` is the first line. Errors name the
    /// flag.
    pub fn open(path: &Path, buffer: usize, header: &Header) -> anyhow::Result<Arc<Self>> {
        let file = crate::file::open_stream(FLAG, path)?;
        Self::start(file, buffer, header, path.display().to_string())
    }

    /// Start the writer on `out` (any destination; `shown` names it in messages).
    pub fn start<W: Write + Send + 'static>(
        out: W,
        buffer: usize,
        header: &Header,
        shown: String,
    ) -> anyhow::Result<Arc<Self>> {
        let (tx, rx) = sync_channel::<String>(buffer.max(1));
        let counters = Arc::new(Counters::default());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let header = header.to_line();
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                writer::run(rx, &header, out, &thread_counters, &shown);
                let _ = done_tx.send(());
            })
            .map_err(|e| anyhow::anyhow!("{FLAG}: starting its writer thread: {e}"))?;
        Ok(Arc::new(RequestLog {
            queue: RwLock::new(Some(tx)),
            counters,
            finished: Mutex::new(Some(done_rx)),
        }))
    }

    /// Log `done`, a request of `viewer` (its global id; `None` for the swarm's own
    /// probes) for `url`. Only the URL's path is written. Never blocks: a full or closed
    /// queue drops the line and counts it.
    pub fn offer(&self, done: &RequestDone, viewer: Option<u64>, url: &Url) {
        let text = Line::of(done, viewer, url.path(), SystemTime::now()).to_line();
        let sent = match self.queue.read() {
            Ok(q) => match q.as_ref() {
                Some(tx) => match tx.try_send(text) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                },
                None => false,
            },
            Err(_) => false,
        };
        let c = &self.counters;
        if sent {
            c.accepted.fetch_add(1, Ordering::Relaxed);
        } else {
            c.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far (written lags the queue by up to [`writer::FLUSH_EVERY`]).
    pub fn counts(&self) -> RequestLogCounts {
        self.counters.counts()
    }

    /// The write error that stopped the log, if one did.
    pub fn error(&self) -> Option<String> {
        self.counters.error()
    }

    /// Close the queue and wait up to `grace` for the writer to write and flush what is
    /// queued. Lines still unwritten after that (a writer blocked on its destination)
    /// count as failed. Returns the final counts; closing again returns them again.
    pub async fn close(&self, grace: Duration) -> RequestLogCounts {
        if let Ok(mut q) = self.queue.write() {
            q.take();
        }
        let finished = self.finished.lock().ok().and_then(|mut f| f.take());
        if let Some(finished) = finished
            && tokio::time::timeout(grace, finished).await.is_err()
        {
            let c = &self.counters;
            let accepted = c.accepted.load(Ordering::Relaxed);
            let unwritten = accepted.saturating_sub(c.written() + c.failed());
            c.add_failed(unwritten);
            c.set_error(format!(
                "the writer was still blocked {grace:?} after the run ended; {unwritten} lines unwritten"
            ));
            tracing::error!(
                "{FLAG}: the writer was still blocked {grace:?} after the run ended; {unwritten} lines count as failed"
            );
        }
        self.counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::event::RequestKind;

    fn header() -> Header {
        Header {
            request_log: line::FORMAT_VERSION,
            run_id: "t".into(),
            shard_index: 0,
            shard_count: 1,
            engine: "native",
        }
    }

    /// A destination that blocks every write until the test lets it go.
    struct Blocked(std::sync::mpsc::Receiver<()>);

    impl Write for Blocked {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_reach_the_file_and_are_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.ndjson");
        let log = RequestLog::open(&path, 100, &header()).expect("opens");
        let url = Url::parse("http://u:p@h/a/b.ts?token=secret#f").expect("url");
        for _ in 0..50 {
            log.offer(&RequestDone::new(RequestKind::Segment), Some(3), &url);
        }
        let c = log.close(Duration::from_secs(5)).await;
        assert_eq!(
            c,
            RequestLogCounts {
                written: 50,
                dropped: 0,
                failed: 0
            }
        );
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 51);
        assert!(!text.contains("secret") && !text.contains("u:p"), "{text}");
        assert!(text.contains("\"path\":\"/a/b.ts\""));
        // After the close, a line is dropped and counted.
        log.offer(&RequestDone::new(RequestKind::Segment), Some(3), &url);
        assert_eq!(log.counts().dropped, 1);
    }

    #[tokio::test]
    async fn a_blocked_writer_drops_lines_counted_and_the_close_does_not_hang() {
        let (_unblock, blocked) = std::sync::mpsc::channel();
        let log =
            RequestLog::start(Blocked(blocked), 4, &header(), "blocked".into()).expect("starts");
        let url = Url::parse("http://h/s.ts").expect("url");
        for _ in 0..5000 {
            log.offer(&RequestDone::new(RequestKind::Segment), None, &url);
        }
        let c = log.close(Duration::from_millis(200)).await;
        assert_eq!(c.written, 0);
        assert_eq!(c.written + c.dropped + c.failed, 5000, "{c:?}");
        // The queue holds 4; the writer holds what fits its buffer before it blocks.
        assert!(c.dropped > 4000, "{c:?}");
        assert!(log.error().expect("said").contains("blocked"));
    }
}

//! The request log's writer: one dedicated thread takes lines off the bounded queue and
//! writes them through a buffer, flushing at least every [`FLUSH_EVERY`] and when the
//! queue closes. It drains the queue in batches: when the queue is empty it sleeps for
//! [`POLL`] instead of waiting on the queue, so a request's line never has to wake it (a
//! wake-up per request cost more than formatting and writing the line). A line counts as written once a flush that included it succeeded. After a
//! write error it says why once, stops writing and counts every further line as failed
//! (the run goes on).

use std::io::{BufWriter, Write};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use super::Counters;

/// The writer flushes at least this often while lines arrive, and whenever the queue is
/// idle this long, so a reader (and `lines_written`) lags by about this much at most.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// How long the writer sleeps when it found the queue empty. The default queue
/// (65,536 lines) fills in this time only above 3 million requests per second.
pub const POLL: Duration = Duration::from_millis(20);

/// Size of the write buffer.
const BUFFER_BYTES: usize = 64 * 1024;

/// Write `header`, then every line from `lines` into `out` until the queue is closed and
/// drained; `shown` names the destination in the error message.
pub fn run<W: Write>(
    lines: Receiver<String>,
    header: &str,
    out: W,
    counts: &Counters,
    shown: &str,
) {
    let mut w = Writer {
        out: Some(BufWriter::with_capacity(BUFFER_BYTES, out)),
        pending: 0,
        counts,
        shown,
    };
    w.put(header, false);
    let mut last_flush = Instant::now();
    loop {
        match lines.try_recv() {
            Ok(line) => w.put(&line, true),
            Err(TryRecvError::Empty) => std::thread::sleep(POLL),
            Err(TryRecvError::Disconnected) => break,
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            w.flush();
            last_flush = Instant::now();
        }
    }
    w.flush();
}

struct Writer<'a, W: Write> {
    /// `None` after a write error: nothing more is written.
    out: Option<BufWriter<W>>,
    /// Request lines in the buffer since the last successful flush.
    pending: u64,
    counts: &'a Counters,
    shown: &'a str,
}

impl<W: Write> Writer<'_, W> {
    fn put(&mut self, line: &str, counted: bool) {
        let Some(out) = self.out.as_mut() else {
            if counted {
                self.counts.add_failed(1);
            }
            return;
        };
        match out.write_all(line.as_bytes()) {
            Ok(()) => self.pending += u64::from(counted),
            Err(e) => self.fail(&e, u64::from(counted)),
        }
    }

    fn flush(&mut self) {
        let Some(out) = self.out.as_mut() else { return };
        match out.flush() {
            Ok(()) => {
                self.counts.add_written(self.pending);
                self.pending = 0;
            }
            Err(e) => self.fail(&e, 0),
        }
    }

    /// A write failed: the lines not known to be written failed, and so will the rest.
    fn fail(&mut self, e: &std::io::Error, also: u64) {
        self.counts.add_failed(self.pending + also);
        self.pending = 0;
        self.counts
            .set_error(format!("writing {}: {e}", self.shown));
        tracing::error!(
            "--request-log: writing {} failed: {e}; no more request lines are written (the run goes on)",
            self.shown
        );
        // Drop the buffer without flushing it again.
        if let Some(out) = self.out.take() {
            let _ = out.into_parts();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    /// Accepts `room` bytes, then fails every write.
    struct Full {
        got: Vec<u8>,
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.got.len() + b.len() > self.room {
                return Err(std::io::Error::other("no space left"));
            }
            self.got.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_and_counted_after_the_header() {
        let (tx, rx) = sync_channel(16);
        for i in 0..10 {
            tx.send(format!("{{\"n\":{i}}}\n")).expect("send");
        }
        drop(tx);
        let counts = Counters::default();
        let mut out = Vec::new();
        run(rx, "{\"h\":1}\n", &mut out, &counts, "mem");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 11);
        assert!(text.starts_with("{\"h\":1}\n{\"n\":0}\n"));
        assert_eq!((counts.written(), counts.failed()), (10, 0));
    }

    #[test]
    fn a_write_error_is_said_and_counts_the_lost_lines_as_failed() {
        let (tx, rx) = sync_channel(1000);
        for _ in 0..100 {
            tx.send("x".repeat(999) + "\n").expect("send");
        }
        drop(tx);
        let counts = Counters::default();
        run(
            rx,
            "h\n",
            Full {
                got: Vec::new(),
                room: 10_000,
            },
            &counts,
            "the disk",
        );
        assert_eq!(counts.written() + counts.failed(), 100);
        assert_eq!(
            counts.written(),
            0,
            "the first flush failed: nothing is known written"
        );
        assert!(counts.error().expect("error kept").contains("the disk"));
    }
}

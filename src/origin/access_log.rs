//! JSON Lines access log written by a dedicated thread.
//!
//! One line per request, emitted when its response body finished, failed or was dropped:
//!
//! ```json
//! {"ts":1700000000.123456,"method":"GET","path":"/v0/seg12.ts","status":200,"bytes":50008,
//!  "duration_ms":1.234,"ua":"Lavf/59.27.100","kind":"segment","complete":true,"fault":null}
//! ```
//!
//! * `ts`: request arrival, Unix seconds as a float (microsecond resolution);
//! * `path`: request target path and query as received;
//! * `status`: status sent, or 499 if the client left before the headers were sent;
//! * `bytes`: body bytes handed to the connection (for a reset: only the part sent);
//! * `duration_ms`: arrival to end of body (or failure), float milliseconds;
//! * `proto`: `HTTP/1.1` (or `HTTP/1.0`), or `HTTP/2` for h2c prior-knowledge clients;
//! * `kind`: `master` | `playlist` | `blocking` (a media playlist request with
//!   `_HLS_msn`) | `segment` | `part` | `other`;
//! * `hold_ms`: how long the origin deliberately held the request before its content
//!   existed (a blocking reload waiting for its part, a preload-hinted part waiting to be
//!   complete), float milliseconds; `null` for requests that are never held. The rest
//!   of `duration_ms` is delivery;
//! * `complete`: whether the whole body was sent;
//! * `channel`: the channel the request was for (`/ch{c}/…`: c; the plain paths: 0),
//!   `null` for a path under no channel served (`/ch{c}/` with c ≥ `--channels`);
//! * `fault`: `null`, or the injected faults joined with `+` in the order applied:
//!   `delay`, `error`, `slow`, `reset` (e.g. `"delay+reset"`).
//!
//! The server only sends records over a channel; the thread serialises them into a
//! buffered file, flushing at least once a second and on shutdown.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One access-log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    /// Request arrival, Unix seconds.
    pub ts: f64,
    /// HTTP method.
    pub method: String,
    /// Request path (and query).
    pub path: String,
    /// Status code sent (499: client gone before headers).
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// Arrival to body end, milliseconds.
    pub duration_ms: f64,
    /// User-Agent header ("" if absent).
    pub ua: String,
    /// Protocol of the request: `HTTP/1.1`, `HTTP/1.0` or `HTTP/2` (h2c).
    pub proto: &'static str,
    /// Request kind.
    pub kind: &'static str,
    /// Whether the whole body was sent.
    pub complete: bool,
    /// Injected faults joined with `+` (`delay`, `error`, `slow`, `reset`), if any.
    pub fault: Option<String>,
    /// Deliberate hold before the content existed, milliseconds (`None`: not a held
    /// kind of request).
    pub hold_ms: Option<f64>,
    /// The channel the request was for (`None`: a `/ch{c}/` path of no channel served).
    pub channel: Option<u32>,
}

enum Msg {
    Record(Box<LogRecord>),
    Close,
}

/// Sending side of the access log; cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLogSender {
    tx: mpsc::Sender<Msg>,
}

impl AccessLogSender {
    /// A sender whose records are collected in memory instead of a file (tests).
    #[cfg(test)]
    pub(crate) fn capture() -> (Self, impl Fn() -> Vec<LogRecord>) {
        let (tx, rx) = mpsc::channel();
        let collect = move || {
            rx.try_iter()
                .filter_map(|m| match m {
                    Msg::Record(r) => Some(*r),
                    Msg::Close => None,
                })
                .collect()
        };
        (Self { tx }, collect)
    }

    /// Queues a record (never blocks; dropped silently only if the writer is gone).
    pub fn send(&self, record: LogRecord) {
        let _ = self.tx.send(Msg::Record(Box::new(record)));
    }
}

/// The writer thread.
#[derive(Debug)]
pub struct AccessLog {
    sender: AccessLogSender,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl AccessLog {
    /// Creates (truncates) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("origin-access-log".into())
            .spawn(move || write_loop(rx, BufWriter::with_capacity(256 * 1024, file)))?;
        Ok(Self {
            sender: AccessLogSender { tx },
            thread: Some(thread),
        })
    }

    /// A sender for request handlers.
    pub fn sender(&self) -> AccessLogSender {
        self.sender.clone()
    }

    /// Writes everything queued so far, flushes and stops the thread. Records sent
    /// afterwards are discarded.
    pub fn close(mut self) -> std::io::Result<()> {
        let _ = self.sender.tx.send(Msg::Close);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("access log thread panicked")),
            None => Ok(()),
        }
    }
}

fn write_loop<W: Write>(rx: mpsc::Receiver<Msg>, mut out: W) -> std::io::Result<()> {
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    let mut dirty_since: Option<Instant> = None;
    loop {
        let msg = match dirty_since {
            Some(t) => match rx.recv_timeout(FLUSH_EVERY.saturating_sub(t.elapsed())) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => Some(Msg::Close),
            },
            None => Some(rx.recv().unwrap_or(Msg::Close)),
        };
        match msg {
            Some(Msg::Record(r)) => {
                serde_json::to_writer(&mut out, &r)?;
                out.write_all(b"\n")?;
                dirty_since.get_or_insert_with(Instant::now);
            }
            Some(Msg::Close) => {
                // Drain whatever was queued before the close.
                while let Ok(Msg::Record(r)) = rx.try_recv() {
                    serde_json::to_writer(&mut out, &r)?;
                    out.write_all(b"\n")?;
                }
                return out.flush();
            }
            None => {}
        }
        if dirty_since.is_some_and(|t| t.elapsed() >= FLUSH_EVERY) {
            out.flush()?;
            dirty_since = None;
        }
    }
}

/// Seconds since the Unix epoch as a float with microsecond resolution.
pub fn unix_seconds(t: std::time::SystemTime) -> f64 {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_secs() as f64 + f64::from(d.subsec_micros()) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> LogRecord {
        LogRecord {
            ts: 1.5,
            method: "GET".into(),
            path: format!("/v0/seg{i}.ts"),
            status: 200,
            bytes: i,
            duration_ms: 0.25,
            ua: "t\"q".into(),
            proto: "HTTP/1.1",
            kind: "segment",
            complete: true,
            fault: None,
            hold_ms: None,
            channel: Some(0),
        }
    }

    #[test]
    fn writes_all_lines_and_flushes_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AccessLog::open(&path).unwrap();
        let s = log.sender();
        for i in 0..1000 {
            s.send(rec(i));
        }
        log.close().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[7]["path"], "/v0/seg7.ts");
        assert_eq!(lines[7]["bytes"], 7);
        assert_eq!(lines[7]["ua"], "t\"q");
        assert_eq!(lines[7]["fault"], serde_json::Value::Null);
    }

    #[test]
    fn flushes_within_a_second_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.jsonl");
        let log = AccessLog::open(&path).unwrap();
        log.sender().send(rec(1));
        let t = Instant::now();
        while std::fs::read_to_string(&path).unwrap().is_empty() {
            assert!(t.elapsed() < Duration::from_secs(3), "not flushed");
            std::thread::sleep(Duration::from_millis(50));
        }
        log.close().unwrap();
    }

    #[test]
    fn unix_seconds_resolution() {
        let t = std::time::UNIX_EPOCH + Duration::new(10, 123_456_789);
        assert!((unix_seconds(t) - 10.123456).abs() < 1e-9);
    }
}

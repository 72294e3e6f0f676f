//! Where log lines go while the TUI owns the terminal: never onto the screen (they would
//! scroll the dashboard away), never into the void.
//!
//! - `tracing` logs go to `--log-file` when given; otherwise they are written as plain
//!   text to stderr like any other diagnostic.
//! - While the TUI is up, stderr (file descriptor 2) is redirected into a pipe whose
//!   reader thread stores each line in a bounded [`LogRing`]; the log pane shows its tail.
//!   This also catches `eprintln!` messages of any module and of libraries.
//! - When the TUI stops, stderr is restored and the ring is printed on it, so the lines
//!   are still there after the dashboard is gone. Lines that overflowed the ring are
//!   counted and the count is shown (use `--log-file` to keep every line).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{Config, LogFormat};

/// Lines the ring keeps.
pub const RING_LINES: usize = 2000;
/// Longest line kept, in bytes (longer lines are cut, marked with `…`).
const MAX_LINE: usize = 4096;

/// A bounded buffer of log lines; the oldest are dropped (and counted) when full.
#[derive(Debug)]
pub struct LogRing {
    lines: Mutex<VecDeque<String>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl LogRing {
    /// A ring holding at most `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        LogRing {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(RING_LINES))),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Append one line (a trailing newline is removed, an over-long line is cut).
    pub fn push(&self, line: &str) {
        let line = line.trim_end_matches(['\n', '\r']);
        // Replayed on the terminal after the TUI: no escape sequences from anywhere.
        let line = crate::console::printable(line);
        let line = if line.len() > MAX_LINE {
            format!("{}…", &line[..line.floor_char_boundary(MAX_LINE)])
        } else {
            line.to_string()
        };
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() == self.capacity {
            l.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        l.push_back(line);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().skip(l.len().saturating_sub(n)).cloned().collect()
    }

    /// Take every line held, oldest first.
    pub fn drain(&self) -> Vec<String> {
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.drain(..).collect()
    }

    /// Lines dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The real stderr while it is redirected (-1 when it is not), so a panic hook on any
/// thread can put it back before printing.
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// Put the real stderr back if it is redirected. Safe to call from any thread, any number
/// of times (only the first call after a redirect acts).
pub fn restore_stderr() {
    let fd = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        let _ = std::io::stderr().flush();
        // SAFETY: `fd` is the duplicate of the original stderr made by `StderrCapture`,
        // owned by nobody else; dup2 onto 2 and closing the duplicate are plain fd calls.
        unsafe {
            libc::dup2(fd, libc::STDERR_FILENO);
            libc::close(fd);
        }
    }
}

/// Stderr redirected into a [`LogRing`] until [`StderrCapture::restore`] (or drop).
#[derive(Debug)]
pub struct StderrCapture {
    done: Option<mpsc::Receiver<()>>,
}

impl StderrCapture {
    /// Redirect fd 2 into a pipe read by a thread that fills `ring`.
    pub fn start(ring: Arc<LogRing>) -> Result<StderrCapture> {
        let _ = std::io::stderr().flush();
        let mut fds: [RawFd; 2] = [-1, -1];
        // SAFETY: plain fd calls on descriptors this function creates; each result is
        // checked and every descriptor is closed on the error paths.
        let (read_fd, saved) = unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(std::io::Error::last_os_error()).context("creating the log pipe");
            }
            let saved = libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, 3);
            if saved < 0 {
                let e = std::io::Error::last_os_error();
                libc::close(fds[0]);
                libc::close(fds[1]);
                return Err(e).context("saving stderr");
            }
            if libc::dup2(fds[1], libc::STDERR_FILENO) < 0 {
                let e = std::io::Error::last_os_error();
                libc::close(fds[0]);
                libc::close(fds[1]);
                libc::close(saved);
                return Err(e).context("redirecting stderr");
            }
            // fd 2 is now the only write end.
            libc::close(fds[1]);
            (fds[0], saved)
        };
        SAVED_STDERR.store(saved, Ordering::SeqCst);
        // SAFETY: `read_fd` is the pipe's read end, owned only by this File from here on.
        let pipe = unsafe { File::from_raw_fd(read_fd) };
        let (done_tx, done) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("hls-swarm-stderr".into())
            .spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut buf = Vec::new();
                while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                    ring.push(&String::from_utf8_lossy(&buf));
                    buf.clear();
                }
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            restore_stderr();
            return Err(e).context("starting the stderr reader");
        }
        Ok(StderrCapture { done: Some(done) })
    }

    /// Put the real stderr back and wait (briefly) for the reader to store what was
    /// written before.
    pub fn restore(&mut self) {
        restore_stderr();
        if let Some(done) = self.done.take() {
            // The reader sees end-of-file once no process holds the pipe's write end; a
            // child process that inherited it could keep it open, so don't wait forever.
            let _ = done.recv_timeout(Duration::from_millis(500));
        }
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Set up `tracing` for a run: to `--log-file` when given (in `-log-format`), else plain
/// text on stderr (captured by the TUI while it is up). Used when the TUI is on or a log
/// file is given; otherwise the default stderr logging applies.
pub fn init_logging(cfg: &Config, tui: bool) -> Result<()> {
    let level = if cfg.outputs.log.verbose {
        "debug"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HLS_SWARM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("hls_swarm={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let _ = match (&cfg.outputs.log.file, tui) {
        (Some(path), _) => {
            let file = open_log_file(path)?;
            let b = builder.with_writer(Mutex::new(file));
            match cfg.outputs.log.format {
                LogFormat::Json => b.json().try_init(),
                LogFormat::Text => b.try_init(),
            }
        }
        // The log pane is for people: text, whatever -log-format says.
        (None, true) => builder.with_writer(std::io::stderr).try_init(),
        (None, false) => match cfg.outputs.log.format {
            LogFormat::Json => builder.with_writer(std::io::stderr).json().try_init(),
            LogFormat::Text => builder.with_writer(std::io::stderr).try_init(),
        },
    };
    Ok(())
}

/// Open (or create) the log file for appending: never truncated or replaced; a device or
/// FIFO is written through. O_NONBLOCK on open so a FIFO without a reader is an error at
/// start instead of a hang.
fn open_log_file(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("--log-file: cannot open {}", path.display()))?;
    crate::file::blocking(&file).with_context(|| format!("--log-file: {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_and_counts_what_it_drops() {
        let r = LogRing::new(3);
        for i in 0..5 {
            r.push(&format!("line {i}\n"));
        }
        assert_eq!(r.tail(10), vec!["line 2", "line 3", "line 4"]);
        assert_eq!(r.tail(1), vec!["line 4"]);
        assert_eq!(r.dropped(), 2);
        assert_eq!(r.drain().len(), 3);
        assert!(r.tail(10).is_empty());
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let r = LogRing::new(2);
        r.push(&"é".repeat(MAX_LINE));
        let l = &r.tail(1)[0];
        assert!(l.len() <= MAX_LINE + '…'.len_utf8());
        assert!(l.ends_with('…'));
    }
}

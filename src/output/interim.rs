//! Interim reports: on SIGUSR1 the swarm publishes the run as it stands (stop reason
//! `running`) and this sink writes the `--output` JSON and `--report` HTML files from it,
//! with the same renderers as at the end, while the run goes on.
//!
//! - Off the tick loop: the files are rendered and written on a blocking thread.
//! - One write at a time, latest wins: the feed is a `watch` channel, so reports
//!   published while a write is in progress replace each other and only the newest is
//!   written next. A burst of SIGUSR1s costs at most the write in progress and one more.
//! - Only into files: a new or regular file is created or replaced atomically (as at the
//!   end, [`crate::file`]); a device or FIFO (`/dev/stdout`, a named pipe) and standard
//!   output (`--output -`) are left alone, because whoever reads a stream expects one
//!   report, the final one.
//! - Never over the final reports: [`InterimWriter::stop`] waits for a write in progress
//!   before the caller writes the final files, which then replace the interim ones.
//!
//! Each write is announced on stderr with the run time it shows; errors are said and the
//! run goes on (the final reports decide the exit code).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{html, json};
use crate::config::{Config, JsonTarget, Slo};
use crate::console::say;
use crate::file;
use crate::signals::REPORT_SIGNAL_NAME;
use crate::stats::report::RunReport;
use crate::units::clock;

/// The feed the swarm publishes interim reports on (its `RunHooks::interim` hook).
pub type InterimFeed = watch::Sender<Option<Arc<RunReport>>>;

/// The task that writes interim reports; see the module doc.
pub struct InterimWriter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl InterimWriter {
    /// Start writing the interim reports of the run `cfg` describes; the returned feed is
    /// for the swarm. Without `--output` and `--report` each report is answered with a
    /// line saying there is nothing to write.
    pub fn start(cfg: &Config) -> (InterimFeed, InterimWriter) {
        let (tx, rx) = watch::channel(None);
        let targets = Targets {
            json: cfg.outputs.json_report.clone(),
            html: cfg.outputs.html_report.clone(),
            slo: cfg.slo.clone(),
        };
        let writer = InterimWriter::serve(rx, move |r: Arc<RunReport>| targets.write(&r));
        (tx, writer)
    }

    /// Write each report published on `rx` with `write` (on a blocking thread), one at a
    /// time, the newest first.
    fn serve<T, W>(mut rx: watch::Receiver<Option<T>>, write: W) -> InterimWriter
    where
        T: Clone + Send + Sync + 'static,
        W: Fn(T) + Send + Sync + 'static,
    {
        let write = Arc::new(write);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    // A stop wins over a report published at the same moment.
                    biased;
                    () = stopped.cancelled() => break,
                    changed = rx.changed() => if changed.is_err() { break },
                }
                let Some(report) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let write = Arc::clone(&write);
                // Awaited outside the select: a write once begun is always finished.
                let _ = tokio::task::spawn_blocking(move || write(report)).await;
            }
        });
        InterimWriter { stop, task }
    }

    /// Stop writing: wait for a write in progress to finish (so it can't land after, and
    /// over, the final reports); a report published but not yet begun is dropped.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Where interim reports go, and the SLOs they judge.
struct Targets {
    json: Option<JsonTarget>,
    html: Option<PathBuf>,
    slo: Slo,
}

impl Targets {
    /// Render and write `r` to every target, and say what was done (blocking).
    fn write(&self, r: &RunReport) {
        if self.json.is_none() && self.html.is_none() {
            say!(
                "hls-swarm: {REPORT_SIGNAL_NAME}: neither --output nor --report was given, nothing to write; the run goes on"
            );
            return;
        }
        let began = Instant::now();
        let slo = crate::slo::evaluate(&self.slo, &r.snapshot);
        let mut written = Vec::new();
        match &self.json {
            Some(JsonTarget::File(path)) => {
                let bytes = json::to_bytes(&json::Report::new(r, &slo));
                written.extend(write_one("--output", path, bytes));
            }
            Some(JsonTarget::Stdout) => {
                say!(
                    "hls-swarm: {REPORT_SIGNAL_NAME}: --output - (standard output) gets only the final report, as its last line"
                );
            }
            None => {}
        }
        if let Some(path) = &self.html {
            let bytes = Ok(html::render(r, &slo).into_bytes());
            written.extend(write_one("--report", path, bytes));
        }
        if !written.is_empty() {
            say!(
                "hls-swarm: {REPORT_SIGNAL_NAME}: interim report as of run time {} written to {} (in {} ms); the run goes on",
                clock(r.snapshot.elapsed.as_secs_f64()),
                written.join(", "),
                began.elapsed().as_millis()
            );
        }
    }
}

/// Write one rendered report into the file at `path`; what was written, for the line that
/// announces it (`None`, after saying why, when nothing was).
fn write_one(flag: &str, path: &Path, bytes: Result<Vec<u8>>) -> Option<String> {
    match bytes.and_then(|b| file::write_if_file(flag, path, &b)) {
        Ok(true) => Some(format!("{} ({flag})", path.display())),
        Ok(false) => {
            say!(
                "hls-swarm: {REPORT_SIGNAL_NAME}: {flag} {} is not a regular file; only the final report is written there",
                path.display()
            );
            None
        }
        Err(e) => {
            say!("hls-swarm: {REPORT_SIGNAL_NAME}: interim report not written: {e:#}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// What the writer under test has written, in order.
    type Written = Arc<Mutex<Vec<u32>>>;

    /// A writer whose writes take `took` and are recorded in order.
    fn recording(took: Duration) -> (watch::Sender<Option<u32>>, InterimWriter, Written) {
        let (tx, rx) = watch::channel(None);
        let seen = Written::default();
        let log = seen.clone();
        let writer = InterimWriter::serve(rx, move |n| {
            std::thread::sleep(took);
            log.lock().expect("lock").push(n);
        });
        (tx, writer, seen)
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        let began = Instant::now();
        while !done() {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "timed out: {what}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_burst_is_written_at_most_twice_and_ends_with_the_newest() {
        let (tx, writer, seen) = recording(Duration::from_millis(100));
        for n in 1..=100 {
            tx.send_replace(Some(n));
            tokio::task::yield_now().await;
        }
        until("the newest report is written", || {
            seen.lock().expect("lock").last() == Some(&100)
        })
        .await;
        // Nothing else is queued behind it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let writes = seen.lock().expect("lock").clone();
        assert!(
            (1..=2).contains(&writes.len()),
            "the write in progress and the newest at most: {writes:?}"
        );
        assert_eq!(writes.last(), Some(&100));
        writer.stop().await;
    }

    #[tokio::test]
    async fn stop_waits_for_the_write_in_progress_and_drops_the_rest() {
        let (tx, rx) = watch::channel(None);
        let began = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let (began, finished, seen) = (began.clone(), finished.clone(), seen.clone());
            InterimWriter::serve(rx, move |n: u32| {
                began.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                seen.lock().expect("lock").push(n);
                finished.store(true, Ordering::SeqCst);
            })
        };
        tx.send_replace(Some(1));
        until("the write begins", || began.load(Ordering::SeqCst)).await;
        tx.send_replace(Some(2));
        writer.stop().await;
        assert!(finished.load(Ordering::SeqCst), "stop returned mid-write");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![1],
            "nothing after the stop"
        );
    }

    #[tokio::test]
    async fn reports_apart_in_time_are_each_written() {
        let (tx, writer, seen) = recording(Duration::ZERO);
        for n in 1..=3 {
            tx.send_replace(Some(n));
            until("each report is written", || {
                seen.lock().expect("lock").last() == Some(&n)
            })
            .await;
        }
        assert_eq!(*seen.lock().expect("lock"), vec![1, 2, 3]);
        writer.stop().await;
    }
}

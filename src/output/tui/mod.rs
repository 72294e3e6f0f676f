//! The live terminal dashboard (ratatui + crossterm).
//!
//! It runs beside the run on its own thread and only reads: the latest
//! Snapshot from the swarm's watch channel, the series recorder for sparklines and the log
//! ring. It redraws at a fixed [`FRAME`] rate whatever the swarm does, and the swarm never
//! waits for it. `q`, Esc or Ctrl+C cancel the run's stop token: the run stops as if
//! signalled and returns its report, [`Tui::stop`] gives the terminal back, and only then
//! is the summary printed.
//!
//! While it is up, stderr is captured into the log pane ([`logs`]); the terminal is
//! restored on every exit path ([`terminal`]).

pub mod logs;
pub mod terminal;
pub mod view;

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, StreamSource, redact_url};
use crate::stats::report::RunInfo;
use crate::stats::series::SeriesRecorder;
use crate::stats::snapshot::Snapshot;
use logs::{LogRing, RING_LINES, StderrCapture};
use terminal::TerminalGuard;
use view::Model;

/// Time between frames (4 frames per second).
pub const FRAME: Duration = Duration::from_millis(250);
/// Error rate that turns the error figures red when no `--slo-max-error-rate` is given.
pub const DEFAULT_ERROR_THRESHOLD: f64 = 0.01;
/// Log lines handed to the pane per frame (more than any pane is tall).
const PANE_LINES: usize = 200;
/// Recent ticks handed to the sparklines per frame (wider than any panel).
const SPARK_POINTS: usize = 400;

/// What the TUI reads.
#[derive(Debug)]
pub struct TuiParams {
    /// The run's configuration.
    pub cfg: Arc<Config>,
    /// The swarm's per-tick snapshots.
    pub snapshots: watch::Receiver<Option<Snapshot>>,
    /// The run's stream and engine, once it has started.
    pub info: watch::Receiver<Option<RunInfo>>,
    /// The run's time series (sparklines).
    pub series: Arc<SeriesRecorder>,
    /// Cancelled when the user quits.
    pub stop: CancellationToken,
}

/// The metrics endpoint shown in the header, when the swarm serves one (`-metrics off`:
/// none). An unspecified listen address is shown as loopback, like the startup line.
fn metrics_url(cfg: &Config) -> Option<String> {
    let mut a = cfg.outputs.metrics?.addr;
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Some(format!("http://{a}/metrics"))
}

/// A running TUI. Dropping it (or [`Tui::stop`]) stops drawing, restores the terminal and
/// stderr, and replays the captured log lines on stderr.
pub struct Tui {
    thread: Option<JoinHandle<()>>,
    shutdown: Arc<AtomicBool>,
    capture: Option<StderrCapture>,
    ring: Arc<LogRing>,
}

impl Tui {
    /// Take the terminal and start drawing. Fails (leaving the terminal as it was) when
    /// stdout is not a usable terminal.
    pub fn start(p: TuiParams) -> Result<Tui> {
        if !std::io::stdout().is_terminal() {
            anyhow::bail!("stdout is not a terminal");
        }
        let ring = Arc::new(LogRing::new(RING_LINES));
        let guard = TerminalGuard::enter()?;
        let capture = StderrCapture::start(ring.clone())?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let base = Model {
            stream_hint: match &p.cfg.stream.source {
                StreamSource::Url(u) => redact_url(u),
                StreamSource::Builtin => "built-in origin (starting)".into(),
            },
            metrics_url: metrics_url(&p.cfg),
            // This process's share of the whole test's rate (all of it without --shard).
            ramp_rate: p.cfg.audience.ramp_rate / p.cfg.audience.shard.count() as f64,
            error_threshold: p.cfg.slo.max_error_rate.unwrap_or(DEFAULT_ERROR_THRESHOLD),
            log_file: p
                .cfg
                .outputs
                .log
                .file
                .as_ref()
                .map(|f| f.display().to_string()),
            stream_names: p
                .cfg
                .stream
                .metrics_groups()
                .map(|g| g.names)
                .unwrap_or_default(),
            ..Model::default()
        };
        let looper = Looper {
            params: p,
            ring: ring.clone(),
            shutdown: shutdown.clone(),
            base,
        };
        let thread = std::thread::Builder::new()
            .name("hls-swarm-tui".into())
            .spawn(move || looper.run(guard))
            .context("starting the TUI thread")?;
        Ok(Tui {
            thread: Some(thread),
            shutdown,
            capture: Some(capture),
            ring,
        })
    }

    /// Stop drawing and give the terminal back (waits at most about one frame).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // The thread restores the terminal when its guard drops, also if it panicked.
            let _ = t.join();
        }
        terminal::restore_terminal();
        if let Some(mut c) = self.capture.take() {
            c.restore();
            let lines = self.ring.drain();
            let mut err = std::io::stderr().lock();
            if self.ring.dropped() > 0 {
                let _ = writeln!(
                    err,
                    "hls-swarm: {} earlier log lines were dropped from the TUI's buffer (use --log-file to keep all)",
                    self.ring.dropped()
                );
            }
            for l in lines {
                let _ = writeln!(err, "{l}");
            }
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The TUI thread's state.
struct Looper {
    params: TuiParams,
    ring: Arc<LogRing>,
    shutdown: Arc<AtomicBool>,
    base: Model,
}

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAction {
    Quit,
    None,
}

fn key_action(code: KeyCode, modifiers: KeyModifiers) -> KeyAction {
    match code {
        KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => KeyAction::Quit,
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => KeyAction::Quit,
        _ => KeyAction::None,
    }
}

impl Looper {
    fn model(&self) -> Model {
        let snapshot = self.params.snapshots.borrow().clone();
        let origin = snapshot.as_ref().and_then(|s| s.origin.clone());
        Model {
            snapshot,
            info: self.params.info.borrow().clone(),
            recent: self.params.series.recent(SPARK_POINTS),
            origin,
            logs: self.ring.tail(PANE_LINES),
            log_dropped: self.ring.dropped(),
            quitting: self.params.stop.is_cancelled(),
            ..self.base.clone()
        }
    }

    fn run(self, mut guard: TerminalGuard) {
        let mut next = Instant::now();
        while !self.shutdown.load(Ordering::SeqCst) && !terminal::panicked() {
            let model = self.model();
            if guard.terminal.draw(|f| view::draw(f, &model)).is_err() {
                // The terminal is gone; the run goes on and ends by signal or duration.
                break;
            }
            next += FRAME;
            let now = Instant::now();
            if next < now {
                next = now + FRAME;
            }
            self.wait_for_input(next);
        }
        drop(guard);
    }

    /// Handle keys until `until` (returns early on a key that changes the screen).
    fn wait_for_input(&self, until: Instant) {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.shutdown.load(Ordering::SeqCst) {
                return;
            }
            match event::poll(left) {
                Ok(true) => match event::read() {
                    Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                        if key_action(k.code, k.modifiers) == KeyAction::Quit {
                            self.params.stop.cancel();
                            return;
                        }
                    }
                    Ok(Event::Resize(..)) => return,
                    Ok(_) => {}
                    Err(_) => {
                        std::thread::sleep(left);
                        return;
                    }
                },
                Ok(false) => return,
                Err(_) => {
                    std::thread::sleep(left);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quit_keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(key_action(KeyCode::Char('q'), none), KeyAction::Quit);
        assert_eq!(key_action(KeyCode::Esc, none), KeyAction::Quit);
        assert_eq!(
            key_action(KeyCode::Char('c'), KeyModifiers::CONTROL),
            KeyAction::Quit
        );
        assert_eq!(key_action(KeyCode::Char('c'), none), KeyAction::None);
        assert_eq!(key_action(KeyCode::Enter, none), KeyAction::None);
    }
}

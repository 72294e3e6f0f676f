//! What the FFmpeg processes did, counted: spawns and spawn failures, exits by kind,
//! stall restarts, stderr lines offered and dropped, and the latest warning or error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::process::ExitKind;
use super::supervisor::{KillReason, ProcessEnd};
use crate::stats::ffmpeg::ExitCounts;
use crate::stats::hub::PipelineCounters;

/// The engine's counters (see the module docs).
#[derive(Debug)]
pub struct Tally {
    spawns: AtomicU64,
    spawn_failures: AtomicU64,
    clean: AtomicU64,
    error: AtomicU64,
    signal: AtomicU64,
    killed: AtomicU64,
    stall_restarts: AtomicU64,
    stderr_lines: AtomicU64,
    stderr_dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The run's pipeline counters, which also count stderr lines dropped.
    pipeline: Arc<PipelineCounters>,
}

/// The counts as of now.
#[derive(Debug, Clone, Default)]
pub struct TallyFigures {
    /// Processes spawned.
    pub spawns: u64,
    /// Spawns that failed.
    pub spawn_failures: u64,
    /// Exits by kind.
    pub exits: ExitCounts,
    /// Processes the swarm stopped because they stalled.
    pub stall_restarts: u64,
    /// Stderr lines read.
    pub stderr_lines: u64,
    /// Stderr lines dropped (parser behind).
    pub stderr_dropped: u64,
    /// The latest warning or error line.
    pub last_error: Option<String>,
}

impl Tally {
    /// Counters that also report stderr drops to `pipeline`.
    pub fn new(pipeline: Arc<PipelineCounters>) -> Self {
        Tally {
            spawns: AtomicU64::new(0),
            spawn_failures: AtomicU64::new(0),
            clean: AtomicU64::new(0),
            error: AtomicU64::new(0),
            signal: AtomicU64::new(0),
            killed: AtomicU64::new(0),
            stall_restarts: AtomicU64::new(0),
            stderr_lines: AtomicU64::new(0),
            stderr_dropped: AtomicU64::new(0),
            last_error: Mutex::new(None),
            pipeline,
        }
    }

    /// A process was spawned.
    pub fn spawned(&self) {
        self.spawns.fetch_add(1, Ordering::Relaxed);
    }

    /// A process could not be spawned (`line` says why).
    pub fn spawn_failed(&self, line: &str) {
        self.spawn_failures.fetch_add(1, Ordering::Relaxed);
        self.note_error(line);
    }

    /// A warning or error line of some process.
    pub fn note_error(&self, line: &str) {
        if let Ok(mut e) = self.last_error.lock() {
            match e.as_mut() {
                Some(s) if s == line => {}
                Some(s) => {
                    s.clear();
                    s.push_str(line);
                }
                None => *e = Some(line.to_string()),
            }
        }
    }

    /// `offered` stderr lines read, `dropped` of them dropped.
    pub fn stderr_counted(&self, offered: u64, dropped: u64) {
        if offered == 0 {
            return;
        }
        self.stderr_lines.fetch_add(offered, Ordering::Relaxed);
        self.stderr_dropped.fetch_add(dropped, Ordering::Relaxed);
        self.pipeline.add_external(offered, dropped);
    }

    /// A process ended as `end` says.
    pub fn count_exit(&self, end: &ProcessEnd) {
        let counter = match (end.killed, end.exit) {
            (Some(k), _) => {
                if k == KillReason::Stall {
                    self.stall_restarts.fetch_add(1, Ordering::Relaxed);
                }
                &self.killed
            }
            (None, None) => return,
            (None, Some(ExitKind::Clean)) => &self.clean,
            (None, Some(ExitKind::Error(_))) => &self.error,
            (None, Some(ExitKind::Signal(_))) => &self.signal,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if end.killed.is_none()
            && let Some(exit) = end.exit
        {
            tracing::debug!(%exit, uptime = ?end.uptime, last = ?end.ring.last(), "ffmpeg exited");
        }
    }

    /// The counts as of now.
    pub fn figures(&self) -> TallyFigures {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TallyFigures {
            spawns: n(&self.spawns),
            spawn_failures: n(&self.spawn_failures),
            exits: ExitCounts {
                clean: n(&self.clean),
                error: n(&self.error),
                signal: n(&self.signal),
                killed_by_swarm: n(&self.killed),
            },
            stall_restarts: n(&self.stall_restarts),
            stderr_lines: n(&self.stderr_lines),
            stderr_dropped: n(&self.stderr_dropped),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

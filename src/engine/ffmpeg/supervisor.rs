//! One viewer life of the FFmpeg engine: spawn FFmpeg, turn its `-progress` and stderr
//! into events, stop it when the swarm stops or (with `-restart-on-stall`) when it stalls.
//! Exits are classified clean / error / signal; kills the swarm made itself are neither
//! failures nor crash-loop evidence. The slot around it (respawn, backoff) is the
//! engine-neutral [`crate::engine::slot`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::ChildStderr;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::FfmpegEngine;
use super::crashloop::SlotStreak;
use super::process::{self, ExitKind, KILL_GRACE};
use super::progress::{BlockParser, Tracker, Update};
use super::stderr::{ApproxRequests, Level, LineSplitter, Ring, parse_line};
use crate::engine::{BoxFuture, LifeEnd, SlotPlayer, Viewer};
use crate::stats::event::{Event, PlaybackEvent};
use crate::stats::hub::EventSink;

/// Why the swarm stopped a process itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// The swarm is stopping.
    Shutdown,
    /// It stalled longer than the threshold (`-restart-on-stall`).
    Stall,
}

/// How one process life ended.
#[derive(Debug)]
pub struct ProcessEnd {
    /// Exit; `None` when it could not be spawned.
    pub exit: Option<ExitKind>,
    /// Spawn to exit.
    pub uptime: Duration,
    /// Set when the swarm stopped it.
    pub killed: Option<KillReason>,
    /// Its last warning/error lines.
    pub ring: Ring,
}

/// The player of one FFmpeg viewer slot: each life is one FFmpeg process
/// ([`run_process`]); the slot's crash-loop streak lives here.
pub struct FfmpegPlayer {
    engine: Arc<FfmpegEngine>,
    streak: SlotStreak,
}

impl FfmpegPlayer {
    /// The player of a new slot of `engine`.
    pub fn new(engine: Arc<FfmpegEngine>) -> Self {
        FfmpegPlayer {
            engine,
            streak: SlotStreak::default(),
        }
    }
}

impl SlotPlayer for FfmpegPlayer {
    fn backoff_seed(&self, viewer: &Viewer) -> u64 {
        self.engine.recipe.seed ^ viewer.id.rotate_left(29) ^ 0xFF_5EED
    }

    fn play<'a>(&'a mut self, viewer: &'a Viewer) -> BoxFuture<'a, LifeEnd> {
        Box::pin(async move {
            let engine = &self.engine;
            let end = run_process(engine, viewer).await;
            engine.tally.count_exit(&end);
            match end.killed {
                // Kills the swarm made itself are neither failures nor crash-loop evidence.
                Some(KillReason::Shutdown) => LifeEnd::Stopped,
                Some(KillReason::Stall) => {
                    engine.guard.healthy(&mut self.streak);
                    LifeEnd::Replaced
                }
                None => {
                    if !viewer.cancel.is_cancelled() {
                        engine.guard.own_exit(viewer.id, &mut self.streak, &end);
                    }
                    LifeEnd::Ended {
                        failure: end.exit != Some(ExitKind::Clean),
                    }
                }
            }
        })
    }
}

/// Spawn FFmpeg once for `viewer` and follow it until it exits or is stopped.
pub async fn run_process(engine: &Arc<FfmpegEngine>, viewer: &Viewer) -> ProcessEnd {
    let args = engine.recipe.args(viewer.id);
    let spawned_at = Instant::now();
    let mut sp = match process::spawn(&engine.recipe.caps.binary, &args) {
        Ok(sp) => sp,
        Err(e) => {
            let mut ring = Ring::default();
            let line = format!("cannot start {}: {e}", engine.recipe.caps.binary);
            ring.push(&line);
            engine.tally.spawn_failed(&line);
            return ProcessEnd {
                exit: None,
                uptime: Duration::ZERO,
                killed: None,
                ring,
            };
        }
    };
    engine.register(sp.pid);
    let ring = Arc::new(Mutex::new(Ring::default()));
    let stderr_task = tokio::spawn(read_stderr(
        sp.stderr,
        engine.clone(),
        viewer.sink.clone(),
        ring.clone(),
    ));
    let mut tracker = Tracker::new(
        spawned_at,
        engine.recipe.stall_threshold,
        engine.recipe.tune_in_latency,
    );
    let mut play = PlayState {
        sink: &viewer.sink,
        engine,
        speed: None,
    };
    let mut blocks = BlockParser::default();
    let mut splitter = LineSplitter::default();
    let mut buf = [0u8; 4096];
    let mut progress_open = true;
    let mut killed = None;
    let status = loop {
        let deadline = tracker.next_deadline();
        tokio::select! {
            st = sp.child.wait() => break st,
            n = sp.progress.read(&mut buf), if progress_open => match n {
                Ok(0) | Err(_) => progress_open = false,
                Ok(n) => {
                    let now = Instant::now();
                    let mut updates = Vec::new();
                    splitter.feed(&buf[..n], |line| {
                        if let Some(b) = blocks.line(line) {
                            updates.extend(tracker.on_block(now, b));
                        }
                    });
                    play.apply(&updates);
                    play.speed(tracker.speed());
                }
            },
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => {
                play.apply(&tracker.poll(Instant::now()));
            }
            _ = viewer.cancel.cancelled() => {
                killed = Some(KillReason::Shutdown);
                break process::stop(&mut sp.child, sp.pid, KILL_GRACE).await;
            }
        }
        if engine.recipe.restart_on_stall && tracker.stalled() {
            killed = Some(KillReason::Stall);
            break process::stop(&mut sp.child, sp.pid, KILL_GRACE).await;
        }
    };
    let now = Instant::now();
    play.apply(&tracker.finish(now));
    play.speed(None);
    engine.unregister(sp.pid);
    // The stderr reader ends at EOF (the process is gone); bounded in case a grandchild
    // kept the pipe open.
    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_task).await;
    let ring = ring.lock().map(|r| r.clone()).unwrap_or_default();
    let exit = match status {
        Ok(st) => ExitKind::of(st),
        Err(_) => ExitKind::Error(-1),
    };
    ProcessEnd {
        exit: Some(exit),
        uptime: now.saturating_duration_since(spawned_at),
        killed,
        ring,
    }
}

/// Turns tracker updates into events (which also move the viewer's state, see
/// [`crate::stats::viewer_state`]) and the speed contribution.
struct PlayState<'a> {
    sink: &'a EventSink,
    engine: &'a Arc<FfmpegEngine>,
    speed: Option<f64>,
}

impl PlayState<'_> {
    fn apply(&mut self, updates: &[Update]) {
        for u in updates {
            let ev = match *u {
                Update::Started { startup } => {
                    self.engine.guard.played();
                    PlaybackEvent::Started { startup }
                }
                Update::Played { media } => PlaybackEvent::Played { media },
                Update::LiveLatency { latency } => PlaybackEvent::LiveLatency { latency },
                Update::StallStarted => PlaybackEvent::StallStarted,
                Update::StallEnded { stalled } => PlaybackEvent::StallEnded { stalled },
            };
            self.sink.send(Event::Playback(ev));
        }
    }

    fn speed(&mut self, new: Option<f64>) {
        self.engine.speed.replace(self.speed, new);
        self.speed = new;
    }
}

/// Read stderr line by line (split on `\r` and `\n`) into a bounded channel; a full
/// channel drops the line and counts it (never blocks FFmpeg).
async fn read_stderr(
    mut stderr: ChildStderr,
    engine: Arc<FfmpegEngine>,
    sink: EventSink,
    ring: Arc<Mutex<Ring>>,
) {
    let (tx, rx) = mpsc::channel::<String>(engine.recipe.stderr_buffer.max(1));
    let parser = tokio::spawn(parse_stderr(rx, engine.clone(), sink, ring));
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 8192];
    let (mut offered, mut dropped) = (0u64, 0u64);
    let push = |line: &str, offered: &mut u64, dropped: &mut u64| {
        *offered += 1;
        if tx.try_send(line.to_string()).is_err() {
            *dropped += 1;
        }
    };
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                splitter.feed(&buf[..n], |l| push(l, &mut offered, &mut dropped));
                if offered >= 256 {
                    engine.tally.stderr_counted(offered, dropped);
                    (offered, dropped) = (0, 0);
                }
            }
        }
    }
    splitter.finish(|l| push(l, &mut offered, &mut dropped));
    engine.tally.stderr_counted(offered, dropped);
    drop(tx);
    let _ = parser.await;
}

async fn parse_stderr(
    mut rx: mpsc::Receiver<String>,
    engine: Arc<FfmpegEngine>,
    sink: EventSink,
    ring: Arc<Mutex<Ring>>,
) {
    let mut approx = engine
        .recipe
        .plan
        .https()
        .then(|| ApproxRequests::new(engine.recipe.classifier.clone()));
    let mut current: Option<Level> = None;
    while let Some(line) = rx.recv().await {
        let p = parse_line(&line);
        if p.level.is_some() {
            current = p.level;
        }
        // Untagged lines continue the previous message; before any tag (not FFmpeg
        // speaking, or a fatal early message) they are kept.
        let keep = current.is_none_or(|l| l <= Level::Warning);
        if keep {
            if let Ok(mut r) = ring.lock() {
                r.push(&line);
            }
            engine.tally.note_error(&line);
        }
        if let Some(a) = approx.as_mut() {
            a.line(&p, |r| sink.send(Event::Request(r)));
        }
    }
    if let Some(a) = approx.as_mut() {
        a.finish(|r| sink.send(Event::Request(r)));
    }
}

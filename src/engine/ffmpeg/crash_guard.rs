//! The engine's side of the crash-loop breaker ([`super::crashloop`] is the pure rule):
//! feeds it every slot's process exits, and when it trips tells the people (the failing
//! process's last stderr with a hint), stops the ramp and — if no FFmpeg ever played —
//! ends the run.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::crashloop::{self, Breaker, SlotStreak, Trip};
use super::supervisor::ProcessEnd;
use crate::stats::ffmpeg::CrashLoopState;
use crate::stats::gauges::LiveGauges;

/// The breaker of one run and what it trips (see the module docs).
#[derive(Debug)]
pub struct CrashGuard {
    breaker: Mutex<Breaker>,
    state: Mutex<CrashLoopState>,
    halt: CancellationToken,
    abort: CancellationToken,
    /// Viewers ramped so far (the breaker's denominator).
    gauges: Arc<LiveGauges>,
    started: Instant,
}

impl CrashGuard {
    /// A guard for a run whose ramp is counted in `gauges`, starting now.
    pub fn new(gauges: Arc<LiveGauges>) -> Self {
        CrashGuard {
            breaker: Mutex::new(Breaker::default()),
            state: Mutex::new(CrashLoopState::default()),
            halt: CancellationToken::new(),
            abort: CancellationToken::new(),
            gauges,
            started: Instant::now(),
        }
    }

    /// Cancelled when the breaker trips: the ramp must start no more viewers.
    pub fn ramp_halt(&self) -> CancellationToken {
        self.halt.clone()
    }

    /// Cancelled when the run cannot measure anything (every FFmpeg crash-loops and none
    /// ever played): the run should end with exit code 1.
    pub fn abort(&self) -> CancellationToken {
        self.abort.clone()
    }

    /// The crash-loop message, if the breaker tripped.
    pub fn message(&self) -> Option<String> {
        self.state.lock().ok().and_then(|c| c.message.clone())
    }

    /// The breaker's state as of now.
    pub fn state(&self) -> CrashLoopState {
        self.state.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Some FFmpeg played.
    pub fn played(&self) {
        if let Ok(mut b) = self.breaker.lock() {
            b.played();
        }
    }

    /// A slot's process ended healthily (a stall restart).
    pub fn healthy(&self, streak: &mut SlotStreak) {
        if let Ok(mut b) = self.breaker.lock() {
            b.healthy(streak);
        }
    }

    /// A process of viewer `id` ended on its own: feed the breaker.
    pub fn own_exit(&self, id: u64, streak: &mut SlotStreak, end: &ProcessEnd) {
        let trip = self
            .breaker
            .lock()
            .ok()
            .and_then(|mut b| b.on_exit(streak, end.uptime, self.gauges.ramped()));
        if let Some(t) = trip {
            self.trip(id, end, t);
        }
    }

    fn trip(&self, id: u64, end: &ProcessEnd, t: Trip) {
        let lines: Vec<&str> = end.ring.lines().collect();
        let how = match end.exit {
            Some(e) => format!("{e} after {:.2} s", end.uptime.as_secs_f64()),
            None => "could not be started".into(),
        };
        let mut msg = format!(
            "crash loop: {} of {} FFmpeg viewers died within {} s of starting, {} times in a row; the ramp is stopped{}.\n  last stderr of viewer {id} ({how}):\n",
            t.looping,
            t.ramped,
            crashloop::QUICK.as_secs(),
            crashloop::STREAK,
            if t.ever_played {
                ""
            } else {
                " and the run ends (no FFmpeg ever played)"
            },
        );
        if lines.is_empty() {
            msg.push_str("    | (nothing on stderr)\n");
        }
        for l in &lines {
            msg.push_str("    | ");
            msg.push_str(l);
            msg.push('\n');
        }
        msg.push_str("  hint: ");
        msg.push_str(crashloop::hint(&lines));
        crate::console::say!("hls-swarm: {msg}");
        tracing::debug!(viewer = id, "crash-loop breaker tripped");
        if let Ok(mut c) = self.state.lock() {
            *c = CrashLoopState {
                tripped: true,
                tripped_at_seconds: Some(self.started.elapsed().as_secs_f64()),
                ramp_stopped_at: Some(self.gauges.ramped()),
                message: Some(msg),
            };
        }
        self.halt.cancel();
        if !t.ever_played {
            self.abort.cancel();
        }
    }
}

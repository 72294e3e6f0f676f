//! The signals a run listens to.
//!
//! - SIGINT (Ctrl+C), SIGTERM (a service manager, `kill`) and SIGHUP (the terminal or ssh
//!   session went away) stop a run. All three end it the same way: stop, drain, write
//!   every report (see docs/reliability.md).
//! - SIGUSR1 asks for the reports as they stand, without stopping (docs/cli.md,
//!   "Signals"): the swarm publishes an interim report, a sink writes the files.
//!
//! They are caught with `signal-hook`'s iterator on a small thread of their own and
//! handed to the async run through a channel, so no signal is lost while the run is busy
//! elsewhere. Stop signals and SIGUSR1 have separate catchers so that a SIGUSR1 can never
//! count as a (second) stop signal.

use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::{Handle, Signals};
use tokio::sync::mpsc;

/// A signal that stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl StopSignal {
    fn of(raw: i32) -> Option<Self> {
        match raw {
            SIGINT => Some(StopSignal::Interrupt),
            SIGTERM => Some(StopSignal::Terminate),
            SIGHUP => Some(StopSignal::Hangup),
            _ => None,
        }
    }

    /// The usual name (`SIGHUP`).
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }
}

/// The name of the signal that asks for interim reports.
pub const REPORT_SIGNAL_NAME: &str = "SIGUSR1";

/// The run's stop signals, caught from [`StopSignals::install`] until dropped.
///
/// While installed, these signals no longer kill the process; once dropped they are
/// ignored (signal-hook keeps its handler), which is what the end of a run wants: a late
/// second SIGHUP must not cut the report writing short.
pub struct StopSignals(Catcher<StopSignal>);

impl StopSignals {
    /// Start catching SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> std::io::Result<Self> {
        Catcher::install(&[SIGINT, SIGTERM, SIGHUP], StopSignal::of).map(StopSignals)
    }

    /// The next stop signal (pending forever once the catcher is gone).
    pub async fn recv(&mut self) -> StopSignal {
        self.0.recv().await
    }
}

/// SIGUSR1, the request for interim reports, caught from [`ReportSignals::install`]
/// until dropped.
///
/// Once installed, SIGUSR1 no longer kills the process (its default action), not even
/// after this is dropped (signal-hook keeps its handler and ignores the signal then): a
/// SIGUSR1 that arrives while the final reports are written does no harm.
pub struct ReportSignals(Catcher<()>);

impl ReportSignals {
    /// Start catching SIGUSR1.
    pub fn install() -> std::io::Result<Self> {
        Catcher::install(&[SIGUSR1], |raw| (raw == SIGUSR1).then_some(())).map(ReportSignals)
    }

    /// Wait for the next SIGUSR1 (pending forever once the catcher is gone). Several
    /// SIGUSR1s that arrive before this is called may be reported once: the kernel and
    /// signal-hook both merge a signal that is already pending.
    pub async fn recv(&mut self) {
        self.0.recv().await
    }
}

/// A thread that turns the raw signals it catches into `T`s on a channel.
struct Catcher<T> {
    rx: mpsc::UnboundedReceiver<T>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Catcher<T> {
    fn install(raw: &[i32], of: fn(i32) -> Option<T>) -> std::io::Result<Self> {
        let mut signals = Signals::new(raw)?;
        let handle = signals.handle();
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("hls-swarm-signals".into())
            .spawn(move || {
                for raw in signals.forever() {
                    if let Some(s) = of(raw)
                        && tx.send(s).is_err()
                    {
                        break;
                    }
                }
            })?;
        Ok(Catcher {
            rx,
            handle,
            thread: Some(thread),
        })
    }

    async fn recv(&mut self) -> T {
        match self.rx.recv().await {
            Some(s) => s,
            None => std::future::pending().await,
        }
    }
}

impl<T> Drop for Catcher<T> {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(StopSignal::of(SIGHUP), Some(StopSignal::Hangup));
        assert_eq!(StopSignal::of(SIGINT).map(StopSignal::name), Some("SIGINT"));
        assert_eq!(
            StopSignal::of(SIGTERM).map(StopSignal::name),
            Some("SIGTERM")
        );
        assert_eq!(StopSignal::of(libc::SIGUSR1), None);
    }
}

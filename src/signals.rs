//! The signals that stop a run: SIGINT (Ctrl+C), SIGTERM (a service manager, `kill`) and
//! SIGHUP (the terminal or ssh session went away). All three end the run the same way:
//! stop, drain, write every report (see docs/reliability.md). They are caught with
//! `signal-hook`'s iterator on a small thread of its own and handed to the async run
//! through a channel, so no signal is lost while the run is busy elsewhere.

use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
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

/// The run's stop signals, caught from [`StopSignals::install`] until dropped.
///
/// While installed, these signals no longer kill the process; once dropped they are
/// ignored (signal-hook keeps its handler), which is what the end of a run wants: a late
/// second SIGHUP must not cut the report writing short.
pub struct StopSignals {
    rx: mpsc::UnboundedReceiver<StopSignal>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl StopSignals {
    /// Start catching SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("hls-swarm-signals".into())
            .spawn(move || {
                for raw in signals.forever() {
                    if let Some(s) = StopSignal::of(raw)
                        && tx.send(s).is_err()
                    {
                        break;
                    }
                }
            })?;
        Ok(StopSignals {
            rx,
            handle,
            thread: Some(thread),
        })
    }

    /// The next stop signal (pending forever once the catcher is gone).
    pub async fn recv(&mut self) -> StopSignal {
        match self.rx.recv().await {
            Some(s) => s,
            None => std::future::pending().await,
        }
    }
}

impl Drop for StopSignals {
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

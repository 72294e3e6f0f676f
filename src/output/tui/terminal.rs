//! Taking the terminal (raw mode, alternate screen, hidden cursor) and giving it back on
//! every exit path: a [`TerminalGuard`] restores it when dropped (normal end, early
//! return, unwinding), and a panic hook restores it — and the real stderr — before the
//! panic message is printed, whichever thread panics.

use std::io::{Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::logs::restore_stderr;

/// The terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A panic happened while the TUI was up; the TUI stops drawing.
static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Give the terminal back: leave raw mode and the alternate screen, show the cursor.
/// Safe to call from any thread, any number of times (only the first call acts).
pub fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let mut out = std::io::stdout();
        let _ = execute!(out, LeaveAlternateScreen, Show);
        let _ = out.flush();
    }
}

/// Whether a panic has torn the TUI down.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Chain a hook in front of the current panic hook that restores the terminal and stderr
/// first, so the message lands on a usable screen. Installed once per process.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                PANICKED.store(true, Ordering::SeqCst);
            }
            restore_terminal();
            restore_stderr();
            previous(info);
        }));
    });
}

/// Owns the terminal while the TUI runs; restores it on drop.
pub struct TerminalGuard {
    /// The ratatui terminal drawing on stdout.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enter raw mode and the alternate screen.
    pub fn enter() -> Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode().context("the TUI needs a terminal (raw mode failed)")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = std::io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, Hide) {
            restore_terminal();
            return Err(e).context("entering the alternate screen");
        }
        match Terminal::new(CrosstermBackend::new(std::io::stdout())) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e).context("setting up the terminal")
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

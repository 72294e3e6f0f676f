//! The FFmpeg processes running now, by pid: the sampler measures them, the stop kills
//! what is left of them.

use std::sync::Mutex;

use super::process;

/// The pids of the running FFmpeg processes.
#[derive(Debug, Default)]
pub struct Processes {
    live: Mutex<Vec<u32>>,
}

impl Processes {
    /// Process `pid` started.
    pub fn add(&self, pid: u32) {
        if let Ok(mut l) = self.live.lock() {
            l.push(pid);
        }
    }

    /// Process `pid` is gone.
    pub fn remove(&self, pid: u32) {
        if let Ok(mut l) = self.live.lock() {
            l.retain(|p| *p != pid);
        }
    }

    /// Pids of the processes running now.
    pub fn pids(&self) -> Vec<u32> {
        self.live.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many run now.
    pub fn count(&self) -> u64 {
        self.live.lock().map(|l| l.len() as u64).unwrap_or(0)
    }

    /// SIGKILL every process group still running.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            process::signal_group(pid, libc::SIGKILL);
        }
    }
}

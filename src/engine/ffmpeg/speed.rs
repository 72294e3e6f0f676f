//! The mean playback speed of the running FFmpeg processes (from `-progress`), and how
//! many play slower than real time.

use std::sync::atomic::{AtomicI64, Ordering};

/// Mean speed of the running processes, kept as sums so updates are O(1).
#[derive(Debug, Default)]
pub struct SpeedGauge {
    sum_milli: AtomicI64,
    n: AtomicI64,
    below: AtomicI64,
}

impl SpeedGauge {
    /// Replace one process's contribution `old` by `new`.
    pub fn replace(&self, old: Option<f64>, new: Option<f64>) {
        let milli = |s: f64| (s * 1000.0).round() as i64;
        if let Some(o) = old {
            self.sum_milli.fetch_sub(milli(o), Ordering::Relaxed);
            self.n.fetch_sub(1, Ordering::Relaxed);
            if o < 0.9 {
                self.below.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if let Some(s) = new {
            self.sum_milli.fetch_add(milli(s), Ordering::Relaxed);
            self.n.fetch_add(1, Ordering::Relaxed);
            if s < 0.9 {
                self.below.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// (mean speed, processes below 0.9).
    pub fn read(&self) -> (f64, u64) {
        let n = self.n.load(Ordering::Relaxed);
        let mean = if n > 0 {
            self.sum_milli.load(Ordering::Relaxed) as f64 / 1000.0 / n as f64
        } else {
            0.0
        };
        (mean, self.below.load(Ordering::Relaxed).max(0) as u64)
    }
}

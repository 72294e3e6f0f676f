//! Viewer runtimes: one single-threaded tokio runtime per core for native viewers.
//!
//! A viewer is a handful of tasks — its tracks' loops, hyper's connection drivers, its
//! timers — that wake each other on every request. On the work-stealing runtime those
//! wakeups cross threads (futex wakes, stolen tasks, cold caches). So, as `oha` does, each
//! viewer lives entirely on one current-thread runtime, with one such runtime per core.
//! Side by side at 7,000 viewers on 2 cores this used 10 % less CPU than the two-worker
//! work-stealing runtime with the same segment TTFB figures. Fewer runtimes than cores
//! would be cheaper still but queue requests behind each other on a busy thread (p99 TTFB
//! 10 ms → 100 ms with one runtime in the same test): a load tester must not add latency
//! of its own, so every core gets one. The stats hub's shard for those viewers runs on the
//! same runtime, so recording an event is a local wakeup too.
//!
//! Each runtime runs on its own thread until the [`ViewerRuntimes`] is dropped; the thread
//! then drops its runtime, which cancels whatever tasks are left.

use std::io;
use std::sync::mpsc;

use std::sync::Arc;

use tokio::runtime::{Builder, Handle};
use tokio_util::sync::CancellationToken;

use crate::stats::lag::LagMonitor;

/// A set of single-threaded runtimes, each driven by its own thread.
#[derive(Debug)]
pub struct ViewerRuntimes {
    handles: Vec<Handle>,
    stop: CancellationToken,
    lag: Arc<LagMonitor>,
}

impl ViewerRuntimes {
    /// Start `count` (at least one) runtimes on threads named `viewers-<i>`.
    ///
    /// # Errors
    /// When a thread or runtime cannot be created (e.g. out of threads or file
    /// descriptors); runtimes already started are stopped again.
    pub fn start(count: usize) -> io::Result<Self> {
        let mut runtimes = Self {
            handles: Vec::new(),
            stop: CancellationToken::new(),
            lag: Arc::default(),
        };
        for i in 0..count.max(1) {
            // Built inside its thread so it is also dropped there: a runtime must not be
            // dropped from async context, which is where this is called from.
            let (tx, rx) = mpsc::sync_channel(1);
            let stop = runtimes.stop.clone();
            std::thread::Builder::new()
                .name(format!("viewers-{i}"))
                .spawn(move || {
                    let runtime = match Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(stop.cancelled());
                })?;
            let handle = rx
                .recv()
                .map_err(|_| io::Error::other("viewer runtime thread exited at start"))??;
            // Each runtime measures how late it wakes (see `stats::lag`).
            handle.spawn(Arc::clone(&runtimes.lag).probe());
            runtimes.handles.push(handle);
        }
        Ok(runtimes)
    }

    /// One runtime per available core (as the scheduler affinity and cgroup quota allow).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn per_core() -> io::Result<Self> {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// How late the runtimes wake up: the client's own queueing delay.
    pub fn lag(&self) -> Arc<LagMonitor> {
        Arc::clone(&self.lag)
    }

    /// The runtimes' handles, in order.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// The runtime for viewer `id`: viewers are spread over the runtimes by id, matching
    /// the stats hub's `id % shards` when the hub has one shard per runtime.
    pub fn for_viewer(&self, id: u64) -> &Handle {
        &self.handles[(id % self.handles.len() as u64) as usize]
    }
}

impl Drop for ViewerRuntimes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_the_viewer_threads_and_stop_with_the_set() {
        let runtimes = ViewerRuntimes::start(2).expect("runtimes");
        assert_eq!(runtimes.handles().len(), 2);
        let mut names = Vec::new();
        for id in 0..4 {
            let name = runtimes
                .for_viewer(id)
                .spawn(async { std::thread::current().name().map(str::to_string) })
                .await
                .expect("task");
            names.push(name.unwrap_or_default());
        }
        assert_eq!(names, ["viewers-0", "viewers-1", "viewers-0", "viewers-1"]);

        let forever = runtimes.for_viewer(0).spawn(std::future::pending::<()>());
        drop(runtimes);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), forever)
            .await
            .expect("the runtime's tasks end when the set is dropped");
        assert!(ended.is_err_and(|e| e.is_cancelled()));
    }

    #[tokio::test]
    async fn lag_probe_sees_a_blocked_runtime() {
        let runtimes = ViewerRuntimes::start(1).expect("runtimes");
        let lag = runtimes.lag();
        // Let the probe settle, then start a fresh window.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert!(lag.take().window_max < 0.2, "an idle runtime wakes on time");
        // Hog the runtime's only thread for 300 ms, as a saturated client would.
        runtimes
            .for_viewer(0)
            .spawn(async { std::thread::sleep(std::time::Duration::from_millis(300)) })
            .await
            .expect("task");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let seen = lag.take();
        assert!(
            (0.2..0.6).contains(&seen.window_max),
            "300 ms blocked → a probe woke ~200-300 ms late: {seen:?}"
        );
        assert!(seen.probes >= 3);
    }
}

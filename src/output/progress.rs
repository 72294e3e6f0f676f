//! The one-line progress report printed to stderr every few seconds without a TUI: a
//! subscriber to the run's snapshot feed, started by the caller like the TUI and /metrics.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::console::say;
use crate::stats::event::RequestKind;
use crate::stats::snapshot::Snapshot;
use crate::units::{bytes, clock, pct, secs};

/// How often the progress line is printed, in run time.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Slack for a tick that lands a little early (ticks are 1 s apart, not exactly).
const SLACK: Duration = Duration::from_millis(50);

/// Print the progress line (and the origin's status line, when origin metrics are on) for
/// the feed's snapshots every [`PROGRESS_EVERY`] of run time, until the feed closes. The
/// snapshots of the stop are not printed: the summary follows them.
pub fn spawn(mut feed: watch::Receiver<Option<Snapshot>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut cadence = Cadence::default();
        while feed.changed().await.is_ok() {
            let lines = match &*feed.borrow_and_update() {
                Some(s) if !s.stopping && cadence.due(s.elapsed) => Some((
                    line(s),
                    s.origin.as_ref().map(crate::output::origin::status_line),
                )),
                _ => None,
            };
            if let Some((progress, origin)) = lines {
                say!("{progress}");
                if let Some(o) = origin {
                    say!("{o}");
                }
            }
        }
    })
}

/// When the next line is due: [`PROGRESS_EVERY`] after the last one, from the run's start.
#[derive(Debug, Default)]
struct Cadence {
    last: Duration,
}

impl Cadence {
    /// Whether a snapshot at `elapsed` gets a line (and if so, counts from it).
    fn due(&mut self, elapsed: Duration) -> bool {
        let due = elapsed + SLACK >= self.last + PROGRESS_EVERY;
        if due {
            self.last = elapsed;
        }
        due
    }
}

/// `[00:00:15] viewers 10/10 | 14.0 req/s | 1.23 MB/s | seg TTFB p95 2.1ms | errors 0 (0.00%) | stalled 0`,
/// plus a `CLIENT SATURATED` warning when the viewer runtimes woke late in the last tick.
pub fn line(s: &Snapshot) -> String {
    let w = s.window(30);
    let rps: f64 = w.requests_per_second.iter().sum();
    let approx = if s.ffmpeg.as_ref().is_some_and(|f| f.requests_approximate) {
        " (approx.)"
    } else {
        ""
    };
    let saturated = s
        .client_lag
        .as_ref()
        .and_then(|l| l.live_warning())
        .map(|w| format!(" | {w}"))
        .unwrap_or_default();
    format!(
        "[{}] viewers {}/{} | {:.1} req/s{approx} | {}/s | seg TTFB p95 {} | errors {} ({}) | stalled {}{saturated}",
        clock(s.elapsed.as_secs_f64()),
        s.active,
        s.target,
        rps,
        bytes(w.bytes_per_second),
        secs(s.recent_segment_ttfb.p95),
        s.total_errors(),
        pct(w.error_rate),
        s.stalled,
    )
}

/// Requests per second of one kind over the last 30 s.
pub fn rate(s: &Snapshot, kind: RequestKind) -> f64 {
    s.window(30).requests_per_second[kind.index()]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::stats::collector::Collector;
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;
    use crate::stats::lag::LagMonitor;

    #[test]
    fn a_line_every_five_seconds_of_run_time() {
        let mut c = Cadence::default();
        let printed: Vec<u64> = (1..=16)
            .filter(|t| c.due(Duration::from_secs(*t)))
            .collect();
        assert_eq!(printed, vec![5, 10, 15]);
        // A late tick (the feed skipped one) prints, and the next counts from it.
        let mut c = Cadence::default();
        assert!(!c.due(Duration::from_millis(4_900)));
        assert!(c.due(Duration::from_millis(6_000)));
        assert!(!c.due(Duration::from_millis(10_000)));
        assert!(c.due(Duration::from_millis(10_960)), "within the slack");
    }

    #[tokio::test]
    async fn warns_while_the_client_is_saturated() {
        let hub = StatsHub::start(1, 16);
        let gauges = LiveGauges::default();
        let lag = Arc::new(LagMonitor::default());
        let mut collector = Collector::new(10, None);
        collector.set_lag_source(lag.clone());
        let calm = line(&collector.tick(&hub, &gauges, Duration::from_secs(1), false));
        assert!(!calm.contains("SATURATED"), "{calm}");
        lag.record(Duration::from_millis(300));
        let hot = line(&collector.tick(&hub, &gauges, Duration::from_secs(2), false));
        assert!(hot.contains("CLIENT SATURATED: woke 300.0ms late"), "{hot}");
    }
}

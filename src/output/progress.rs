//! The one-line progress report printed to stderr every few seconds without a TUI.

use crate::stats::event::RequestKind;
use crate::stats::snapshot::Snapshot;
use crate::units::{bytes, clock, pct, secs};

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

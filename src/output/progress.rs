//! The one-line progress report printed to stderr every few seconds without a TUI.

use crate::output::format::{bytes, clock, pct, secs};
use crate::stats::event::RequestKind;
use crate::stats::snapshot::Snapshot;

/// `[00:00:15] viewers 10/10 | 14.0 req/s | 1.23 MB/s | seg TTFB p95 2.1ms | errors 0 (0.00%) | stalled 0`
pub fn line(s: &Snapshot) -> String {
    let w = s.window(30);
    let rps: f64 = w.requests_per_second.iter().sum();
    let approx = if s.ffmpeg.as_ref().is_some_and(|f| f.requests_approximate) {
        " (approx.)"
    } else {
        ""
    };
    format!(
        "[{}] viewers {}/{} | {:.1} req/s{approx} | {}/s | seg TTFB p95 {} | errors {} ({}) | stalled {}",
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

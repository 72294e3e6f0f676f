//! The Snapshot of a test run as several shards, from what each shard's report carries:
//! its exact accumulator (merged: counts summed, histograms added, so every count and
//! percentile is what one process seeing all the shards' events would have computed) and
//! its viewer figures (summed per shard; see [`ShardFigures`] for what a sum means).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::accumulator::Accumulator;
use super::distribution::Distributions;
use super::lag::ClientLag;
use super::request_log::RequestLogCounts;
use super::snapshot::{KindSummary, Percentiles, Snapshot, WINDOWS, WindowRates};
use super::totals::Totals;

/// What one shard's report says beyond its accumulator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardFigures {
    /// The shard's run time.
    pub elapsed: Duration,
    /// The shard's share of the viewers.
    pub target: u64,
    /// Most of its viewers playing at once. Shards peak at their own ticks, so the sum is
    /// an upper bound of the whole test's peak (exact when every shard held its peak at
    /// the same time, as a steady run does).
    pub peak_active: u64,
    /// Most of its viewers stalled at once (the sum is an upper bound, as above).
    pub peak_stalled: u64,
    /// Playing when the stop began.
    pub active_at_end: u64,
    /// Stalled when the stop began.
    pub stalled_at_end: u64,
    /// Waiting for first media when the stop began.
    pub starting_at_end: u64,
    /// Waiting to restart when the stop began.
    pub failed_at_end: u64,
    /// Events offered to its stats pipeline.
    pub events_offered: u64,
    /// Events its pipeline dropped.
    pub events_dropped: u64,
    /// Body bytes per second over its last 30 s.
    pub last_30s_bytes_per_second: f64,
    /// Its `--request-log` counts (`None`: it wrote no request log).
    pub request_log: Option<RequestLogCounts>,
}

/// The merged snapshot of `shards` (figures and accumulator of each), and the merged
/// accumulator it was computed from. `client_lag` is the shards' wake-up lag histograms
/// added together (`None`: not measured). The run time is the longest shard's; the
/// whole-run figures the written reports show are filled, the live-only ones (windows
/// other than the last 30 s' bytes, recent and per-tick percentiles, per-viewer figures,
/// the origin's and FFmpeg's figures) are left empty.
pub fn snapshot(
    shards: &[(ShardFigures, &Accumulator)],
    client_lag: Option<&Histogram<u64>>,
) -> (Snapshot, Accumulator) {
    let mut acc = Accumulator::default();
    for (_, a) in shards {
        acc.merge(a);
    }
    let sum = |f: fn(&ShardFigures) -> u64| shards.iter().map(|(s, _)| f(s)).sum::<u64>();
    let elapsed = shards
        .iter()
        .map(|(s, _)| s.elapsed)
        .max()
        .unwrap_or_default();
    let last_30s: f64 = shards
        .iter()
        .map(|(s, _)| s.last_30s_bytes_per_second)
        .sum();
    let windows = WINDOWS.map(|w| {
        if w == 30 {
            WindowRates {
                seconds: 30.0,
                bytes_per_second: last_30s,
                ..WindowRates::default()
            }
        } else {
            WindowRates::default()
        }
    });
    let snap = Snapshot {
        elapsed,
        duration: None,
        target: sum(|s| s.target),
        ramped: acc.viewers_started,
        active: sum(|s| s.active_at_end),
        stalled: sum(|s| s.stalled_at_end),
        starting: sum(|s| s.starting_at_end),
        failed: sum(|s| s.failed_at_end),
        peak_active: sum(|s| s.peak_active),
        peak_stalled: sum(|s| s.peak_stalled),
        stopping: true,
        kinds: std::array::from_fn(|i| KindSummary::of(&acc.kinds[i])),
        startup: Percentiles::of(&acc.startup),
        live_latency: Percentiles::of(&acc.live_latency),
        stall_durations: Percentiles::of(&acc.stall_durations),
        windows,
        recent_segment_ttfb: Percentiles::default(),
        recent_segment_download: Percentiles::default(),
        events_offered: sum(|s| s.events_offered),
        events_dropped: sum(|s| s.events_dropped),
        totals: Totals::of(&acc),
        distributions: Arc::new(Distributions::of(&acc)),
        viewers: Arc::from(Vec::new()),
        origin: None,
        tick_ttfb: Default::default(),
        ffmpeg: None,
        client_lag: client_lag.map(ClientLag::of_run),
        runtime_tasks: None,
        heap_live_bytes: None,
        request_log: shards
            .iter()
            .filter_map(|(s, _)| s.request_log)
            .reduce(RequestLogCounts::plus),
        stream_groups: Arc::from(Vec::new()),
        sessions: None,
        link_rates: None,
    };
    (snap, acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::event::{Event, RequestDone, RequestKind};

    fn segment(ms: u64) -> Event {
        let mut r = RequestDone::new(RequestKind::Segment);
        r.status = Some(200);
        r.ttfb = Some(Duration::from_millis(ms));
        r.total = Duration::from_millis(ms + 10);
        r.bytes = 1000 + ms;
        Event::Request(r)
    }

    #[test]
    fn merged_figures_are_the_union_and_the_sums() {
        let mut a = Accumulator::default();
        let mut b = Accumulator::default();
        let mut whole = Accumulator::default();
        for ms in 1..=100 {
            let ev = segment(ms * 7);
            if ms % 4 == 0 { &mut a } else { &mut b }.record(&ev);
            whole.record(&ev);
        }
        let fa = ShardFigures {
            elapsed: Duration::from_secs(60),
            target: 5,
            peak_active: 5,
            peak_stalled: 1,
            active_at_end: 4,
            events_offered: 30,
            last_30s_bytes_per_second: 100.0,
            request_log: Some(RequestLogCounts {
                written: 40,
                dropped: 3,
                failed: 0,
            }),
            ..ShardFigures::default()
        };
        let fb = ShardFigures {
            elapsed: Duration::from_millis(60_400),
            target: 5,
            peak_active: 4,
            active_at_end: 4,
            events_dropped: 2,
            last_30s_bytes_per_second: 50.0,
            request_log: Some(RequestLogCounts {
                written: 60,
                dropped: 0,
                failed: 1,
            }),
            ..ShardFigures::default()
        };
        let mut lag = crate::stats::accumulator::duration_histogram();
        lag.record(2_000).expect("in range");
        let (s, acc) = snapshot(&[(fa, &a), (fb, &b)], Some(&lag));
        assert_eq!(acc, whole);
        let seg = s.kind(RequestKind::Segment);
        assert_eq!(seg.count, 100);
        assert_eq!(seg.bytes, whole.kind(RequestKind::Segment).bytes);
        assert_eq!(
            seg.ttfb,
            Percentiles::of(&whole.kind(RequestKind::Segment).ttfb)
        );
        assert_eq!(s.total_requests(), 100);
        assert_eq!((s.target, s.peak_active, s.peak_stalled), (10, 9, 1));
        assert_eq!((s.active, s.events_offered, s.events_dropped), (8, 30, 2));
        assert_eq!(
            s.request_log,
            Some(RequestLogCounts {
                written: 100,
                dropped: 3,
                failed: 1
            }),
            "the shards' request-log counts, summed"
        );
        assert_eq!(
            s.elapsed,
            Duration::from_millis(60_400),
            "the longest shard"
        );
        assert!((s.window(30).bytes_per_second - 150.0).abs() < 1e-9);
        let l = s.client_lag.expect("lag");
        assert_eq!((l.probes, l.run.count), (1, 1));
        assert!((l.run.p99 - 0.002).abs() < 1e-5, "{l:?}");
    }
}

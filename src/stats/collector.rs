//! Turns the shards' per-tick deltas into Snapshots: cumulative totals, trailing-window
//! rates and recent latency percentiles. The only place rates and windows are computed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::accumulator::Accumulator;
use super::distribution::Distributions;
use super::event::RequestKind;
use super::ffmpeg::FfmpegStatsSource;
use super::gauges::LiveGauges;
use super::hub::{PipelineCounters, StatsHub};
use super::snapshot::{KindSummary, Percentiles, Snapshot, WINDOWS, WindowRates, ratio};
use super::totals::Totals;
use super::viewers::ViewerTable;

/// Trailing window for the "recent" latency percentiles.
pub const RECENT_WINDOW: usize = 30;

/// Cumulative counters at one tick, for window rates.
#[derive(Debug, Clone, Copy, Default)]
struct CounterPoint {
    at: Duration,
    requests: [u64; RequestKind::COUNT],
    bytes: u64,
    segment_bytes: u64,
    errors: u64,
}

/// Coarse (2 significant figures) histogram for the per-tick latency ring.
fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap_or_else(|_| unreachable!())
}

/// Collects ticks into snapshots.
pub struct Collector {
    target: u64,
    duration: Option<Duration>,
    cumulative: Accumulator,
    interval: Accumulator,
    points: VecDeque<CounterPoint>,
    recent_ttfb: VecDeque<Histogram<u64>>,
    recent_download: VecDeque<Histogram<u64>>,
    peak_active: u64,
    peak_stalled: u64,
    viewers: Option<Arc<ViewerTable>>,
    ffmpeg: Option<Arc<dyn FfmpegStatsSource>>,
    lag: Option<Arc<super::lag::LagMonitor>>,
    runtimes: Vec<tokio::runtime::Handle>,
    request_log: Option<Arc<super::request_log::RequestLog>>,
    /// The `/metrics` grouping of a many-stream run: each stream's group, and how many.
    stream_groups: Option<(Vec<u32>, usize)>,
    /// Arrival mode's session counts (`--arrival-rate`).
    sessions: Option<Arc<super::sessions::SessionTally>>,
    link_rates: Option<Arc<super::link_rates::LinkRates>>,
}

impl Collector {
    /// A collector for a run of `target` viewers lasting `duration` (`None` = until stopped).
    pub fn new(target: u64, duration: Option<Duration>) -> Self {
        let mut points = VecDeque::new();
        points.push_back(CounterPoint::default());
        Collector {
            target,
            duration,
            cumulative: Accumulator::default(),
            interval: Accumulator::default(),
            points,
            recent_ttfb: VecDeque::new(),
            recent_download: VecDeque::new(),
            peak_active: 0,
            peak_stalled: 0,
            viewers: None,
            ffmpeg: None,
            lag: None,
            runtimes: Vec::new(),
            request_log: None,
            stream_groups: None,
            sessions: None,
            link_rates: None,
        }
    }

    /// Add up a many-stream run's per-stream figures into `/metrics` groups in every
    /// snapshot: stream `i` into group `group_of[i]`, `groups` groups.
    pub fn set_stream_groups(&mut self, group_of: Vec<u32>, groups: usize) {
        self.stream_groups = Some((group_of, groups));
    }

    /// Copy this per-viewer table into every snapshot (`-prom-client-metrics`).
    pub fn set_viewers(&mut self, table: Arc<ViewerTable>) {
        self.viewers = Some(table);
    }

    /// Read the viewer runtimes' scheduling lag from `monitor` into every snapshot.
    pub fn set_lag_source(&mut self, monitor: Arc<super::lag::LagMonitor>) {
        self.lag = Some(monitor);
    }

    /// Count the tasks alive on `runtimes` into every snapshot (`runtime_tasks`).
    pub fn set_task_source(&mut self, runtimes: Vec<tokio::runtime::Handle>) {
        self.runtimes = runtimes;
    }

    /// Read FFmpeg engine figures from `source` into every snapshot.
    pub fn set_ffmpeg_source(&mut self, source: Arc<dyn FfmpegStatsSource>) {
        self.ffmpeg = Some(source);
    }

    /// Read arrival mode's session counts from `tally` into every snapshot.
    pub fn set_sessions(&mut self, tally: Arc<super::sessions::SessionTally>) {
        self.sessions = Some(tally);
    }

    /// Read `--viewer-bandwidth`'s link rates into every snapshot.
    pub fn set_link_rates(&mut self, rates: Arc<super::link_rates::LinkRates>) {
        self.link_rates = Some(rates);
    }

    /// Read `--request-log`'s counts into every snapshot.
    pub fn set_request_log(&mut self, log: Arc<super::request_log::RequestLog>) {
        self.request_log = Some(log);
    }

    /// The run's cumulative counts and histograms as of the last tick.
    pub fn cumulative(&self) -> &Accumulator {
        &self.cumulative
    }

    /// Fold in what the hub gathered since the last tick and produce a snapshot as of
    /// `elapsed` since the run started.
    pub fn tick(
        &mut self,
        hub: &StatsHub,
        gauges: &LiveGauges,
        elapsed: Duration,
        stopping: bool,
    ) -> Snapshot {
        self.interval.reset();
        hub.drain_into(&mut self.interval);
        self.fold_interval(elapsed);
        self.snapshot(gauges, &hub.counters(), elapsed, stopping)
    }

    fn fold_interval(&mut self, elapsed: Duration) {
        self.cumulative.merge(&self.interval);

        let c = &self.cumulative;
        let seg = c.kind(RequestKind::Segment).bytes + c.kind(RequestKind::Part).bytes;
        let point = CounterPoint {
            at: elapsed,
            requests: std::array::from_fn(|i| c.kinds[i].count),
            bytes: c.total_bytes(),
            segment_bytes: seg,
            errors: c.total_errors(),
        };
        self.points.push_back(point);
        // Keep enough points to reach back over the longest window.
        let longest = Duration::from_secs(*WINDOWS.last().unwrap_or(&300));
        while self.points.len() > 2 && elapsed.saturating_sub(self.points[1].at) >= longest {
            self.points.pop_front();
        }

        let seg_kind = self.interval.kind(RequestKind::Segment);
        let mut ttfb = coarse_histogram();
        let _ = ttfb.add(&seg_kind.ttfb);
        let mut download = coarse_histogram();
        let _ = download.add(&seg_kind.total);
        self.recent_ttfb.push_back(ttfb);
        self.recent_download.push_back(download);
        while self.recent_ttfb.len() > RECENT_WINDOW {
            self.recent_ttfb.pop_front();
            self.recent_download.pop_front();
        }
    }

    fn window(&self, seconds: u64) -> WindowRates {
        let Some(cur) = self.points.back().copied() else {
            return WindowRates::default();
        };
        let want = Duration::from_secs(seconds);
        // The newest point at least `want` old, else the oldest we have.
        let old = self
            .points
            .iter()
            .rev()
            .find(|p| cur.at.saturating_sub(p.at) >= want)
            .or_else(|| self.points.front())
            .copied()
            .unwrap_or_default();
        let dt = cur.at.saturating_sub(old.at).as_secs_f64();
        if dt <= 0.0 {
            return WindowRates::default();
        }
        let requests: [u64; RequestKind::COUNT] =
            std::array::from_fn(|i| cur.requests[i] - old.requests[i]);
        let n_requests: u64 = requests.iter().sum();
        let errors = cur.errors - old.errors;
        WindowRates {
            seconds: dt,
            requests_per_second: std::array::from_fn(|i| requests[i] as f64 / dt),
            bytes_per_second: (cur.bytes - old.bytes) as f64 / dt,
            segment_bytes_per_second: (cur.segment_bytes - old.segment_bytes) as f64 / dt,
            errors_per_second: errors as f64 / dt,
            error_rate: ratio(errors, n_requests),
        }
    }

    fn recent(ring: &VecDeque<Histogram<u64>>) -> Percentiles {
        let mut h = coarse_histogram();
        for r in ring {
            let _ = h.add(r);
        }
        Percentiles::of(&h)
    }

    fn snapshot(
        &mut self,
        gauges: &LiveGauges,
        counters: &PipelineCounters,
        elapsed: Duration,
        stopping: bool,
    ) -> Snapshot {
        let active = gauges.active();
        self.peak_active = self.peak_active.max(active);
        let stalled = gauges.stalled();
        self.peak_stalled = self.peak_stalled.max(stalled);
        let c = &self.cumulative;
        let kinds = std::array::from_fn(|i| KindSummary::of(&c.kinds[i]));
        Snapshot {
            elapsed,
            duration: self.duration,
            target: self.target,
            ramped: gauges.ramped(),
            active,
            stalled,
            starting: gauges.starting(),
            failed: gauges.failed(),
            peak_active: self.peak_active,
            peak_stalled: self.peak_stalled,
            stopping,
            kinds,
            startup: Percentiles::of(&c.startup),
            live_latency: Percentiles::of(&c.live_latency),
            stall_durations: Percentiles::of(&c.stall_durations),
            windows: WINDOWS.map(|w| self.window(w)),
            recent_segment_ttfb: Self::recent(&self.recent_ttfb),
            recent_segment_download: Self::recent(&self.recent_download),
            events_offered: counters.offered(),
            events_dropped: counters.dropped(),
            totals: Totals::of(c),
            distributions: Arc::new(Distributions::of(c)),
            viewers: self
                .viewers
                .as_ref()
                .map(|t| Arc::from(t.figures()))
                .unwrap_or_else(|| Arc::from(Vec::new())),
            origin: None,
            tick_ttfb: std::array::from_fn(|i| Percentiles::of(&self.interval.kinds[i].ttfb)),
            ffmpeg: self.ffmpeg.as_ref().map(|f| f.ffmpeg_stats()),
            client_lag: self.lag.as_ref().map(|l| l.take()),
            runtime_tasks: (!self.runtimes.is_empty()).then(|| {
                self.runtimes
                    .iter()
                    .map(|h| h.metrics().num_alive_tasks() as u64)
                    .sum()
            }),
            heap_live_bytes: crate::heap::live_bytes(),
            request_log: self.request_log.as_ref().map(|l| l.counts()),
            sessions: self.sessions.as_ref().map(|t| {
                if stopping {
                    t.counts_at_end()
                } else {
                    t.counts()
                }
            }),
            link_rates: self.link_rates.as_ref().map(|l| l.buckets()),
            stream_groups: match &self.stream_groups {
                Some((group_of, groups)) => Arc::from(c.streams.grouped(group_of, *groups)),
                None => Arc::from(Vec::new()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::event::{ErrorClass, Event, RequestDone};

    fn seg(ms: u64, err: bool) -> Event {
        Event::Request(RequestDone {
            kind: RequestKind::Segment,
            status: Some(if err { 503 } else { 200 }),
            ttfb: Some(Duration::from_millis(ms)),
            total: Duration::from_millis(ms + 5),
            bytes: 1000,
            streamed: 0,
            error: err.then_some(ErrorClass::Http5xx),
            redirects: 0,
            retry: false,
            aborted: false,
            protocol: None,
            connections: [0; 2],
            hold: None,
            lateness: None,
            stream: None,
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn windows_rates_and_recent_percentiles() {
        let hub = StatsHub::start(1, 100_000);
        let gauges = LiveGauges::default();
        let mut col = Collector::new(10, None);
        let sink = hub.sink(0);
        // 40 ticks of 1 s: 10 segments per tick at 100 ms, one error per tick.
        let mut snap = None;
        for t in 1..=40u64 {
            for i in 0..10 {
                sink.send(seg(100, i == 0));
            }
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            snap = Some(col.tick(&hub, &gauges, Duration::from_secs(t), false));
        }
        let s = snap.unwrap_or_else(|| unreachable!());
        assert_eq!(s.kind(RequestKind::Segment).count, 400);
        let w30 = s.window(30);
        assert!((w30.requests_per_second[RequestKind::Segment.index()] - 10.0).abs() < 1e-9);
        assert!((w30.bytes_per_second - 10_000.0).abs() < 1e-6);
        assert!((w30.error_rate - 0.1).abs() < 1e-9);
        assert!(
            (s.window(300).seconds - 40.0).abs() < 1e-9,
            "short run uses what it has"
        );
        assert!((s.recent_segment_ttfb.p95 - 0.1).abs() < 0.001);
        assert_eq!(s.recent_segment_ttfb.count, 300);
        assert!((s.error_rate() - 0.1).abs() < 1e-9);
        let tick = &s.tick_ttfb[RequestKind::Segment.index()];
        assert_eq!(tick.count, 10, "the last tick's requests only");
        assert!((tick.p95 - 0.1).abs() < 0.001);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runtime_tasks_count_the_live_tasks() {
        let hub = StatsHub::start(1, 1000);
        let gauges = LiveGauges::default();
        let mut col = Collector::new(1, None);
        let tick = |col: &mut Collector| col.tick(&hub, &gauges, Duration::ZERO, false);
        assert_eq!(tick(&mut col).runtime_tasks, None, "no runtimes given");
        col.set_task_source(vec![tokio::runtime::Handle::current()]);
        let before = tick(&mut col).runtime_tasks.expect("a count");
        let (tx, rx) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = (0..25)
            .map(|_| {
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let _ = rx.wait_for(|go| *go).await;
                })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(tick(&mut col).runtime_tasks, Some(before + 25));
        tx.send_replace(true);
        for t in tasks {
            t.await.expect("task ends");
        }
        assert_eq!(tick(&mut col).runtime_tasks, Some(before));
    }
}

//! Cost of one `/metrics` scrape at the largest label sets: per-viewer series for
//! `MAX_VIEWER_SERIES` viewers, every request kind and error class, 40 HTTP status codes,
//! FFmpeg and origin families. Times `metrics::render::render` (Snapshot → text, what a
//! scrape does after cloning the snapshot) and prints the median, min and max of the
//! rounds. Not a test: it asserts nothing about time.
//!
//!   cargo bench --bench metrics_scrape -- [ROUNDS] [--dump FILE]
//!
//! `--dump FILE` also writes the exposition, so two builds can be diffed
//! (scripts/bench-metrics.sh runs this at two revisions side by side).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hls_swarm::metrics::Info;
use hls_swarm::metrics::render::render;
use hls_swarm::stats::collector::Collector;
use hls_swarm::stats::event::{
    ErrorClass, Event, LifecycleEvent, PlaybackEvent, RequestDone, RequestKind,
};
use hls_swarm::stats::gauges::LiveGauges;
use hls_swarm::stats::hub::StatsHub;
use hls_swarm::stats::snapshot::Snapshot;
use hls_swarm::stats::viewers::{MAX_VIEWER_SERIES, ViewerTable};

fn request(kind: RequestKind, ms: u64, status: u16) -> Event {
    Event::Request(RequestDone {
        kind,
        status: Some(status),
        ttfb: Some(Duration::from_millis(ms)),
        total: Duration::from_millis(ms * 2 + 1),
        bytes: 1000 + ms,
        streamed: 0,
        error: ErrorClass::from_status(status),
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

async fn snapshot() -> Snapshot {
    let n = MAX_VIEWER_SERIES;
    let table = Arc::new(ViewerTable::new(0, n));
    let mut hub = StatsHub::start(2, 1 << 20);
    let mut col = Collector::new(n, Some(Duration::from_secs(600)));
    col.set_viewers(table.clone());
    for id in 0..n {
        let sink = hub.sink(id).for_viewer(table.cell(id));
        sink.send(Event::Lifecycle(LifecycleEvent::Started));
        sink.send(Event::Playback(PlaybackEvent::Started {
            startup: Duration::from_millis(300 + id),
        }));
        sink.send(Event::Playback(PlaybackEvent::LiveLatency {
            latency: Duration::from_millis(6000 + id),
        }));
        for (i, kind) in RequestKind::ALL.into_iter().enumerate() {
            let ms = (id * 7 + i as u64 * 13) % 3000 + 1;
            // 40 distinct error statuses across the run, the rest 200.
            let status = if id % 25 == 0 {
                400 + (id / 25) as u16
            } else {
                200
            };
            sink.send(request(kind, ms, status));
        }
    }
    hub.close(Duration::from_secs(5)).await;
    let mut s = col.tick(&hub, &LiveGauges::default(), Duration::from_secs(60), false);
    s.ffmpeg = Some(Default::default());
    s.origin = Some(Default::default());
    s.runtime_tasks = Some(12_345);
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 200usize;
    let mut dump = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dump" => dump = it.next().cloned(),
            "--bench" => {}
            n => rounds = n.parse().unwrap_or(rounds),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let s = rt.block_on(snapshot());
    let info = Info {
        version: "0.1.0".into(),
        engine: "native".into(),
        stream: "http://127.0.0.1:17080/master.m3u8".into(),
        run_id: "0123456789abcdef".into(),
        shard: 0,
        shards: 1,
        stream_groups: Vec::new(),
    };
    let text = render(&s, &info);
    if let Some(path) = dump {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let mut times = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let text = render(&s, &info);
        times.push(t.elapsed());
        bytes = text.len();
    }
    times.sort();
    let lines = text.lines().filter(|l| !l.starts_with('#')).count();
    println!(
        "metrics_scrape: {lines} samples, {bytes} bytes, {rounds} rounds: median {:.3} ms, min {:.3} ms, max {:.3} ms",
        times[rounds / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[rounds - 1].as_secs_f64() * 1e3,
    );
}

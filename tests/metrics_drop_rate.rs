//! `hls_swarm_stats_drop_rate` moves when the stats pipeline really drops events: a hub
//! with a 4-event channel on a current-thread runtime (its shard task cannot run while we
//! send) loses 6 of a burst of 10 events, and the endpoint's drop rate moves from 0 to
//! 0.5 (6 of the 12 offered) with the matching counters.

mod metrics_support;

use std::net::SocketAddr;
use std::time::Duration;

use hls_swarm::metrics::text::parse;
use hls_swarm::metrics::{Info, MetricsServer};
use hls_swarm::stats::collector::Collector;
use hls_swarm::stats::event::{Event, PlaybackEvent};
use hls_swarm::stats::gauges::LiveGauges;
use hls_swarm::stats::hub::StatsHub;
use metrics_support::{get, must};
use tokio::sync::watch;

async fn scrape(addr: SocketAddr) -> Vec<hls_swarm::metrics::text::Sample> {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    parse(&body).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "current_thread")]
async fn forced_drops_move_the_drop_rate() {
    let (tx, rx) = watch::channel(None);
    let info = Info {
        version: "test".into(),
        engine: "native".into(),
        stream: "builtin".into(),
        run_id: "test".into(),
        shard: 0,
        shards: 1,
        stream_groups: Vec::new(),
    };
    let server = MetricsServer::start("127.0.0.1:0".parse().expect("addr"), rx, info)
        .await
        .expect("bind");
    let mut hub = StatsHub::start(1, 4);
    let gauges = LiveGauges::default();
    let mut collector = Collector::new(1, None);
    let sink = hub.sink(0);

    // Two events with room to spare: nothing dropped.
    for _ in 0..2 {
        sink.send(Event::Playback(PlaybackEvent::SegmentSkipped));
    }
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    tx.send_replace(Some(collector.tick(
        &hub,
        &gauges,
        Duration::from_secs(1),
        false,
    )));
    let m = scrape(server.local_addr()).await;
    assert_eq!(must(&m, "hls_swarm_stats_drop_rate", &[]), 0.0);
    assert_eq!(must(&m, "hls_swarm_stats_events_total", &[]), 2.0);

    // A burst of 10 with no chance for the shard to drain: 4 fit, 6 are dropped.
    for _ in 0..10 {
        sink.send(Event::Playback(PlaybackEvent::SegmentSkipped));
    }
    drop(sink);
    hub.close(Duration::from_secs(1)).await;
    let snap = collector.tick(&hub, &gauges, Duration::from_secs(2), false);
    assert_eq!((snap.events_offered, snap.events_dropped), (12, 6));
    tx.send_replace(Some(snap));
    let m = scrape(server.local_addr()).await;
    assert_eq!(must(&m, "hls_swarm_stats_drop_rate", &[]), 0.5);
    assert_eq!(must(&m, "hls_swarm_stats_events_total", &[]), 12.0);
    assert_eq!(must(&m, "hls_swarm_stats_events_dropped_total", &[]), 6.0);
    // What did arrive is counted, what was dropped is not.
    assert_eq!(must(&m, "hls_swarm_segments_skipped_total", &[]), 6.0);
    server.shutdown().await;
}

//! Truth tests for HTTP/2 in the native client (`--http2`), against the built-in origin
//! (HTTP/1.1 and h2c with prior knowledge): per-kind counts and bytes equal the access
//! log, every logged request has the protocol the client reports, and the client's
//! connection count equals the connections the origin accepted.

mod common;

use std::time::Duration;

use common::{Lab, LogLine, assert_exact_counts_and_bytes, config, run};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::event::{ErrorClass, Protocol, RequestKind};
use hls_swarm::swarm::RunReport;

/// A run of `viewers` against `lab` for `secs` with `extra` flags.
async fn swarm(lab: &Lab, viewers: u32, secs: u32, extra: &[&str]) -> RunReport {
    let url = lab.url();
    let viewers = viewers.to_string();
    let duration = format!("{secs}s");
    let mut args = vec![
        url.as_str(),
        "-clients",
        viewers.as_str(),
        "-ramp-rate",
        "50",
        "-variant",
        "lowest",
        "-duration",
        duration.as_str(),
    ];
    args.extend_from_slice(extra);
    run(config(&args)).await
}

fn protos(log: &[LogLine]) -> std::collections::BTreeMap<&str, u64> {
    let mut m = std::collections::BTreeMap::new();
    for l in log {
        *m.entry(l.proto.as_str()).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_counts_bytes_protocol_and_connections_equal_the_origin() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let report = swarm(&lab, 20, 8, &["--http2", "on"]).await;
    let accepted = lab.origin.connections_accepted();
    let log = lab.finish().await;
    let s = &report.snapshot;

    assert_exact_counts_and_bytes(s, &log, "swarm over h2c");
    assert_eq!(s.total_errors(), 0, "errors: {:?}", s.errors_by_class());
    assert!(log.len() > 100, "too few requests to test: {}", log.len());
    assert_eq!(
        protos(&log).get("HTTP/2").copied(),
        Some(log.len() as u64),
        "every logged request is HTTP/2: {:?}",
        protos(&log)
    );
    let t = &s.totals;
    assert_eq!(t.by_protocol[Protocol::Http2.index()], log.len() as u64);
    assert_eq!(t.by_protocol[Protocol::Http1.index()], 0);
    // One multiplexed connection per viewer plus the run's stream probe (its master
    // playlist request is in the log too), no reconnects on a healthy run.
    assert_eq!(
        (t.connections, accepted),
        ([0, 21], 21),
        "client's connections by protocol, connections the origin accepted; errors {:?}",
        s.errors_by_class()
    );
    assert_eq!(t.reconnects, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_and_plain_text_auto_stay_http1() {
    for mode in ["off", "auto"] {
        let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
        let report = swarm(&lab, 5, 5, &["--http2", mode]).await;
        let accepted = lab.origin.connections_accepted();
        let log = lab.finish().await;
        let s = &report.snapshot;
        assert_exact_counts_and_bytes(s, &log, mode);
        assert_eq!(
            protos(&log).get("HTTP/1.1").copied(),
            Some(log.len() as u64),
            "--http2 {mode}: {:?}",
            protos(&log)
        );
        let t = &s.totals;
        assert_eq!(t.by_protocol, [log.len() as u64, 0], "--http2 {mode}");
        assert_eq!(t.connections[Protocol::Http2.index()], 0);
        assert_eq!(t.connections[Protocol::Http1.index()], accepted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_h2_connections_count_as_resets_and_viewers_reconnect() {
    // The origin's reset fault aborts the TCP connection mid-body: over h2c that kills
    // every stream of the viewer's connection at once.
    let mut faults = FaultConfig::default();
    faults.reset.segment = 0.1;
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let report = swarm(&lab, 10, 10, &["--http2", "on"]).await;
    let accepted = lab.origin.connections_accepted();
    let log = lab.finish().await;
    let s = &report.snapshot;
    let t = &s.totals;

    let killed = log
        .iter()
        .filter(|l| l.fault.as_deref().is_some_and(|f| f.contains("reset")))
        .count() as u64;
    assert!(killed >= 3, "too few killed connections to test: {killed}");
    assert!(log.iter().all(|l| l.proto == "HTTP/2"));
    assert!(
        t.errors_of(ErrorClass::Reset) >= killed,
        "resets {} for {killed} killed connections: {:?}",
        t.errors_of(ErrorClass::Reset),
        s.errors_by_class()
    );
    assert_eq!(
        t.errors_of(ErrorClass::Truncated),
        0,
        "an h2 stream cut by a dead connection is a reset"
    );
    // Every connection the origin accepted was counted once, and each kill was followed
    // by a new connection.
    assert_eq!(t.connections, [0, accepted]);
    assert!(
        accepted >= 10 + killed,
        "accepted {accepted}, killed {killed}"
    );
    assert!(s.kind(RequestKind::Segment).count > 0);
}

//! Memory stays flat over many sessions (`--arrival-rate`): a churn run of thousands of
//! short sessions against the built-in origin (loopback), with the metered allocator
//! installed so every tick's snapshot carries the bytes the process holds. The heap late
//! in the run is the heap early in it, within a bound far below what keeping anything per
//! ended session (a task, a table row, a status) would add.

mod common;

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use common::Lab;
use hls_swarm::heap::MeteredAlloc;
use hls_swarm::origin::FaultConfig;
use hls_swarm::swarm::{self, RunHooks};

#[global_allocator]
static GLOBAL: MeteredAlloc<System> = MeteredAlloc::new(System);

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heap_is_flat_over_thousands_of_sessions() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let cfg = common::config(&[
        &url,
        "-clients",
        "400",
        "--arrival-rate",
        "150",
        "--session-duration",
        "fixed:300ms",
        "-variant",
        "lowest",
        "-duration",
        "41s",
        "-metrics",
        "off",
    ]);
    let (tx, mut rx) = tokio::sync::watch::channel(None);
    let hooks = RunHooks {
        snapshots: Some(tx),
        ..RunHooks::default()
    };
    let run = tokio::spawn(swarm::run(Arc::new(cfg), hooks));
    // (seconds, heap bytes, sessions started) of every tick.
    let mut ticks = Vec::new();
    while rx.changed().await.is_ok() {
        let Some(snap) = rx.borrow_and_update().clone() else {
            continue;
        };
        if snap.stopping {
            break;
        }
        let started = snap.sessions.map_or(0, |s| s.started);
        ticks.push((
            snap.elapsed.as_secs(),
            snap.heap_live_bytes.expect("metered"),
            started,
        ));
    }
    let report = run.await.expect("run task").expect("run");
    let _ = lab.finish().await;
    let window = |from: u64, to: u64| -> (u64, u64) {
        let mut heap: Vec<u64> = ticks
            .iter()
            .filter(|t| (from..=to).contains(&t.0))
            .map(|t| t.1)
            .collect();
        let started = ticks
            .iter()
            .filter(|t| t.0 <= to)
            .map(|t| t.2)
            .max()
            .unwrap_or(0);
        (median(&mut heap), started)
    };
    // From 30 s on the collector's own trailing windows (30 s of per-tick histograms)
    // are full, so what still grows is what the sessions leave behind.
    let (early, started_early) = window(31, 35);
    let (late, started_late) = window(36, 40);
    let sessions = started_late - started_early;
    let total = report.sessions.as_ref().map_or(0, |s| s.counts.started);
    let growth = late as i64 - early as i64;
    eprintln!(
        "heap: {early} B at 31-35 s, {late} B at 36-40 s ({growth:+} B) over {sessions} sessions; {total} sessions in all"
    );
    assert!(
        sessions >= 700,
        "churn: only {sessions} sessions in the window"
    );
    // Keeping as little as 512 B per ended session would add sessions × 512 B.
    assert!(
        growth < (sessions as i64) * 512,
        "heap grew {growth} B over {sessions} sessions"
    );
}

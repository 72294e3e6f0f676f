//! Truth tests of `-variant abr` against the built-in origin (ladder 200k / 800k / 2M,
//! 1 s segments) and its access log, which names the rung (`/v0/`, `/v1/`, `/v2/`) and
//! the viewer (`…/client-N` user agent) of every request (127.0.0.1 only):
//!
//! * behind a 1 Mbit/s link, viewers that start on the top rung step down and none
//!   settles above the rung that fits (800k: 0.95 × 1M ≥ 800k, 2M does not fit);
//! * with a body-rate fault switched on at the origin through its fault API, viewers
//!   that climbed to the top step down, and after it is lifted they come back up;
//! * in both, the run's request counts and bytes equal the access log, and the report's
//!   switch and rung figures agree with the rungs the log shows.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Lab, LogLine, assert_exact_counts_and_bytes, config, fault_api, run};
use hls_swarm::origin::{FaultConfig, OriginConfig};

/// (viewer id, rung, arrival) of every segment request in the log, by viewer.
fn segments_by_viewer(log: &[LogLine]) -> BTreeMap<u64, Vec<(usize, f64)>> {
    let mut m: BTreeMap<u64, Vec<(usize, f64)>> = BTreeMap::new();
    for l in log.iter().filter(|l| l.kind == "segment") {
        let Some(id) = l.ua.rsplit("client-").next().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let rung = l
            .path
            .strip_prefix("/v")
            .and_then(|p| p.split('/').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("a rung in {}", l.path));
        m.entry(id).or_default().push((rung, l.ts));
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    m
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Rung switches a viewer's sequence of segment rungs shows: (up, down).
fn switches_in(rungs: &[(usize, f64)]) -> (u64, u64) {
    let mut up_down = (0, 0);
    for w in rungs.windows(2) {
        if w[1].0 > w[0].0 {
            up_down.0 += 1;
        } else if w[1].0 < w[0].0 {
            up_down.1 += 1;
        }
    }
    up_down
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_1m_link_no_viewer_settles_above_the_rung_that_fits() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let began = now_unix();
    let cfg = config(&[
        &url,
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-ramp-jitter",
        "0",
        "-variant",
        "abr",
        "--abr-start-rung",
        "highest",
        "--viewer-bandwidth",
        "1M",
        "-duration",
        "16s",
        "--metrics",
        "off",
        "--seed",
        "3",
    ]);
    let info = hls_swarm::metrics::render::Info::new(&cfg);
    let report = run(cfg).await;
    let log = lab.finish().await;
    assert_exact_counts_and_bytes(&report.snapshot, &log, "abr run");

    let by_viewer = segments_by_viewer(&log);
    assert_eq!(by_viewer.len(), 3, "three viewers loaded segments");
    let settled_from = began + 8.0;
    let (mut up, mut down) = (0, 0);
    for (id, segs) in &by_viewer {
        let rungs: Vec<usize> = segs.iter().map(|s| s.0).collect();
        eprintln!("viewer {id} segment rungs: {rungs:?}");
        assert_eq!(segs[0].0, 2, "viewer {id} starts on the top rung: {segs:?}");
        let late: Vec<usize> = segs
            .iter()
            .filter(|s| s.1 >= settled_from)
            .map(|s| s.0)
            .collect();
        assert!(late.len() >= 4, "viewer {id} kept loading: {segs:?}");
        assert!(
            late.iter().all(|&r| r <= 1),
            "viewer {id} settled above 800k behind 1 Mbit/s: {segs:?}"
        );
        let (u, d) = switches_in(segs);
        up += u;
        down += d;
    }
    // The report counts the switches the log shows (a switch decided just before the
    // stop may not have loaded its segment: at most one per viewer more).
    let abr = &report.snapshot.totals.abr;
    eprintln!("{abr:?}");
    assert!(down >= 3, "each viewer stepped down at least once");
    assert!(
        abr.switches_down >= down && abr.switches_down <= down + 3,
        "report {} down vs log {down}",
        abr.switches_down
    );
    assert!(
        abr.switches_up >= up && abr.switches_up <= up + 3,
        "report {} up vs log {up}",
        abr.switches_up
    );
    // Time played at the top rung is at most the segments loaded from it.
    let top_loaded = by_viewer.values().flatten().filter(|s| s.0 == 2).count() as f64;
    assert!(abr.rung_seconds.len() >= 2, "{:?}", abr.rung_seconds);
    assert!(
        abr.rung_seconds.get(2).copied().unwrap_or(0.0) <= top_loaded + 1e-6,
        "{:?} vs {top_loaded} top segments",
        abr.rung_seconds
    );
    assert!(abr.rung_seconds[1] > 0.0, "{:?}", abr.rung_seconds);
    let m = &abr.mean_bitrate_per_viewer;
    assert_eq!(m.count, 3, "one mean per viewer");

    // /metrics carries the same figures.
    let text = hls_swarm::metrics::render::render(&report.snapshot, &info);
    let line = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
    };
    assert_eq!(
        line("hls_swarm_abr_switches_total{direction=\"down\"}"),
        abr.switches_down as f64
    );
    assert_eq!(
        line("hls_swarm_abr_switches_total{direction=\"up\"}"),
        abr.switches_up as f64
    );
    assert_eq!(line("hls_swarm_abr_viewers_total"), 3.0);
    let r1 = line("hls_swarm_abr_rung_seconds_total{rung=\"1\"}");
    assert!((r1 - abr.rung_seconds[1]).abs() < 1e-6, "{r1}");

    // The summary's bitrate line and the HTML report's card.
    let slo = hls_swarm::slo::evaluate(&config(&["-duration", "1s"]).slo, &report.snapshot);
    let summary = hls_swarm::output::summary::render(&report, &slo);
    let bitrate = summary
        .lines()
        .find(|l| l.trim_start().starts_with("Bitrate (ABR):"))
        .unwrap_or_else(|| panic!("no bitrate line in\n{summary}"));
    eprintln!("{bitrate}");
    assert!(
        bitrate.contains(&format!(
            "{} switches up, {} down",
            abr.switches_up, abr.switches_down
        )),
        "{bitrate}"
    );
    let html = hls_swarm::output::html::render(&report, &slo);
    assert!(html.contains("Adaptive bitrate") && html.contains("Viewer links"));
    assert!(
        m.max <= 2_000_000.0 * 1.001 && m.min >= 200_000.0 * 0.999,
        "{m:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_fault_steps_viewers_down_and_lifting_it_brings_them_back_up() {
    let lab = Lab::start_with(OriginConfig {
        segment_duration: Duration::from_secs(1),
        fault_api: true,
        ..OriginConfig::default()
    })
    .await;
    let url = lab.url();
    let addr = lab.origin.local_addr();
    // Each viewer behind 6 Mbit/s: the top rung (2M) fits. Short EWMA half-lives (hls.js
    // abrEwmaFastLive/SlowLive) so the climb back takes seconds, not minutes.
    let cfg = config(&[
        &url,
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-ramp-jitter",
        "0",
        "-variant",
        "abr",
        "--viewer-bandwidth",
        "6M",
        "--abr-ewma",
        "0.5,1",
        "-duration",
        "40s",
        "--metrics",
        "off",
        "--seed",
        "4",
    ]);
    let swarm = tokio::spawn(run(cfg));
    tokio::time::sleep(Duration::from_secs(9)).await;
    // 40 kB/s = 320 kbit/s for every segment body: only the lowest rung fits.
    let fault_on = now_unix();
    assert_eq!(fault_api(addr, "PUT", "fault-body-rate=40000\n").await, 200);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(fault_api(addr, "DELETE", "").await, 200);
    let fault_off = now_unix();
    let report = swarm.await.expect("the swarm task");
    let log: Vec<LogLine> = lab
        .finish()
        .await
        .into_iter()
        .filter(|l| !l.path.starts_with("/control/"))
        .collect();
    assert_exact_counts_and_bytes(&report.snapshot, &log, "abr run under a fault");

    let by_viewer = segments_by_viewer(&log);
    assert_eq!(by_viewer.len(), 3, "three viewers loaded segments");
    for (id, segs) in &by_viewer {
        let phases: Vec<String> = segs
            .iter()
            .map(|s| {
                let at = if s.1 < fault_on {
                    "pre"
                } else if s.1 < fault_off {
                    "FAULT"
                } else {
                    "post"
                };
                format!("{}:{}", at, s.0)
            })
            .collect();
        eprintln!("viewer {id} segment rungs: {}", phases.join(" "));
        let before = segs.iter().filter(|s| s.1 < fault_on);
        assert!(
            before.clone().any(|s| s.0 == 2),
            "viewer {id} climbed to the top before the fault: {segs:?}"
        );
        // A segment request that arrived before the fault may still download under it.
        let during: Vec<usize> = segs
            .iter()
            .filter(|s| s.1 > fault_on + 0.5 && s.1 < fault_off)
            .map(|s| s.0)
            .collect();
        let low = during.iter().copied().min();
        assert!(
            low.is_some_and(|r| r < 2),
            "viewer {id} stepped down under the fault: {segs:?}"
        );
        let after: Vec<usize> = segs
            .iter()
            .filter(|s| s.1 > fault_off)
            .map(|s| s.0)
            .collect();
        let low = low.unwrap_or(0);
        assert!(
            after.iter().any(|&r| r > low),
            "viewer {id} came back up above rung {low} after the fault: {segs:?} (lifted at {fault_off})"
        );
    }
    let abr = &report.snapshot.totals.abr;
    eprintln!("{abr:?}");
    assert!(abr.switches_down >= 3, "{abr:?}");
    assert!(
        abr.switches_up >= 6,
        "up before and after the fault: {abr:?}"
    );
}

#[test]
fn ffmpeg_and_ll_hls_on_refuse_abr() {
    use hls_swarm::config::{Config, cli};
    let parse = |args: &[&str]| {
        let mut v = vec!["hls-swarm".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        let c = cli::parse_from(v).expect("cli parses");
        Config::from_args(&c.run)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = parse(&[
        "http://127.0.0.1:1/m.m3u8",
        "-engine",
        "ffmpeg",
        "-variant",
        "abr",
    ]);
    assert!(e.contains("-variant abr: FFmpeg does not adapt"), "{e}");
    let e = parse(&[
        "http://127.0.0.1:1/m.m3u8",
        "-variant",
        "abr",
        "--ll-hls",
        "on",
    ]);
    assert!(e.contains("-variant abr --ll-hls on"), "{e}");
    let e = parse(&["http://127.0.0.1:1/m.m3u8", "--abr-start-rung", "top"]);
    assert!(e.contains("--abr-start-rung"), "{e}");
    let e = parse(&["http://127.0.0.1:1/m.m3u8", "--abr-ewma", "3"]);
    assert!(e.contains("--abr-ewma"), "{e}");
}

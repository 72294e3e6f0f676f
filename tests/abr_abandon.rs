//! Truth tests of hls.js's emergency abandon rule in `-variant abr` viewers, against the
//! built-in origin (127.0.0.1 only) with a ladder of 200k / 800k / 8M and 1 s segments,
//! so that a top-rung segment is 1 MB.
//!
//! The collapse: viewers start on the top rung (localhost is fast: they stay there, with
//! the live buffer of about 2–3 s), then the origin's fault API paces every segment body
//! at 200 kB/s. A top-rung download checked at 0.6 s (the first 100 ms tick past half
//! the fragment) has 120 kB of 1 MB: the rest needs (1 MB − 120 kB) / 200 kB/s ≈ 4.4 s,
//! more than the buffer holds; the 800k rung's segment at the measured 1.6 Mbit/s needs
//! 0.5 s (+ TTFB and playlist estimates, milliseconds here), less than the buffer and
//! than the 1 s fragment; 4.4 s > 2 × 0.5 s, so the rule aborts at once and reloads the
//! segment from the lowest switch. Without the fault nothing is abandoned.
//!
//! Both runs check that each kind's requests equal the access log and that every request
//! the viewers report matches the origin's line for it: equal bytes when it completed,
//! and for one the viewer cut off (the origin logs it incomplete, with the bytes it
//! handed to the connection) at most those bytes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::request_log::{self as reqlog, ReqLine};
use common::{Lab, LogLine, assert_exact_counts, config, fault_api, run};
use hls_swarm::origin::OriginConfig;
use hls_swarm::stats::event::RequestKind;

/// The viewer id of an access-log line (`…/client-N` user agent; `None`: the probe).
fn viewer_of(l: &LogLine) -> Option<u64> {
    l.ua.rsplit_once("/client-")
        .and_then(|(_, n)| n.parse().ok())
}

/// (rung, segment name) of a segment path `/v{rung}/seg{n}.ts`.
fn rung_and_name(path: &str) -> (usize, &str) {
    let (rung, name) = path
        .strip_prefix("/v")
        .and_then(|p| p.split_once('/'))
        .unwrap_or_else(|| panic!("a rung in {path}"));
    (rung.parse().expect("rung number"), name)
}

/// Every request the viewers report matches the origin's line for it: paired per
/// (viewer, path) in order, the same requests; completed ones with equal bytes, ones the
/// viewer cut off logged incomplete with at least the viewer's bytes. Returns the
/// number of requests cut off.
fn assert_requests_match(lines: &[ReqLine], log: &[LogLine]) -> usize {
    let mut ours: BTreeMap<(Option<u64>, &str), Vec<&ReqLine>> = BTreeMap::new();
    for l in lines {
        ours.entry((l.viewer, &l.path)).or_default().push(l);
    }
    let mut theirs: BTreeMap<(Option<u64>, &str), Vec<&LogLine>> = BTreeMap::new();
    for l in log {
        theirs.entry((viewer_of(l), &l.path)).or_default().push(l);
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same (viewer, path) pairs"
    );
    let mut cut = 0;
    for (key, mut o) in ours {
        let mut t = theirs.remove(&key).unwrap_or_default();
        assert_eq!(o.len(), t.len(), "requests of {key:?}");
        o.sort_by_key(|l| l.start_ms);
        t.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        for (ours, theirs) in o.iter().zip(&t) {
            if ours.aborted {
                cut += 1;
                assert_eq!(theirs.complete, Some(false), "{key:?} cut off: {theirs:?}");
                assert!(
                    ours.bytes <= theirs.bytes,
                    "{key:?}: {} bytes received, {} sent",
                    ours.bytes,
                    theirs.bytes
                );
            } else {
                assert_eq!(theirs.complete, Some(true), "{key:?} completed: {theirs:?}");
                assert_eq!(ours.bytes, theirs.bytes, "{key:?}: bytes");
            }
        }
    }
    cut
}

/// Abandons the access log shows: a viewer's segment request sent incomplete and
/// followed by that viewer's next segment request, for the same segment from a lower
/// rung. Also returns each viewer's count.
fn abandons_in(log: &[LogLine]) -> (u64, BTreeMap<u64, u64>) {
    let mut by_viewer: BTreeMap<u64, Vec<&LogLine>> = BTreeMap::new();
    for l in log.iter().filter(|l| l.kind == "segment") {
        let id = viewer_of(l).expect("segments come from viewers");
        by_viewer.entry(id).or_default().push(l);
    }
    let mut per_viewer = BTreeMap::new();
    let mut total = 0;
    for (id, mut segs) in by_viewer {
        segs.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        let n = segs
            .windows(2)
            .filter(|w| {
                let ((r0, n0), (r1, n1)) = (rung_and_name(&w[0].path), rung_and_name(&w[1].path));
                w[0].complete == Some(false) && n0 == n1 && r1 < r0
            })
            .count() as u64;
        per_viewer.insert(id, n);
        total += n;
    }
    (total, per_viewer)
}

/// Run 3 viewers from the top rung for 16 s; with `collapse`, segment bodies are paced
/// at 200 kB/s from 6 s to 11 s. The report, the access log (without the fault API's
/// requests) and the request log.
async fn scenario(collapse: bool) -> (hls_swarm::swarm::RunReport, Vec<LogLine>, Vec<ReqLine>) {
    let lab = Lab::start_with(OriginConfig {
        segment_duration: Duration::from_secs(1),
        variants_bps: vec![200_000, 800_000, 8_000_000],
        fault_api: true,
        ..OriginConfig::default()
    })
    .await;
    let url = lab.url();
    let addr = lab.origin.local_addr();
    let dir = tempfile::tempdir().expect("tempdir");
    let req_path = dir.path().join("requests.jsonl");
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
        "-duration",
        "16s",
        "--metrics",
        "off",
        "--seed",
        "5",
        "--request-log",
        req_path.to_str().expect("utf-8 path"),
    ]);
    let swarm = tokio::spawn(run(cfg));
    if collapse {
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(
            fault_api(addr, "PUT", "fault-body-rate=200000\n").await,
            200
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(fault_api(addr, "DELETE", "").await, 200);
    }
    let report = swarm.await.expect("the swarm task");
    let log: Vec<LogLine> = lab
        .finish()
        .await
        .into_iter()
        .filter(|l| !l.path.starts_with("/control/"))
        .collect();
    let (_, lines) = reqlog::read(&req_path);
    (report, log, lines)
}

/// What both runs must show: requests per kind equal the access log, each request
/// matches its line, the report's bytes are the viewers' (at most what the origin sent,
/// all of it for completed requests). The number of requests cut off.
fn assert_truth(report: &hls_swarm::swarm::RunReport, log: &[LogLine], lines: &[ReqLine]) -> usize {
    let s = &report.snapshot;
    assert_exact_counts(s, log, "report");
    let cut = assert_requests_match(lines, log);
    let received: u64 = lines.iter().map(|l| l.bytes).sum();
    assert_eq!(
        s.totals.total_bytes(),
        received,
        "report bytes vs request log"
    );
    let seg_received: u64 = lines
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.bytes)
        .sum();
    assert_eq!(s.kind(RequestKind::Segment).bytes, seg_received);
    let sent: u64 = log.iter().map(|l| l.bytes).sum();
    assert!(received <= sent, "{received} received, {sent} sent");
    if cut == 0 {
        assert_eq!(
            received, sent,
            "nothing cut off: every byte sent was received"
        );
    }
    cut
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collapse_mid_download_abandons_the_top_rung_segment_for_a_lower_one() {
    let (report, log, lines) = scenario(true).await;
    let cut = assert_truth(&report, &log, &lines);
    let abr = &report.snapshot.totals.abr;
    eprintln!("{abr:?}; {cut} requests cut off");
    let (in_log, per_viewer) = abandons_in(&log);
    eprintln!("abandons in the access log per viewer: {per_viewer:?}");
    assert_eq!(per_viewer.len(), 3, "three viewers loaded segments");
    assert!(
        per_viewer.values().all(|&n| n >= 1),
        "every viewer abandoned a top-rung segment: {per_viewer:?}"
    );
    assert_eq!(abr.abandons, in_log, "report vs access log abandons");
    // Each abandon is a switch down (two when the abort drops below the rung the rule
    // found), and a request cut off; a request the run's stop cut off is the only other.
    assert!(abr.switches_down >= abr.abandons, "{abr:?}");
    assert!(
        cut as u64 >= abr.abandons && cut as u64 <= abr.abandons + 3,
        "{cut} cut off, {} abandons",
        abr.abandons
    );

    // /metrics, the JSON report, the summary and the HTML report carry the same figure.
    let cfg = config(&["http://127.0.0.1:1/m.m3u8", "-duration", "1s"]);
    let info = hls_swarm::metrics::render::Info::new(&cfg);
    let text = hls_swarm::metrics::render::render(&report.snapshot, &info);
    let abandons = text
        .lines()
        .find_map(|l| l.strip_prefix("hls_swarm_abr_abandons_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("hls_swarm_abr_abandons_total in /metrics");
    assert_eq!(abandons, abr.abandons as f64);
    let slo = hls_swarm::slo::evaluate(&cfg.slo, &report.snapshot);
    let json = hls_swarm::output::json::Report::new(&report, &slo);
    let v: serde_json::Value =
        serde_json::from_str(&hls_swarm::output::json::to_line(&json).expect("json"))
            .expect("parses");
    assert_eq!(v["playback"]["abr"]["abandons"], abr.abandons);
    let summary = hls_swarm::output::summary::render(&report, &slo);
    assert!(
        summary.contains(&format!("({} abandoned mid-segment;", abr.abandons)),
        "{summary}"
    );
    let html = hls_swarm::output::html::render(&report, &slo);
    assert!(
        html.contains(&format!(
            "<td>{} (segments given up part-way for a lower rung)</td>",
            abr.abandons
        )),
        "the HTML report's ABR table counts the abandons"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collapse_nothing_is_abandoned() {
    let (report, log, lines) = scenario(false).await;
    assert_truth(&report, &log, &lines);
    let abr = &report.snapshot.totals.abr;
    eprintln!("{abr:?}");
    assert_eq!(abr.abandons, 0, "{abr:?}");
    assert_eq!(abandons_in(&log).0, 0);
    // They stayed on the top rung the whole run.
    assert!(
        log.iter()
            .filter(|l| l.kind == "segment")
            .all(|l| rung_and_name(&l.path).0 == 2),
        "only top-rung segments"
    );
}

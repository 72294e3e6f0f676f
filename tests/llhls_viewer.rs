//! Truth tests of the native viewer playing LL-HLS (`--ll-hls`) against the built-in
//! origin's LL-HLS mode, over HTTP/1.1 and HTTP/2: counts and bytes per kind equal the
//! access log, each viewer's blocking reloads and parts follow the rules of
//! docs/viewer.md ("LL-HLS"), the client's hold + lateness of each blocking reload
//! contains the origin's logged `hold_ms`, injected late parts show as lateness and not
//! as hold, and live latency meets the target (classic HLS on the same origin for
//! comparison).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::request_log::{self, ReqLine};
use common::{Lab, LogLine, assert_exact_counts_and_bytes, config, run};
use hls_swarm::origin::{FaultConfig, Freeze, LateParts, OriginConfig};
use hls_swarm::stats::event::RequestKind;
use hls_swarm::swarm::RunReport;

const SEG: Duration = Duration::from_secs(1);
const PART: Duration = Duration::from_millis(200);
/// Parts per segment.
const K: u64 = 5;

async fn lab(faults: FaultConfig) -> Lab {
    Lab::start_with(OriginConfig {
        segment_duration: SEG,
        part_duration: Some(PART),
        faults,
        ..OriginConfig::default()
    })
    .await
}

/// A run of `viewers` on the lowest variant for `secs`, writing its request log to
/// `req_log`, with `extra` flags.
async fn swarm(
    lab: &Lab,
    viewers: u32,
    secs: u32,
    req_log: &std::path::Path,
    extra: &[&str],
) -> RunReport {
    let url = lab.url();
    let viewers = viewers.to_string();
    let duration = format!("{secs}s");
    let req_log = req_log.to_string_lossy().into_owned();
    let mut args = vec![
        url.as_str(),
        "-clients",
        viewers.as_str(),
        "-ramp-rate",
        "20",
        "-variant",
        "lowest",
        "-duration",
        duration.as_str(),
        "--request-log",
        req_log.as_str(),
    ];
    args.extend_from_slice(extra);
    run(config(&args)).await
}

/// `(msn, part)` asked for by a blocking reload's path.
fn asked(path: &str) -> (u64, u64) {
    let q = path.split_once('?').expect("directives").1;
    let get = |k: &str| -> u64 {
        q.split('&')
            .find_map(|kv| kv.strip_prefix(k))
            .and_then(|v| v.strip_prefix('='))
            .expect(k)
            .parse()
            .expect("number")
    };
    (get("_HLS_msn"), get("_HLS_part"))
}

/// `(msn, part)` of a part's path `/v0/seg{N}.{k}.ts`.
fn part_of(path: &str) -> (u64, u64) {
    let stem = path
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_prefix("seg"))
        .and_then(|f| f.strip_suffix(".ts"))
        .expect("a part path");
    let (m, p) = stem.split_once('.').expect("seg{N}.{k}");
    (m.parse().unwrap(), p.parse().unwrap())
}

/// The part after `p` in a stream of K parts per segment.
fn next(p: (u64, u64)) -> (u64, u64) {
    if p.1 + 1 == K {
        (p.0 + 1, 0)
    } else {
        (p.0, p.1 + 1)
    }
}

/// Access-log lines per viewer (by User-Agent), in arrival order.
fn by_viewer(log: &[LogLine]) -> BTreeMap<String, Vec<&LogLine>> {
    let mut m: BTreeMap<String, Vec<&LogLine>> = BTreeMap::new();
    for l in log {
        if let Some(id) = l.ua.rsplit_once("client-").map(|(_, id)| id.to_string()) {
            m.entry(id).or_default().push(l);
        }
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    m
}

/// Counts and bytes per LL kind equal the access log: blocking reloads are the log's
/// `blocking`, listed and hinted parts together its `part`.
fn assert_ll_counts(report: &RunReport, log: &[LogLine], who: &str) {
    let s = &report.snapshot;
    assert_exact_counts_and_bytes(s, log, who);
    let (mut n, mut bytes) = (BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new());
    for l in log {
        *n.entry(l.kind.as_str()).or_default() += 1;
        *bytes.entry(l.kind.as_str()).or_default() += l.bytes;
    }
    let (blocking, part, hint) = (
        s.kind(RequestKind::Blocking),
        s.kind(RequestKind::Part),
        s.kind(RequestKind::Hint),
    );
    assert_eq!(blocking.count, n["blocking"], "{who}: blocking requests");
    assert_eq!(blocking.bytes, bytes["blocking"], "{who}: blocking bytes");
    assert_eq!(part.count + hint.count, n["part"], "{who}: part requests");
    assert_eq!(part.bytes + hint.bytes, bytes["part"], "{who}: part bytes");
}

/// Every viewer follows the documented rules: it starts at an independent part (part 0
/// of a segment: the origin's GOP starts there), loads parts in stream order without
/// gaps or repeats; its blocking reloads ask for one part after the other, each sent as
/// soon as the previous one answered; and the part each reload asks for is also
/// requested (the preload hint) while that reload waits.
fn assert_rules(log: &[LogLine]) {
    let viewers = by_viewer(log);
    assert!(viewers.len() >= 4, "viewers in the log: {}", viewers.len());
    for (id, lines) in &viewers {
        let parts: Vec<&&LogLine> = lines.iter().filter(|l| l.kind == "part").collect();
        let blocking: Vec<&&LogLine> = lines.iter().filter(|l| l.kind == "blocking").collect();
        assert!(
            parts.len() > 10 && blocking.len() > 10,
            "viewer {id}: too few requests"
        );
        let first = part_of(&parts[0].path);
        assert_eq!(
            first.1, 0,
            "viewer {id} starts at an independent part: {first:?}"
        );
        for w in parts.windows(2) {
            let (a, b) = (part_of(&w[0].path), part_of(&w[1].path));
            assert_eq!(b, next(a), "viewer {id}: part order {a:?} then {b:?}");
        }
        let mut gaps = Vec::new();
        for w in blocking.windows(2) {
            let (a, b) = (asked(&w[0].path), asked(&w[1].path));
            assert_eq!(b, next(a), "viewer {id}: blocking reloads {a:?} then {b:?}");
            let answered = w[0].ts + w[0].duration_ms / 1000.0;
            gaps.push(w[1].ts - answered);
        }
        gaps.sort_by(f64::total_cmp);
        let median_gap = gaps[gaps.len() / 2];
        assert!(
            median_gap < 0.02,
            "viewer {id}: the next blocking reload goes out when the previous one answered (median gap {median_gap:.4} s)"
        );
        // The hint for the part a reload waits for is requested while it waits.
        let concurrent = blocking
            .iter()
            .filter(|b| {
                let pos = asked(&b.path);
                let (from, to) = (b.ts, b.ts + b.duration_ms / 1000.0);
                parts.iter().any(|p| {
                    part_of(&p.path) == pos && p.ts < to && p.ts + p.duration_ms / 1000.0 > from
                })
            })
            .count();
        assert!(
            concurrent * 10 >= blocking.len() * 9,
            "viewer {id}: {concurrent} of {} blocking reloads had their part's hint in flight",
            blocking.len()
        );
    }
}

/// Per viewer, the n-th blocking reload in the client's request log and in the access
/// log are the same request: the client's wait (hold + lateness) contains the origin's
/// deliberate hold, and exceeds it by little (delivery on loopback).
fn assert_holds_match(req: &[ReqLine], log: &[LogLine]) {
    let mut client: BTreeMap<String, Vec<&ReqLine>> = BTreeMap::new();
    for r in req
        .iter()
        .filter(|r| r.kind == "blocking" && r.error.is_none() && !r.aborted)
    {
        client
            .entry(r.viewer.expect("viewer").to_string())
            .or_default()
            .push(r);
    }
    let mut excess = Vec::new();
    for (id, lines) in by_viewer(log) {
        let origin: Vec<f64> = lines
            .iter()
            .filter(|l| l.kind == "blocking" && l.status == 200)
            .map(|l| l.hold_ms.expect("blocking reloads log hold_ms"))
            .collect();
        let mine = client.get(&id).cloned().unwrap_or_default();
        // The last request may have been cut off by the stop (not in `mine`).
        assert!(
            origin.len() >= mine.len() && origin.len() <= mine.len() + 1,
            "viewer {id}"
        );
        for (c, o) in mine.iter().zip(&origin) {
            let waited = c.hold_ms.expect("hold") + c.lateness_ms.expect("lateness");
            assert!(
                waited + 1.0 >= *o,
                "viewer {id}: client waited {waited:.3} ms, origin held {o:.3} ms"
            );
            excess.push(waited - o);
        }
    }
    assert!(
        excess.len() > 100,
        "too few matched reloads: {}",
        excess.len()
    );
    excess.sort_by(f64::total_cmp);
    let median = excess[excess.len() / 2];
    eprintln!(
        "{} reloads: client wait - origin hold median {median:.3} ms, max {:.3} ms",
        excess.len(),
        excess[excess.len() - 1]
    );
    assert!(
        median < 10.0,
        "client wait exceeds the origin's hold by {median:.3} ms (median)"
    );
}

async fn ll_run_equals_the_origin(http2: &str) {
    let lab = lab(FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let req_path = dir.path().join("requests.jsonl");
    let report = swarm(&lab, 6, 10, &req_path, &["--http2", http2]).await;
    let log = lab.finish().await;
    let who = format!("--http2 {http2}");
    let s = &report.snapshot;
    assert_eq!(
        s.total_errors(),
        0,
        "{who}: errors {:?}",
        s.errors_by_class()
    );
    assert_eq!(s.totals.ll_fallbacks, 0);
    let proto = if http2 == "on" { "HTTP/2" } else { "HTTP/1.1" };
    assert!(
        log.iter().all(|l| l.proto == proto),
        "{who}: every request {proto}"
    );
    assert_ll_counts(&report, &log, &who);
    assert_rules(&log);
    let (_, req) = request_log::read(&req_path);
    assert_holds_match(&req, &log);
    // A part's hold is about one part (the reload for the next part goes out when the
    // previous one is published); nothing was late.
    let hold = s.kind(RequestKind::Blocking).hold;
    assert!(
        hold.p50 > 0.1 && hold.p50 < 0.21,
        "{who}: blocking hold p50 {}",
        hold.p50
    );
    let late = s.kind(RequestKind::Blocking).lateness;
    assert!(late.p99 < 0.1, "{who}: blocking lateness p99 {}", late.p99);
    // Delta updates were asked for (the window is longer than CAN-SKIP-UNTIL) and merged.
    assert!(
        log.iter()
            .filter(|l| l.kind == "blocking")
            .all(|l| l.path.contains("_HLS_skip=YES")),
        "{who}: delta updates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ll_viewers_over_http1_match_the_access_log_and_follow_the_rules() {
    ll_run_equals_the_origin("off").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ll_viewers_over_http2_match_the_access_log_and_follow_the_rules() {
    ll_run_equals_the_origin("on").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_parts_show_as_lateness_not_hold() {
    const LATE: Duration = Duration::from_millis(600);
    let faults = FaultConfig {
        late_parts: Some(LateParts {
            from: Duration::from_secs(5),
            duration: Duration::from_secs(2),
            late: LATE,
        }),
        ..FaultConfig::default()
    };
    let lab = lab(faults).await;
    let dir = tempfile::tempdir().unwrap();
    let req_path = dir.path().join("requests.jsonl");
    let report = swarm(&lab, 4, 10, &req_path, &[]).await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    assert_ll_counts(&report, &log, "late parts");
    // The origin held some reloads for about a part plus LATE.
    let origin_max = log
        .iter()
        .filter_map(|l| l.hold_ms.filter(|_| l.kind == "blocking"))
        .fold(0.0, f64::max);
    assert!(origin_max > 600.0, "origin's longest hold {origin_max} ms");
    for kind in [RequestKind::Blocking, RequestKind::Hint] {
        let k = s.kind(kind);
        eprintln!(
            "{kind:?}: hold p50 {:.3} max {:.3}, lateness p50 {:.3} max {:.3}; origin's longest hold {origin_max} ms",
            k.hold.p50, k.hold.max, k.lateness.p50, k.lateness.max
        );
        let late = LATE.as_secs_f64();
        assert!(
            k.lateness.max > late * 0.9 && k.lateness.max < late + 0.15,
            "{kind:?}: lateness max {} for parts {late} s late",
            k.lateness.max
        );
        assert!(
            k.hold.max < PART.as_secs_f64() + 0.05,
            "{kind:?}: hold max {} stays about one part",
            k.hold.max
        );
    }
    // Per request: lateness where the origin held for more than a part.
    let (_, req) = request_log::read(&req_path);
    let late_reloads = req
        .iter()
        .filter(|r| r.kind == "blocking" && r.lateness_ms.is_some_and(|l| l > 400.0))
        .count();
    assert!(late_reloads >= 4, "late blocking reloads: {late_reloads}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_latency_is_under_1_5_s_and_classic_shows_about_three_target_durations() {
    let dir = tempfile::tempdir().unwrap();
    let lab_ll = lab(FaultConfig::default()).await;
    let ll = swarm(&lab_ll, 4, 10, &dir.path().join("ll.jsonl"), &[]).await;
    lab_ll.finish().await;
    let lab_classic = lab(FaultConfig::default()).await;
    let classic = swarm(
        &lab_classic,
        4,
        10,
        &dir.path().join("classic.jsonl"),
        &["--ll-hls", "off"],
    )
    .await;
    let classic_log = lab_classic.finish().await;

    let ll_latency = ll.snapshot.live_latency;
    eprintln!(
        "live latency p50: LL-HLS {:.3} s, classic {:.3} s",
        ll_latency.p50, classic.snapshot.live_latency.p50
    );
    assert!(ll_latency.count > 100, "samples {}", ll_latency.count);
    assert!(
        ll_latency.p50 <= 1.5,
        "LL-HLS live latency p50 {} s",
        ll_latency.p50
    );
    assert!(
        ll_latency.p50 >= 0.6,
        "at least PART-HOLD-BACK (0.6 s): {}",
        ll_latency.p50
    );
    // Classic HLS starts 3 target durations back from the last complete segment, which
    // itself ends up to a target duration ago.
    let td = SEG.as_secs_f64();
    let c = classic.snapshot.live_latency;
    assert!(c.count > 10, "classic samples {}", c.count);
    assert!(
        c.p50 >= 3.0 * td && c.p50 <= 4.5 * td,
        "classic live latency p50 {} s for TD {td} s",
        c.p50
    );
    assert!(
        classic_log
            .iter()
            .all(|l| l.kind != "blocking" && l.kind != "part")
    );
    assert_eq!(classic.snapshot.kind(RequestKind::Blocking).count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ll_hls_on_against_a_classic_origin_falls_back_and_says_so() {
    let lab = Lab::start(SEG, FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = swarm(&lab, 3, 4, &dir.path().join("r.jsonl"), &["--ll-hls", "on"]).await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    assert_exact_counts_and_bytes(s, &log, "classic origin");
    assert_eq!(s.totals.ll_fallbacks, 3, "one per viewer's track");
    assert!(s.kind(RequestKind::Segment).count > 0, "played classic HLS");
    assert_eq!(s.kind(RequestKind::Blocking).count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_listing_parts_that_does_not_block_is_played_as_classic_hls() {
    // The playlist offers CAN-BLOCK-RELOAD and lists parts, so `--ll-hls auto` plays it
    // as LL-HLS; but every blocking reload is answered at once with the current playlist
    // (`--fault-no-block`, a CDN dropping the query string). Each viewer falls back to
    // classic HLS once and plays on; every request stays counted as the origin served it.
    let faults = FaultConfig {
        no_block: Some(Freeze {
            from: Duration::ZERO,
            duration: Duration::from_secs(3600),
        }),
        ..FaultConfig::default()
    };
    let lab = lab(faults).await;
    let dir = tempfile::tempdir().unwrap();
    let report = swarm(&lab, 3, 6, &dir.path().join("r.jsonl"), &[]).await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    assert_ll_counts(&report, &log, "non-blocking origin");
    assert_eq!(s.totals.ll_fallbacks, 3, "one per viewer's track");
    assert!(s.kind(RequestKind::Segment).count > 0, "played classic HLS");
    assert!(s.kind(RequestKind::Playlist).count > 0, "classic reloads");
    let viewers = by_viewer(&log);
    assert_eq!(viewers.len(), 3);
    for (id, lines) in &viewers {
        let blocking: Vec<_> = lines.iter().filter(|l| l.kind == "blocking").collect();
        // The first blocking reload answered without its part ends LL-HLS. One answered
        // with its part (a part published during the round trip) lets another go out,
        // so a few are possible; a viewer that keeps sending them has not fallen back.
        assert!(
            (1..=3).contains(&blocking.len()),
            "viewer {id}: {} blocking reloads",
            blocking.len()
        );
        assert!(
            blocking.iter().all(|l| l.hold_ms.is_none_or(|h| h < 50.0)),
            "viewer {id}: the origin held a blocking reload despite the fault"
        );
        let fell_back_at = blocking.last().unwrap().ts;
        assert!(
            lines
                .iter()
                .any(|l| l.kind == "playlist" && l.ts > fell_back_at),
            "viewer {id}: no classic reload after the fall back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tracks_start_at_the_edge_the_first_track_reports() {
    // Every variant played (-variant all): the first variant's playlist carries an
    // EXT-X-RENDITION-REPORT for each other one, so their first loads are blocking
    // requests for the reported part, answered at once.
    let lab = lab(FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = lab.url();
    let req = dir.path().join("r.jsonl").to_string_lossy().into_owned();
    let args = [
        url.as_str(),
        "-clients",
        "2",
        "-ramp-rate",
        "20",
        "-variant",
        "all",
        "-duration",
        "4s",
        "--request-log",
        req.as_str(),
    ];
    let report = run(config(&args)).await;
    let log = lab.finish().await;
    assert_ll_counts(&report, &log, "-variant all");
    assert_eq!(report.snapshot.total_errors(), 0);
    for (id, lines) in by_viewer(&log) {
        let first_of = |v: &str| {
            lines
                .iter()
                .find(|l| l.path.starts_with(&format!("/{v}/playlist.m3u8")))
                .unwrap_or_else(|| panic!("viewer {id} loads {v}"))
        };
        assert_eq!(
            first_of("v0").kind,
            "playlist",
            "viewer {id}: track 0 loads plainly"
        );
        for v in ["v1", "v2"] {
            let first = first_of(v);
            assert_eq!(
                first.kind, "blocking",
                "viewer {id}: {v} starts at the reported edge"
            );
            let held = first.hold_ms.expect("hold_ms");
            assert!(
                held < 50.0,
                "viewer {id}: {v}'s first load answered at once ({held} ms)"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_part_fails_hints_and_reloads_and_counts_stay_exact() {
    // Nothing is published for 4 s (more than the origin's 3 target-duration hold limit):
    // hinted parts end with a failed body and blocking reloads with 503; afterwards the
    // parts are requested again as listed parts. Every request is counted as the origin
    // served it.
    let faults = FaultConfig {
        stuck_parts: Some(Freeze {
            from: Duration::from_secs(4),
            duration: Duration::from_secs(4),
        }),
        ..FaultConfig::default()
    };
    let lab = lab(faults).await;
    let dir = tempfile::tempdir().unwrap();
    let report = swarm(&lab, 3, 12, &dir.path().join("r.jsonl"), &[]).await;
    let log = lab.finish().await;
    let s = &report.snapshot;
    assert_ll_counts(&report, &log, "stuck part");
    let failed_hints = s.kind(RequestKind::Hint).errors;
    let failed_reloads = s.kind(RequestKind::Blocking).errors;
    assert!(
        failed_hints >= 3,
        "hints that never got their part: {failed_hints}"
    );
    assert!(
        failed_reloads >= 3,
        "blocking reloads answered 503: {failed_reloads}"
    );
    assert_eq!(
        s.totals.ll_fallbacks, 0,
        "a server that blocks too long is no fallback"
    );
    // The media of a failed hint is requested again once listed: as the part, or inside
    // its whole segment when the playlist no longer lists that part.
    let again = by_viewer(&log).values().all(|lines| {
        lines
            .iter()
            .filter(|l| l.kind == "part" && l.fault.as_deref() == Some("hold_timeout"))
            .all(|l| {
                let (msn, _) = part_of(&l.path);
                let segment = format!("/v0/seg{msn}.ts");
                lines
                    .iter()
                    .any(|m| m.ts > l.ts && (m.path == l.path || m.path == segment))
            })
    });
    assert!(again, "a failed hint's media is requested again");
    assert!(
        s.stalls() >= 3,
        "every viewer stalled while nothing was published"
    );
}

//! The built-in origin's LL-HLS mode against a raw client and its own access log:
//! playlist tags, blocking reloads (hold, 400, 503), delta updates, preload hints, parts.

#[path = "common/origin_util.rs"]
mod util;

use std::time::{Duration, Instant};

use hls_swarm::origin::timeline::Timeline;
use hls_swarm::origin::{self, Freeze, LateParts, OriginConfig, OriginHandle};

const SEG: Duration = Duration::from_secs(1);
const PART: Duration = Duration::from_millis(200);
const K: u64 = 5;
const WINDOW: usize = 10;

fn timeline() -> Timeline {
    Timeline::new(SEG, WINDOW).with_parts(PART)
}

async fn start(log: Option<&std::path::Path>) -> OriginHandle {
    origin::start(OriginConfig {
        segment_duration: SEG,
        part_duration: Some(PART),
        window: WINDOW,
        access_log: log.map(std::path::Path::to_path_buf),
        ..Default::default()
    })
    .await
    .expect("origin starts")
}

/// (msn, part) of every `EXT-X-PART` in a playlist, in order, with INDEPENDENT.
fn parts(pl: &str) -> Vec<(u64, u64, bool)> {
    pl.lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PART:"))
        .map(|a| {
            let uri = a.split("URI=\"").nth(1).unwrap().split('"').next().unwrap();
            let (m, p) = part_of(uri);
            (m, p, a.contains("INDEPENDENT=YES"))
        })
        .collect()
}

fn part_of(uri: &str) -> (u64, u64) {
    let stem = uri
        .strip_prefix("seg")
        .unwrap()
        .strip_suffix(".ts")
        .unwrap();
    let (m, p) = stem.split_once('.').unwrap();
    (m.parse().unwrap(), p.parse().unwrap())
}

fn hint(pl: &str) -> String {
    pl.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .map(|u| u.trim_end_matches('"').to_owned())
        .expect("playlist has a preload hint")
}

fn attr<'a>(pl: &'a str, tag: &str, name: &str) -> Option<&'a str> {
    let line = pl.lines().find_map(|l| l.strip_prefix(tag))?;
    line.split(',')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The access-log records of `path`.
fn records(log: &std::path::Path, path: &str) -> Vec<serde_json::Value> {
    util::read_log(log)
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

#[tokio::test]
async fn playlist_carries_the_ll_hls_tags() {
    let o = start(None).await;
    let pl = util::get(o.local_addr(), "/v1/playlist.m3u8").await.text();
    assert!(
        pl.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"),
        "{pl}"
    );
    let sc = "#EXT-X-SERVER-CONTROL:";
    assert_eq!(attr(&pl, sc, "CAN-BLOCK-RELOAD"), Some("YES"));
    assert_eq!(
        attr(&pl, sc, "PART-HOLD-BACK"),
        Some("0.600"),
        "3 × part target"
    );
    assert_eq!(
        attr(&pl, sc, "HOLD-BACK"),
        Some("3.000"),
        "3 × target duration"
    );
    assert_eq!(
        attr(&pl, sc, "CAN-SKIP-UNTIL"),
        Some("6.000"),
        "6 × target duration"
    );
    assert!(pl.contains("\n#EXT-X-PART-INF:PART-TARGET=0.200\n"));
    let ps = parts(&pl);
    assert!(
        ps.len() >= 3 * K as usize,
        "3 target durations of parts: {}",
        ps.len()
    );
    for w in ps.windows(2) {
        let (a, b) = ((w[0].0 * K + w[0].1), (w[1].0 * K + w[1].1));
        assert_eq!(b, a + 1, "parts are consecutive");
    }
    for &(_, p, independent) in &ps {
        assert_eq!(
            independent,
            p == 0,
            "only part 0 opens with the IDR (1 s GOP)"
        );
    }
    // The hint is the part after the last listed one; rendition reports name it too.
    let &(m, p, _) = ps.last().unwrap();
    let next = m * K + p + 1;
    assert_eq!(hint(&pl), format!("seg{}.{}.ts", next / K, next % K));
    for other in ["../v0/playlist.m3u8", "../v2/playlist.m3u8"] {
        let line = format!("#EXT-X-RENDITION-REPORT:URI=\"{other}\",LAST-MSN={m},LAST-PART={p}\n");
        assert!(pl.contains(&line), "{line} in\n{pl}");
    }
    assert!(!pl.contains("v1/playlist.m3u8\","), "no report of itself");
    // Every complete segment keeps its PROGRAM-DATE-TIME and EXTINF.
    let segs = util::segment_uris(&pl);
    assert_eq!(segs.len(), WINDOW);
    assert_eq!(
        pl.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        WINDOW + usize::from(p + 1 < K)
    );
    o.shutdown().await;

    let classic = origin::start(OriginConfig::default()).await.unwrap();
    let pl = util::get(classic.local_addr(), "/v0/playlist.m3u8")
        .await
        .text();
    for tag in [
        "SERVER-CONTROL",
        "EXT-X-PART",
        "PRELOAD-HINT",
        "RENDITION-REPORT",
    ] {
        assert!(!pl.contains(tag), "classic playlist has no {tag}");
    }
    let part = util::get(classic.local_addr(), "/v0/seg3.0.ts").await;
    assert_eq!(part.status, 404, "no parts without --part-duration");
    classic.shutdown().await;
}

#[tokio::test]
async fn blocking_reload_is_answered_when_the_part_exists() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = start(Some(&log)).await;
    let tl = timeline();
    let mut c = util::Conn::open(o.local_addr()).await;
    let mut measured = Vec::new();
    for round in 0..3 {
        let pl = c.get("/v0/playlist.m3u8").await.text();
        let &(m, p, _) = parts(&pl).last().unwrap();
        // Two parts past the last one listed.
        let want = m * K + p + 2 + round;
        let path = format!(
            "/v0/playlist.m3u8?_HLS_msn={}&_HLS_part={}&round={round}",
            want / K,
            want % K
        );
        let expected = tl.parts_done_at(want + 1).saturating_sub(o.elapsed());
        let got = c.get(&path).await;
        assert_eq!(got.status, 200);
        assert!(
            got.ttfb + Duration::from_millis(5) >= expected
                && got.ttfb <= expected + Duration::from_millis(80),
            "held {:?}, the part appeared after {expected:?}",
            got.ttfb
        );
        let body = got.text();
        let listed = parts(&body);
        assert_eq!(
            listed.last().map(|&(m, p, _)| m * K + p),
            Some(want),
            "the answer ends with the asked-for part:\n{body}"
        );
        assert_eq!(
            hint(&body),
            format!("seg{}.{}.ts", (want + 1) / K, (want + 1) % K)
        );
        measured.push((path, got.ttfb));
    }
    // An MSN alone waits for the whole segment.
    let pl = c.get("/v0/playlist.m3u8").await.text();
    let &(m, p, _) = parts(&pl).last().unwrap();
    let msn = if p + 1 == K { m + 1 } else { m };
    let path = format!("/v0/playlist.m3u8?_HLS_msn={msn}");
    let got = c.get(&path).await;
    assert_eq!(got.status, 200);
    assert!(util::segment_uris(&got.text()).contains(&format!("seg{msn}.ts")));
    measured.push((path, got.ttfb));
    // A part that exists already: at once.
    let path = format!("/v0/playlist.m3u8?_HLS_msn={m}&_HLS_part={p}&at=once");
    let got = c.get(&path).await;
    assert!(got.ttfb < Duration::from_millis(50), "{:?}", got.ttfb);
    measured.push((path, got.ttfb));
    drop(c);
    o.shutdown().await;
    for (path, ttfb) in measured {
        let r = records(&log, &path);
        assert_eq!(r.len(), 1, "{path}");
        assert_eq!(r[0]["kind"], "blocking");
        let hold = r[0]["hold_ms"]
            .as_f64()
            .expect("hold_ms on a blocking reload");
        let seen = ttfb.as_secs_f64() * 1e3;
        assert!(
            hold <= seen + 1.0 && hold >= seen - 15.0,
            "{path}: hold_ms {hold}, client saw {seen}"
        );
        assert!(r[0]["duration_ms"].as_f64().unwrap() >= hold);
    }
    let plain = records(&log, "/v0/playlist.m3u8");
    assert!(!plain.is_empty());
    for r in plain {
        assert_eq!(r["kind"], "playlist");
        assert!(r["hold_ms"].is_null(), "a plain reload is never held");
    }
}

#[tokio::test]
async fn bad_directives_get_400_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = start(Some(&log)).await;
    let pl = util::get(o.local_addr(), "/v0/playlist.m3u8").await.text();
    let last_complete = util::media_sequence(&pl) + WINDOW as u64 - 1;
    let too_far = format!("/v0/playlist.m3u8?_HLS_msn={}", last_complete + 3);
    let cases = [
        (
            "/v0/playlist.m3u8?_HLS_part=1",
            "_HLS_part without _HLS_msn",
        ),
        (
            "/v0/playlist.m3u8?_HLS_msn=ten",
            "_HLS_msn is not a decimal integer",
        ),
        (
            "/v0/playlist.m3u8?_HLS_msn=1&_HLS_part=-1",
            "_HLS_part is not",
        ),
        (too_far.as_str(), "more than two segments past the last one"),
    ];
    for (path, why) in cases {
        let t = Instant::now();
        let got = util::get(o.local_addr(), path).await;
        assert_eq!(got.status, 400, "{path}");
        assert!(got.text().contains(why), "{path}: {}", got.text());
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{path} answered at once"
        );
    }
    // Two segments past the last is still held, not refused.
    let ok = format!("/v0/playlist.m3u8?_HLS_msn={}", last_complete + 1);
    assert_eq!(util::get(o.local_addr(), &ok).await.status, 200);
    o.shutdown().await;
    let r = records(&log, "/v0/playlist.m3u8?_HLS_part=1");
    assert_eq!(
        (r[0]["status"].as_u64(), r[0]["kind"].as_str()),
        (Some(400), Some("blocking"))
    );
}

#[tokio::test]
async fn a_stuck_part_times_out_with_503_after_three_target_durations() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = start(Some(&log)).await;
    o.faults().set_stuck_parts(Some(Freeze {
        from: o.elapsed(),
        duration: Duration::from_secs(30),
    }));
    let pl = util::get(o.local_addr(), "/v0/playlist.m3u8").await.text();
    let hinted = hint(&pl);
    let (m, p) = part_of(&hinted);
    let path = format!("/v0/playlist.m3u8?_HLS_msn={m}&_HLS_part={p}");
    let got = util::get(o.local_addr(), &path).await;
    assert_eq!(got.status, 503);
    assert!(
        got.total >= Duration::from_secs(3) && got.total < Duration::from_millis(3150),
        "{:?}",
        got.total
    );
    // The hinted part is held just as long, then the body fails.
    let part = util::get(o.local_addr(), &format!("/v0/{hinted}")).await;
    assert_eq!(part.status, 200);
    assert!(
        part.truncated.is_some() && part.body.is_empty(),
        "no byte of a part that never appeared"
    );
    o.shutdown().await;
    let r = records(&log, &path);
    let hold = r[0]["hold_ms"].as_f64().unwrap();
    assert!((3000.0..3100.0).contains(&hold), "{hold}");
    let r = records(&log, &format!("/v0/{hinted}"));
    assert_eq!(r[0]["fault"], "hold_timeout");
    assert_eq!(r[0]["complete"], false);
}

#[tokio::test]
async fn late_parts_are_held_for_as_much_longer() {
    let o = start(None).await;
    let tl = timeline();
    let late = Duration::from_millis(300);
    o.faults().set_late_parts(Some(LateParts {
        from: o.elapsed(),
        duration: Duration::from_secs(20),
        late,
    }));
    let mut c = util::Conn::open(o.local_addr()).await;
    // Let the window start, then ask for a part due well inside it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pl = c.get("/v0/playlist.m3u8").await.text();
    let &(m, p, _) = parts(&pl).last().unwrap();
    let want = m * K + p + 2;
    let due = tl.parts_done_at(want + 1) + late;
    let expected = due.saturating_sub(o.elapsed());
    let got = c
        .get(&format!(
            "/v0/playlist.m3u8?_HLS_msn={}&_HLS_part={}",
            want / K,
            want % K
        ))
        .await;
    assert_eq!(got.status, 200);
    assert!(
        got.ttfb + Duration::from_millis(5) >= expected
            && got.ttfb <= expected + Duration::from_millis(80),
        "held {:?}, expected {expected:?}",
        got.ttfb
    );
    o.shutdown().await;
}

#[tokio::test]
async fn delta_update_replaces_old_segments_with_skip() {
    let o = start(None).await;
    let addr = o.local_addr();
    // Both at the same published part (retry across a part boundary).
    let (full, delta) = loop {
        let full = util::get(addr, "/v0/playlist.m3u8").await.text();
        let delta = util::get(addr, "/v0/playlist.m3u8?_HLS_skip=YES")
            .await
            .text();
        if hint(&full) == hint(&delta) {
            break (full, delta);
        }
    };
    assert!(
        delta.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"),
        "EXT-X-SKIP needs version 9"
    );
    let skipped: u64 = delta
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-SKIP:SKIPPED-SEGMENTS="))
        .expect("delta has EXT-X-SKIP")
        .parse()
        .unwrap();
    // Playlist end in media seconds: the hinted part's start.
    let (hm, hp) = part_of(&hint(&full));
    let end = (hm * K + hp) as f64 * PART.as_secs_f64();
    let first = util::media_sequence(&full);
    let kept_first = first + skipped;
    assert!(
        end - kept_first as f64 <= 6.0,
        "kept segments start within the boundary"
    );
    assert!(
        end - (kept_first - 1) as f64 > 6.0,
        "skipped ones start beyond it"
    );
    assert_eq!(
        util::media_sequence(&delta),
        first,
        "EXT-X-MEDIA-SEQUENCE unchanged"
    );
    // Everything from the first kept segment on is the full playlist's.
    let tail = |pl: &str| {
        let at = pl
            .lines()
            .position(|l| l == format!("seg{}.ts", kept_first - 1))
            .map(|i| i + 1);
        pl.lines()
            .skip(at.unwrap_or(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let delta_tail: String = {
        let lines: Vec<&str> = delta.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("#EXT-X-SKIP:"))
            .unwrap()
            + 1;
        lines[at..].join("\n")
    };
    assert_eq!(delta_tail, tail(&full));
    assert_eq!(
        util::segment_uris(&delta).len() as u64,
        WINDOW as u64 - skipped
    );
    let v2 = util::get(addr, "/v0/playlist.m3u8?_HLS_skip=v2")
        .await
        .text();
    assert!(v2.contains(",RECENTLY-REMOVED-DATERANGES=\"\"\n"), "{v2}");
    o.shutdown().await;

    // A window no longer than the Skip Boundary offers no delta update: _HLS_skip ignored.
    let short = origin::start(OriginConfig {
        segment_duration: SEG,
        part_duration: Some(PART),
        window: 6,
        ..Default::default()
    })
    .await
    .unwrap();
    let pl = util::get(short.local_addr(), "/v0/playlist.m3u8?_HLS_skip=YES")
        .await
        .text();
    assert!(
        !pl.contains("CAN-SKIP-UNTIL") && !pl.contains("EXT-X-SKIP"),
        "{pl}"
    );
    short.shutdown().await;
}

#[tokio::test]
async fn preload_hint_is_held_then_sent_chunked_and_matches_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = start(Some(&log)).await;
    let tl = timeline();
    let mut c = util::Conn::open(o.local_addr()).await;
    let pl = c.get("/v0/playlist.m3u8").await.text();
    let hinted = hint(&pl);
    let (m, p) = part_of(&hinted);
    let complete_in = tl.parts_done_at(m * K + p + 1).saturating_sub(o.elapsed());
    let path = format!("/v0/{hinted}");
    let early = c.get(&path).await;
    assert_eq!(early.status, 200);
    assert_eq!(early.header("transfer-encoding"), Some("chunked"));
    assert_eq!(early.content_length(), None);
    assert!(early.truncated.is_none());
    assert!(
        early.ttfb < Duration::from_millis(50),
        "head at once: {:?}",
        early.ttfb
    );
    assert!(
        early.total + Duration::from_millis(5) >= complete_in
            && early.total <= complete_in + Duration::from_millis(80),
        "body when the part is complete: {:?} vs {complete_in:?}",
        early.total
    );
    let later = c.get(&path).await;
    assert_eq!(later.content_length(), Some(later.body.len()));
    assert!(later.ttfb < Duration::from_millis(50));
    assert_eq!(early.body, later.body, "the hinted part is the part");
    assert!(!early.body.is_empty() && early.body.len() % 188 == 0);
    // A part two ahead is not hinted: 404 (rfc8216bis §6.2.6).
    let ahead = m * K + p + 2;
    assert_eq!(
        c.get(&format!("/v0/seg{}.{}.ts", ahead / K, ahead % K))
            .await
            .status,
        404
    );
    assert_eq!(
        c.get("/v0/seg3.5.ts").await.status,
        404,
        "part index past K"
    );
    drop(c);
    o.shutdown().await;
    let r = records(&log, &path);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["kind"], "part");
    let hold = r[0]["hold_ms"].as_f64().unwrap();
    let seen = early.total.as_secs_f64() * 1e3;
    assert!(
        hold <= seen + 1.0 && hold >= seen - 15.0,
        "hold_ms {hold}, client saw {seen}"
    );
    assert_eq!(r[0]["bytes"].as_u64(), Some(early.body.len() as u64));
    assert!(r[1]["hold_ms"].is_null(), "a published part is not held");
}

#[tokio::test]
async fn parts_concatenate_to_their_segment() {
    let o = start(None).await;
    let mut c = util::Conn::open(o.local_addr()).await;
    let pl = c.get("/v2/playlist.m3u8").await.text();
    let segs = util::segment_uris(&pl);
    for seg in &segs[segs.len() - 3..] {
        let n: u64 = seg
            .strip_prefix("seg")
            .unwrap()
            .strip_suffix(".ts")
            .unwrap()
            .parse()
            .unwrap();
        let whole = c.get(&format!("/v2/{seg}")).await;
        assert_eq!(whole.status, 200);
        let mut joined = Vec::new();
        for k in 0..K {
            let part = c.get(&format!("/v2/seg{n}.{k}.ts")).await;
            assert_eq!(part.status, 200, "seg{n}.{k}");
            assert!(!part.body.is_empty());
            joined.extend_from_slice(&part.body);
        }
        assert_eq!(joined, whole.body, "{seg}");
        // 2 Mbit/s × 1 s, padded per part.
        assert!(
            (249_000..=251_000).contains(&whole.body.len()),
            "{}",
            whole.body.len()
        );
    }
    o.shutdown().await;
}

#[tokio::test]
async fn blocking_reload_and_part_faults_target_their_own_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = start(Some(&log)).await;
    let mut c = util::Conn::open(o.local_addr()).await;
    // A delayed preload hint, asked for right as the part before it appears: the
    // injected delay is not part of the hold.
    o.faults()
        .set_delay(origin::FaultKind::Part, Duration::from_millis(50));
    let pl = c.get("/v0/playlist.m3u8").await.text();
    let &(m, p, _) = parts(&pl).last().unwrap();
    let next = m * K + p + 1;
    let fresh = c
        .get(&format!(
            "/v0/playlist.m3u8?_HLS_msn={}&_HLS_part={}",
            next / K,
            next % K
        ))
        .await
        .text();
    let hinted_path = format!("/v0/{}", hint(&fresh));
    let h = c.get(&hinted_path).await;
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("transfer-encoding"),
        Some("chunked"),
        "still in production"
    );
    o.faults().set_error(origin::FaultKind::Blocking, 503, 1.0);
    o.faults()
        .set_delay(origin::FaultKind::Part, Duration::from_millis(150));
    let pl = c.get("/v0/playlist.m3u8").await;
    assert_eq!(pl.status, 200, "plain reloads are not blocking ones");
    let &(m, p, _) = parts(&pl.text()).last().unwrap();
    let blocking = format!("/v0/playlist.m3u8?_HLS_msn={m}&_HLS_part={p}");
    assert_eq!(c.get(&blocking).await.status, 503);
    let part = c.get(&format!("/v0/seg{m}.{p}.ts")).await;
    assert_eq!(part.status, 200);
    assert!(part.ttfb >= Duration::from_millis(150), "{:?}", part.ttfb);
    let seg = c.get(&format!("/v0/seg{}.ts", m.saturating_sub(1))).await;
    assert!(
        seg.ttfb < Duration::from_millis(100),
        "segments are not parts"
    );
    drop(c);
    o.shutdown().await;
    let r = records(&log, &blocking);
    assert_eq!(
        (r[0]["status"].as_u64(), r[0]["fault"].as_str()),
        (Some(503), Some("error"))
    );
    let r = records(&log, &format!("/v0/seg{m}.{p}.ts"));
    assert_eq!(
        (r[0]["kind"].as_str(), r[0]["fault"].as_str()),
        (Some("part"), Some("delay"))
    );
    let r = records(&log, &hinted_path);
    let (hold, total) = (
        r[0]["hold_ms"].as_f64().unwrap(),
        r[0]["duration_ms"].as_f64().unwrap(),
    );
    assert!(
        hold > 50.0 && hold <= total - 50.0 + 1.0,
        "hold {hold} excludes the 50 ms delay of {total}"
    );
}

//! Each injected fault, observed from a client and from the access log.

#[path = "common/origin_util.rs"]
mod util;

use std::time::{Duration, Instant};

use hls_swarm::origin::{self, ErrorWindow, FaultConfig, FaultKind, Freeze, OriginConfig, PerKind};

#[tokio::test]
async fn delay_is_at_least_the_injected_one_per_kind() {
    let o = origin::start(OriginConfig {
        faults: FaultConfig {
            delay: PerKind {
                segment: Duration::from_millis(250),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = util::Conn::open(o.local_addr()).await;
    let seg = c.get("/v0/seg1.ts").await;
    assert_eq!(seg.status, 200);
    assert!(seg.ttfb >= Duration::from_millis(250), "{:?}", seg.ttfb);
    let pl = c.get("/v0/playlist.m3u8").await;
    assert!(
        pl.ttfb < Duration::from_millis(200),
        "playlist not delayed: {:?}",
        pl.ttfb
    );
    // Runtime change.
    o.faults()
        .set_delay(FaultKind::Playlist, Duration::from_millis(150));
    let pl = c.get("/v0/playlist.m3u8").await;
    assert!(pl.ttfb >= Duration::from_millis(150), "{:?}", pl.ttfb);
    o.faults().set_delay(FaultKind::Playlist, Duration::ZERO);
    assert!(c.get("/master.m3u8").await.ttfb < Duration::from_millis(100));
    o.shutdown().await;
}

/// Status codes of `n` sequential segment requests with a 30 % error rate.
async fn error_run(seed: u64, n: usize) -> Vec<u16> {
    let o = origin::start(OriginConfig {
        seed,
        ..Default::default()
    })
    .await
    .unwrap();
    o.faults().set_error(FaultKind::Segment, 503, 0.3);
    let mut c = util::Conn::open(o.local_addr()).await;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let g = c.get(&format!("/v0/seg{}.ts", i % 10)).await;
        assert!(g.truncated.is_none());
        out.push(g.status);
        // Other kinds in between must not shift the segment decisions.
        if i % 7 == 0 {
            assert_eq!(c.get("/v0/playlist.m3u8").await.status, 200);
        }
    }
    o.shutdown().await;
    out
}

#[tokio::test]
async fn error_probability_is_close_and_reproducible() {
    let a = error_run(42, 400).await;
    let errors = a.iter().filter(|s| **s == 503).count();
    assert!(a.iter().all(|s| *s == 200 || *s == 503));
    // Binomial(400, 0.3): mean 120, sd ≈ 9.2; ±4 sd.
    assert!((83..=157).contains(&errors), "{errors} errors of 400");
    assert_eq!(a, error_run(42, 400).await, "same seed, same faults");
    assert_ne!(
        a,
        error_run(43, 400).await,
        "different seed, different faults"
    );
}

#[tokio::test]
async fn scheduled_error_window_fails_everything_then_stops() {
    let o = origin::start(OriginConfig::default()).await.unwrap();
    let mut c = util::Conn::open(o.local_addr()).await;
    assert_eq!(c.get("/v0/playlist.m3u8").await.status, 200);
    let from = o.elapsed();
    o.faults().add_error_window(ErrorWindow {
        kind: FaultKind::Playlist,
        status: 503,
        from,
        duration: Duration::from_millis(300),
    });
    let t = Instant::now();
    let mut seen_error = false;
    while t.elapsed() < Duration::from_millis(250) {
        assert_eq!(c.get("/v0/playlist.m3u8").await.status, 503);
        assert_eq!(
            c.get("/v0/seg3.ts").await.status,
            200,
            "other kinds unaffected"
        );
        seen_error = true;
    }
    assert!(seen_error);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.get("/v0/playlist.m3u8").await.status, 200);
    o.shutdown().await;
}

#[tokio::test]
async fn reset_truncates_the_body_and_the_log_counts_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    let o = origin::start(OriginConfig {
        access_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    o.faults().set_reset(FaultKind::Segment, 1.0);
    o.faults()
        .set_delay(FaultKind::Segment, Duration::from_millis(5));
    let mut received = Vec::new();
    for n in 0..3 {
        let mut c = util::Conn::open(o.local_addr()).await;
        let g = c.request("GET", &format!("/v2/seg{n}.ts")).await.unwrap();
        let full = g.content_length().unwrap();
        assert_eq!(g.status, 200);
        assert!(g.truncated.is_some(), "client must see a truncated body");
        assert!(
            g.body.len() < full && g.body.len() >= full / 4,
            "{} of {full}",
            g.body.len()
        );
        // The connection is gone.
        assert!(c.request("GET", "/health").await.is_err());
        received.push((g.body.len(), full));
    }
    o.faults().set_reset(FaultKind::Segment, 0.0);
    assert_eq!(
        util::get(o.local_addr(), "/v2/seg0.ts").await.truncated,
        None
    );
    o.shutdown().await;
    let lines = util::read_log(&log);
    assert_eq!(lines.len(), 4);
    for (line, (got, full)) in lines.iter().zip(received) {
        assert_eq!(line["fault"], "delay+reset");
        assert_eq!(line["complete"], false);
        let bytes = line["bytes"].as_u64().unwrap() as usize;
        assert!(bytes < full);
        assert_eq!(bytes, got, "log counts exactly what the client received");
    }
    assert_eq!(lines[3]["complete"], true);
    assert_eq!(lines[3]["fault"], "delay");
}

#[tokio::test]
async fn slow_body_rate_paces_segments() {
    let o = origin::start(OriginConfig::default()).await.unwrap();
    o.faults().set_segment_body_rate(Some(200_000));
    let g = util::get(o.local_addr(), "/v0/seg1.ts").await; // 50 008 B
    assert_eq!(g.body.len(), 50_008);
    // 10 000 B chunks on an absolute schedule: the last starts at 40 000 / 200 000 s.
    assert!(g.total >= Duration::from_millis(195), "{:?}", g.total);
    let p = util::get(o.local_addr(), "/v0/playlist.m3u8").await;
    assert!(
        p.total < Duration::from_millis(100),
        "playlists are not paced"
    );
    o.shutdown().await;
}

#[tokio::test]
async fn freeze_holds_playlists_then_jumps_to_live() {
    let o = origin::start(OriginConfig {
        segment_duration: Duration::from_secs(1),
        window: 3,
        faults: FaultConfig {
            freeze: Some(Freeze {
                from: Duration::ZERO,
                duration: Duration::from_millis(2300),
            }),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = util::Conn::open(o.local_addr()).await;
    let first = c.get("/v0/playlist.m3u8").await.text();
    assert_eq!(util::media_sequence(&first), 0);
    for until in [1100u64, 2200] {
        tokio::time::sleep_until(
            tokio::time::Instant::now() + Duration::from_millis(until).saturating_sub(o.elapsed()),
        )
        .await;
        assert!(o.elapsed() < Duration::from_millis(2300));
        assert_eq!(
            c.get("/v0/playlist.m3u8").await.text(),
            first,
            "frozen at {:?}",
            o.elapsed()
        );
        assert_eq!(c.get("/v1/playlist.m3u8").await.status, 200);
    }
    // Segments listed in the frozen playlist stay downloadable.
    for uri in util::segment_uris(&first) {
        assert_eq!(c.get(&format!("/v0/{uri}")).await.status, 200);
    }
    tokio::time::sleep_until(
        tokio::time::Instant::now() + Duration::from_millis(2400).saturating_sub(o.elapsed()),
    )
    .await;
    let after = c.get("/v0/playlist.m3u8").await.text();
    assert_eq!(
        util::media_sequence(&after),
        2,
        "jumps to the current live window"
    );
    o.shutdown().await;
}

#[tokio::test]
async fn availability_and_errors_are_http_correct() {
    let o = origin::start(OriginConfig {
        segment_duration: Duration::from_secs(1),
        window: 4,
        ..Default::default()
    })
    .await
    .unwrap();
    let a = o.local_addr();
    // Live edge 4 at start: 0..=3 listed, 4 not yet published.
    assert_eq!(util::get(a, "/v0/seg3.ts").await.status, 200);
    assert_eq!(util::get(a, "/v0/seg4.ts").await.status, 404);
    let h = util::get(a, "/health").await;
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));
    let mut c = util::Conn::open(a).await;
    let r = c.request("POST", "/master.m3u8").await.unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    for bad in [
        "/../etc/passwd",
        "/v0/seg-1.ts",
        "/v0/seg18446744073709551616.ts",
        "/%ff",
        "/v0/",
    ] {
        assert_eq!(c.get(bad).await.status, 404, "{bad}");
    }
    assert_eq!(
        c.get("/a/playlist.m3u8").await.status,
        404,
        "no audio rendition by default"
    );
    let m = c.get("/master.m3u8").await.text();
    assert_eq!(m.matches("#EXT-X-STREAM-INF").count(), 3);
    assert!(m.contains("RESOLUTION=64x36") && m.contains("CODECS=\"avc1.42c00a,mp4a.40.2\""));
    o.shutdown().await;
}

#[tokio::test]
async fn bind_error_names_the_address() {
    let first = origin::start(OriginConfig::default()).await.unwrap();
    let err = origin::start(OriginConfig {
        listen: first.local_addr(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(&first.local_addr().to_string()), "{msg}");
    first.shutdown().await;
}

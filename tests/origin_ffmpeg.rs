//! The built-in origin against real FFmpeg, and its access log against a real client.

#[path = "common/origin_util.rs"]
mod util;

use std::process::Stdio;
use std::time::Duration;

use hls_swarm::origin::{self, OriginConfig};
use tokio::process::Command;

fn ffmpeg_available() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Plays `seconds` of the origin's master playlist with `-c copy` and asserts FFmpeg
/// exits 0 and prints nothing at warning level.
async fn play_clean(cfg: OriginConfig, seconds: u32) {
    if !ffmpeg_available() {
        // In CI the test command installs ffmpeg, so its absence there is a failure.
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is required in CI");
        println!("NOTICE: ffmpeg not on PATH; skipping FFmpeg playback test");
        return;
    }
    let o = origin::start(cfg).await.expect("origin starts");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-i"])
        .arg(o.master_url())
        .args([
            "-map",
            "0",
            "-c",
            "copy",
            "-t",
            &seconds.to_string(),
            "-f",
            "null",
            "-",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("ffmpeg finishes within 60 s")
        .expect("ffmpeg runs");
    o.shutdown().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ffmpeg failed: {:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.trim().is_empty(),
        "ffmpeg printed warnings:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_the_ll_hls_stream_cleanly() {
    // FFmpeg 5.1 ignores the LL-HLS tags and plays the segments (each the concatenation
    // of its parts); the part tags, hints and rendition reports must not disturb it.
    play_clean(
        OriginConfig {
            segment_duration: Duration::from_secs(1),
            part_duration: Some(Duration::from_millis(200)),
            ..Default::default()
        },
        4,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_1s_segments_cleanly() {
    play_clean(
        OriginConfig {
            segment_duration: Duration::from_secs(1),
            ..Default::default()
        },
        10,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_2s_segments_cleanly() {
    play_clean(OriginConfig::default(), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_audio_rendition_cleanly() {
    play_clean(
        OriginConfig {
            audio_rendition: true,
            ..Default::default()
        },
        8,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_3s_segments_cleanly() {
    play_clean(
        OriginConfig {
            segment_duration: Duration::from_secs(3),
            variants_bps: vec![300_000],
            ..Default::default()
        },
        12,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_records_every_request_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = origin::start(OriginConfig {
        access_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = util::Conn::open(o.local_addr()).await;
    let paths = [
        "/master.m3u8",
        "/v1/playlist.m3u8",
        "/v1/seg3.ts",
        "/health",
        "/nope",
        "/v9/seg3.ts",
        "/v0/seg999999.ts",
    ];
    let mut got = Vec::new();
    for p in paths {
        got.push(c.get(p).await);
    }
    let head = c.request("HEAD", "/v2/seg4.ts").await.unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    drop(c);
    o.shutdown().await;

    let lines = util::read_log(&log);
    assert_eq!(lines.len(), paths.len() + 1, "{lines:#?}");
    let expect = [
        (200, "master"),
        (200, "playlist"),
        (200, "segment"),
        (200, "other"),
        (404, "other"),
        (404, "other"),
        (404, "segment"),
    ];
    for ((line, g), (p, (status, kind))) in lines.iter().zip(&got).zip(paths.iter().zip(expect)) {
        assert_eq!(line["path"], *p);
        assert_eq!(line["method"], "GET");
        assert_eq!(line["status"], status, "{p}");
        assert_eq!(g.status, status, "{p}");
        assert_eq!(line["kind"], kind, "{p}");
        assert_eq!(
            line["bytes"].as_u64().unwrap() as usize,
            g.content_length().unwrap(),
            "{p}"
        );
        assert_eq!(
            line["bytes"].as_u64().unwrap() as usize,
            g.body.len(),
            "{p}"
        );
        assert_eq!(line["ua"], "origin-test/1");
        assert_eq!(line["complete"], true);
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(line["ts"].as_f64().unwrap() > 1.6e9);
    }
    let last = &lines[paths.len()];
    assert_eq!(
        (last["method"].as_str(), last["bytes"].as_u64()),
        (Some("HEAD"), Some(0))
    );
    // 800 kbit/s × 2 s = 200 000 B → 1064 packets of 188 B.
    assert_eq!(got[2].body.len(), 1064 * 188);
    assert_eq!(got[2].header("content-type"), Some("video/mp2t"));
    assert_eq!(
        got[1].header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(
        got[2].header("cache-control"),
        Some("max-age=60, immutable")
    );
    assert_eq!(got[1].header("cache-control"), Some("max-age=1"));
}

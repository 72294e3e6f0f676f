//! Truth tests of byte and request accounting against a small raw-TCP origin of our own
//! (127.0.0.1 only) that logs every request: what it was asked (headers included) and
//! exactly how many body bytes it wrote.
//!
//! * gzip playlists (issue 13, defect 9): a live playlist served gzip-compressed to three
//!   viewers plays with 0 errors; playlists are asked with `Accept-Encoding`, segments
//!   never; counts and bytes per kind equal the origin's log, bytes being the compressed
//!   wire bytes.
//! * Unfinished requests (defect 10): a segment whose body never ends shows its bytes live
//!   while it streams, and when the run stops mid-download the request is counted as
//!   aborted with the bytes received — within a few % of what the origin wrote — so
//!   request counts still equal the origin's log; the stop stays prompt.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use hls_swarm::engine::http::{Connections, HttpSettings};
use hls_swarm::stats::event::{ErrorClass, RequestKind};
use hls_swarm::swarm::{self, RunHooks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Body of every finite segment.
const SEGMENT_LEN: usize = 20_000;
/// An endless segment is written in chunks of this size …
const CHUNK: usize = 16 * 1024;
/// … one every this long (≈ 1.6 MB/s per request), so little sits in socket buffers.
const CHUNK_EVERY: Duration = Duration::from_millis(10);

/// How the origin misbehaves.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// Serve playlists gzip-compressed (whatever the request asked).
    gzip_playlists: bool,
    /// Segment bodies never end.
    endless_segments: bool,
    /// From this long after the start, playlists are corrupt gzip.
    corrupt_after: Option<Duration>,
}

impl Mode {
    const PLAIN: Mode = Mode {
        gzip_playlists: false,
        endless_segments: false,
        corrupt_after: None,
    };
}

/// One request as the origin saw it.
#[derive(Debug)]
struct Served {
    path: String,
    accept_encoding: Option<String>,
    gzipped: bool,
    /// Body bytes written (so far, for a running request).
    body: Arc<AtomicU64>,
}

struct RawOrigin {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Served>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawOrigin {
    async fn start(mode: Mode) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log: Arc<Mutex<Vec<Served>>> = Arc::default();
        let started = Instant::now();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                conns.spawn(serve(stream, mode, started, task_log.clone()));
            }
        });
        RawOrigin { addr, log, task }
    }

    fn url(&self) -> String {
        format!("http://{}/live.m3u8", self.addr)
    }

    /// (requests, body bytes) per kind the origin served: "playlist" or "segment".
    fn served(&self, kind: &str) -> (u64, u64) {
        let log = self.log.lock().unwrap();
        let of_kind: Vec<&Served> = log
            .iter()
            .filter(|s| (kind == "playlist") == s.path.ends_with(".m3u8"))
            .collect();
        (
            of_kind.len() as u64,
            of_kind.iter().map(|s| s.body.load(Ordering::SeqCst)).sum(),
        )
    }
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The live playlist now: 1 s segments, a window of three, sequence = seconds elapsed.
fn playlist(started: Instant) -> Vec<u8> {
    let seq = started.elapsed().as_secs();
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
    );
    for n in seq..seq + 3 {
        p.push_str(&format!("#EXTINF:1.000,\nseg/{n}.ts\n"));
    }
    p.into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Serve one connection's requests (keep-alive) until the client goes away.
async fn serve(mut stream: TcpStream, mode: Mode, started: Instant, log: Arc<Mutex<Vec<Served>>>) {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(req.parse(&buf[..end]), Ok(httparse::Status::Complete(_))) {
            return;
        }
        let path = req.path.unwrap_or("/").to_string();
        let accept_encoding = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("accept-encoding"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned());
        buf.drain(..end);
        let body = Arc::new(AtomicU64::new(0));
        let is_playlist = path.ends_with(".m3u8");
        let corrupt = mode.corrupt_after.is_some_and(|d| started.elapsed() >= d);
        let gzipped = is_playlist && (mode.gzip_playlists || corrupt || path != "/live.m3u8");
        log.lock().unwrap().push(Served {
            path: path.clone(),
            accept_encoding,
            gzipped,
            body: body.clone(),
        });
        if is_playlist || path.starts_with("/gz/") {
            let plain = playlist(started);
            let (payload, coding) = match path.as_str() {
                _ if corrupt => (b"\x1f\x8b not gzip at all".to_vec(), "gzip"),
                "/corrupt.m3u8" => (b"\x1f\x8b\x08\x00 broken".to_vec(), "gzip"),
                "/br.m3u8" => (b"\x0b\x02\x80 brotli".to_vec(), "br"),
                "/short.m3u8" => {
                    let z = gzip(&plain);
                    (z[..z.len() / 2].to_vec(), "gzip")
                }
                "/gz/seg.ts" => (gzip(&[0x47u8; SEGMENT_LEN]), "gzip"),
                "/bomb.m3u8" => (gzip(&vec![b'#'; 4 << 20]), "gzip"),
                _ if gzipped => (gzip(&plain), "gzip"),
                _ => (plain, ""),
            };
            let coding = if coding.is_empty() {
                String::new()
            } else {
                format!("Content-Encoding: {coding}\r\n")
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\n{coding}Content-Length: {}\r\n\r\n",
                payload.len()
            );
            if stream.write_all(head.as_bytes()).await.is_err()
                || stream.write_all(&payload).await.is_err()
            {
                return;
            }
            body.fetch_add(payload.len() as u64, Ordering::SeqCst);
        } else if mode.endless_segments {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 1000000000000\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![0x47u8; CHUNK];
            loop {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                body.fetch_add(CHUNK as u64, Ordering::SeqCst);
                tokio::time::sleep(CHUNK_EVERY).await;
            }
        } else {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {SEGMENT_LEN}\r\n\r\n"
            );
            let payload = vec![0x47u8; SEGMENT_LEN];
            if stream.write_all(head.as_bytes()).await.is_err()
                || stream.write_all(&payload).await.is_err()
            {
                return;
            }
            body.fetch_add(SEGMENT_LEN as u64, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_playlists_play_and_count_wire_bytes() {
    let origin = RawOrigin::start(Mode {
        gzip_playlists: true,
        ..Mode::PLAIN
    })
    .await;
    let url = origin.url();
    let report = common::run(common::config(&[
        &url,
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-duration",
        "4s",
    ]))
    .await;
    let s = &report.snapshot;
    assert_eq!(
        s.total_errors(),
        0,
        "gzip playlists must decode: {:?}",
        s.errors_by_class()
    );

    // The probe is reported as the master request, every viewer's loads as playlists.
    let (pl_served, pl_bytes) = origin.served("playlist");
    let pl_count = s.kind(RequestKind::Master).count + s.kind(RequestKind::Playlist).count;
    let pl_counted = s.kind(RequestKind::Master).bytes + s.kind(RequestKind::Playlist).bytes;
    assert_eq!(pl_count, pl_served, "playlist requests");
    assert_eq!(
        pl_counted, pl_bytes,
        "playlist bytes are the compressed wire bytes"
    );
    let (seg_served, seg_bytes) = origin.served("segment");
    eprintln!(
        "gzip: playlists served {pl_served} ({pl_bytes} B on the wire), counted {pl_count} ({pl_counted} B); segments served {seg_served}, counted {}",
        s.kind(RequestKind::Segment).count
    );
    assert!(seg_served >= 6, "the viewers played: {seg_served} segments");
    assert_eq!(s.kind(RequestKind::Segment).count, seg_served);
    assert_eq!(s.kind(RequestKind::Segment).bytes, seg_bytes);

    let log = origin.log.lock().unwrap();
    // Compression is offered for playlists like a player does, never for media.
    for r in log.iter() {
        let offered = r
            .accept_encoding
            .as_deref()
            .is_some_and(|v| v.contains("gzip"));
        if r.path.ends_with(".m3u8") {
            assert!(r.gzipped);
            assert!(offered, "playlist request without Accept-Encoding: {r:?}");
        } else {
            assert!(
                r.accept_encoding.is_none(),
                "segment asked compressed: {r:?}"
            );
        }
    }
    // The wire bytes really were compressed (smaller than the playlist text).
    let plain = playlist(Instant::now()).len() as u64;
    assert!(
        pl_bytes < pl_served * plain,
        "{pl_bytes} vs {pl_served} × {plain}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_segments_count_bytes_live_and_as_aborted_at_stop() {
    const VIEWERS: u64 = 2;
    let origin = RawOrigin::start(Mode {
        endless_segments: true,
        ..Mode::PLAIN
    })
    .await;
    let url = origin.url();
    let cfg = common::config(&[
        &url,
        "-clients",
        &VIEWERS.to_string(),
        "-ramp-rate",
        "100",
        "-duration",
        "3s",
        "-timeout",
        "60s",
    ]);
    let slo = cfg.slo.clone();
    let (tx, mut rx) = tokio::sync::watch::channel(None);
    let hooks = RunHooks {
        snapshots: Some(tx),
        ..RunHooks::default()
    };
    let began = Instant::now();
    let run = tokio::spawn(swarm::run(Arc::new(cfg), hooks));

    // While the run goes on, the segments' bytes show up although none has finished.
    let mut live_bytes = 0;
    while rx.changed().await.is_ok() {
        let snap = rx.borrow_and_update().clone();
        let Some(snap) = snap else { continue };
        if snap.stopping {
            break;
        }
        let seg = snap.kind(RequestKind::Segment);
        if snap.elapsed >= Duration::from_secs(2) {
            assert_eq!(seg.count, 0, "an endless segment cannot have finished");
            live_bytes = seg.bytes;
            break;
        }
    }
    let report = run.await.expect("run task").expect("run");
    let took = began.elapsed();
    assert!(
        live_bytes > 1_000_000,
        "segment bytes must be counted while they arrive, got {live_bytes} at 2 s"
    );
    // 3 s run + 2 s grace + the cut-off: prompt.
    assert!(took < Duration::from_secs(8), "stop took {took:?}");

    // Let the origin notice the closed connections, then compare.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = &report.snapshot;
    let (seg_served, seg_bytes) = origin.served("segment");
    let seg = s.kind(RequestKind::Segment);
    assert_eq!(seg_served, VIEWERS, "one endless segment per viewer");
    assert_eq!(
        seg.count, seg_served,
        "requests in flight at stop are counted"
    );
    assert_eq!(seg.aborted, seg_served, "… as aborted");
    assert_eq!(seg.errors, 0, "aborted is not an error");
    let ratio = seg.bytes as f64 / seg_bytes as f64;
    eprintln!(
        "endless: live at 2 s {live_bytes} B; origin wrote {seg_bytes} B in {seg_served} requests, counted {} B ({ratio:.4}) in {} ({} aborted); stop took {took:?}",
        seg.bytes, seg.count, seg.aborted
    );
    assert!(
        (0.97..=1.0 + 1e-9).contains(&ratio),
        "counted {} of {} segment bytes the origin wrote ({ratio:.4})",
        seg.bytes,
        seg_bytes
    );
    let (pl_served, pl_bytes) = origin.served("playlist");
    let pl = s.kind(RequestKind::Master).count + s.kind(RequestKind::Playlist).count;
    assert_eq!(pl, pl_served, "playlist requests");
    // The summary and the JSON report say so too.
    let slo = hls_swarm::slo::evaluate(&slo, s);
    let summary = hls_swarm::output::summary::render(&report, &slo);
    assert!(
        summary.contains(&format!("Aborted:    {seg_served} still in flight")),
        "{summary}"
    );
    let json =
        serde_json::to_value(hls_swarm::output::json::Report::new(&report, &slo)).expect("json");
    assert_eq!(json["requests"]["segment"]["aborted"], seg_served);
    assert_eq!(json["requests"]["segment"]["bytes"], seg.bytes);
    assert_eq!(
        s.kind(RequestKind::Master).bytes + s.kind(RequestKind::Playlist).bytes,
        pl_bytes
    );
}

#[tokio::test]
async fn undecodable_bodies_are_decoding_errors_with_a_cause_and_gzip_media_is_tolerated() {
    let origin = RawOrigin::start(Mode::PLAIN).await;
    let mut settings = HttpSettings::default();
    settings.max_kept_body = 1 << 20;
    let mut conn = Connections::new(Arc::new(settings), "t".into());
    let at = |path: &str| Url::parse(&format!("http://{}{path}", origin.addr)).expect("url");
    let served_bytes = |path: &str| {
        let log = origin.log.lock().unwrap();
        let r = log.iter().rev().find(|r| r.path == path).expect("served");
        r.body.load(Ordering::SeqCst)
    };
    for (path, cause) in [
        ("/corrupt.m3u8", "invalid gzip data"),
        ("/short.m3u8", "gzip stream ends early"),
        ("/br.m3u8", "unsupported Content-Encoding \"br\""),
    ] {
        let f = conn.get(&at(path), None, true).await;
        assert_eq!(f.error, Some(ErrorClass::Decoding), "{path}");
        let got = f.cause.clone().unwrap_or_default();
        assert!(got.starts_with(cause), "{path}: cause {got:?}");
        assert_eq!(f.bytes, served_bytes(path), "{path}: wire bytes counted");
        assert!(f.body.is_none());
    }
    // A small body that decodes to more than --max-playlist-size is too large.
    let f = conn.get(&at("/bomb.m3u8"), None, true).await;
    assert_eq!(f.error, Some(ErrorClass::PlaylistTooLarge));
    assert_eq!(
        f.cause.as_deref(),
        Some("gzip body decodes to more than 1048576 bytes")
    );
    assert_eq!(f.bytes, served_bytes("/bomb.m3u8"));
    assert!(f.bytes < 1 << 20);
    // The connection stays usable after a decoding failure (the body was read to its end).
    let f = conn.get(&at("/live.m3u8"), None, true).await;
    assert!(f.is_ok() && !f.connected, "{f:?}");
    // A compressed segment (never asked for) is counted as sent, not decoded.
    let f = conn.get(&at("/gz/seg.ts"), None, false).await;
    assert!(f.is_ok(), "{f:?}");
    assert_eq!(f.bytes, served_bytes("/gz/seg.ts"));
    assert!(f.bytes < SEGMENT_LEN as u64);
    let log = origin.log.lock().unwrap();
    let seg = log.iter().find(|r| r.path == "/gz/seg.ts").expect("served");
    assert!(seg.accept_encoding.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_that_turn_undecodable_mid_run_are_named_decoding_errors() {
    let origin = RawOrigin::start(Mode {
        gzip_playlists: true,
        corrupt_after: Some(Duration::from_millis(1500)),
        ..Mode::PLAIN
    })
    .await;
    let url = origin.url();
    let report = common::run(common::config(&[
        &url,
        "-clients",
        "2",
        "-ramp-rate",
        "10",
        "-duration",
        "4s",
    ]))
    .await;
    let s = &report.snapshot;
    let classes = s.errors_by_class();
    let decoding = classes.get("decoding").copied().unwrap_or(0);
    let other = classes.get("other").copied().unwrap_or(0);
    eprintln!("mid-run corrupt gzip: {classes:?}");
    assert!(decoding >= 2, "decoding errors: {classes:?}");
    assert_eq!(other, 0, "{classes:?}");
    assert_eq!(s.total_errors(), decoding);
    let (pl_served, pl_bytes) = origin.served("playlist");
    assert_eq!(
        s.kind(RequestKind::Master).count + s.kind(RequestKind::Playlist).count,
        pl_served
    );
    assert_eq!(
        s.kind(RequestKind::Master).bytes + s.kind(RequestKind::Playlist).bytes,
        pl_bytes
    );
}

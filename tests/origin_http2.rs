//! The built-in origin over HTTP/2 with prior knowledge (h2c): one connection multiplexing
//! a blocking playlist reload, a preload-hinted part and segments, byte-identical to
//! HTTP/1.1, with the protocol in the access log.

#[path = "common/origin_util.rs"]
mod util;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use hls_swarm::origin::{self, OriginConfig};

type Sender = http2::SendRequest<Empty<Bytes>>;

async fn h2c(addr: std::net::SocketAddr) -> Sender {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
        .await
        .expect("h2c handshake with prior knowledge");
    tokio::spawn(conn);
    send
}

/// GET over the shared HTTP/2 connection: (status, body, time to the end of the body).
async fn get(mut send: Sender, addr: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>, Duration) {
    let t = Instant::now();
    let req = http::Request::get(format!("http://{addr}{path}"))
        .header("user-agent", "h2-test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    send.ready().await.unwrap();
    let resp = send.send_request(req).await.expect("h2 response");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body, t.elapsed())
}

#[tokio::test]
async fn one_h2c_connection_multiplexes_blocking_reload_hint_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.jsonl");
    let o = origin::start(OriginConfig {
        segment_duration: Duration::from_secs(1),
        part_duration: Some(Duration::from_millis(200)),
        access_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = o.local_addr();
    let send = h2c(addr).await;
    let (status, pl, _) = get(send.clone(), addr, "/v0/playlist.m3u8").await;
    assert_eq!(status, 200);
    let pl = String::from_utf8(pl).unwrap();
    let hint = pl
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let (m, p) = {
        let stem = hint
            .strip_prefix("seg")
            .unwrap()
            .strip_suffix(".ts")
            .unwrap();
        let (m, p) = stem.split_once('.').unwrap();
        (m.parse::<u64>().unwrap(), p.parse::<u64>().unwrap())
    };
    let seg = util::segment_uris(&pl).last().unwrap().clone();
    // The blocking reload for the hinted part, the hint itself and a segment, at once.
    let blocking = format!("/v0/playlist.m3u8?_HLS_msn={m}&_HLS_part={p}");
    let hint_path = format!("/v0/{hint}");
    let seg_path = format!("/v0/{seg}");
    let (b, h, s) = tokio::join!(
        get(send.clone(), addr, &blocking),
        get(send.clone(), addr, &hint_path),
        get(send.clone(), addr, &seg_path),
    );
    assert_eq!((b.0, h.0, s.0), (200, 200, 200));
    assert!(
        s.2 < Duration::from_millis(100),
        "the segment is not stuck behind the holds: {:?}",
        s.2
    );
    assert!(String::from_utf8_lossy(&b.1).contains(&format!("URI=\"{hint}\"")));
    // Same bytes as over HTTP/1.1.
    let mut c = util::Conn::open(addr).await;
    assert_eq!(c.get(&hint_path).await.body, h.1);
    assert_eq!(c.get(&seg_path).await.body, s.1);
    drop(c);
    drop(send);
    o.shutdown().await;
    let recs = util::read_log(&log);
    let h2: Vec<_> = recs.iter().filter(|r| r["ua"] == "h2-test").collect();
    assert_eq!(h2.len(), 4);
    for r in &h2 {
        assert_eq!(r["proto"], "HTTP/2", "{r}");
        assert_eq!(r["complete"], true);
    }
    let h2_hint = h2.iter().find(|r| r["path"] == hint_path.as_str()).unwrap();
    assert_eq!(h2_hint["bytes"].as_u64(), Some(h.1.len() as u64));
    assert!(h2_hint["hold_ms"].as_f64().is_some());
    let h1: Vec<_> = recs.iter().filter(|r| r["ua"] != "h2-test").collect();
    assert_eq!(h1.len(), 2);
    for r in h1 {
        assert_eq!(r["proto"], "HTTP/1.1");
    }
}

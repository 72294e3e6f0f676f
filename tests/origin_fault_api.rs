//! The origin's fault API (`--fault-api`, `/control/faults`): faults switched from outside
//! the process take effect on the next request, and the API is off by default.

#[path = "common/origin_util.rs"]
mod util;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use hls_swarm::origin::{self, FaultKind, OriginConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One request with a body on a fresh connection: (status, body text).
async fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: origin\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The live edge segment's path (always available).
async fn segment_path(addr: SocketAddr) -> String {
    let pl = util::get(addr, "/v0/playlist.m3u8").await.text();
    let last = util::segment_uris(&pl).pop().expect("a segment");
    format!("/v0/{last}")
}

#[tokio::test]
async fn put_get_delete_switch_faults_at_runtime() {
    let o = origin::start(OriginConfig {
        fault_api: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = o.local_addr();
    let seg = segment_path(addr).await;
    assert_eq!(util::get(addr, &seg).await.status, 200);

    let spec = "# every segment fails, playlists are slow\n\
                fault-error=segment:503:1\n--fault-delay=playlist=300ms\n";
    let (status, body) = send(addr, "PUT", "/control/faults", spec.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "fault-delay=playlist=300ms\nfault-error=segment:503:1\n"
    );
    // In force on the next request, in the origin's own state too.
    assert_eq!(util::get(addr, &seg).await.status, 503);
    let pl = util::get(addr, "/v0/playlist.m3u8").await;
    assert!(pl.ttfb >= Duration::from_millis(300), "{:?}", pl.ttfb);
    assert_eq!(
        o.faults().snapshot().error.segment.map(|e| e.status),
        Some(503)
    );
    assert_eq!(send(addr, "GET", "/control/faults", b"").await.1, body);

    // A bad PUT is refused with every problem named, and changes nothing.
    let (status, err) = send(
        addr,
        "PUT",
        "/control/faults",
        b"fault-reset=segment:7\nfault-bogus=1\n",
    )
    .await;
    assert_eq!(status, 400);
    assert!(err.contains("--fault-reset \"segment:7\""), "{err}");
    assert!(err.contains("unknown flag \"fault-bogus\""), "{err}");
    assert_eq!(util::get(addr, &seg).await.status, 503);

    let (status, body) = send(addr, "DELETE", "/control/faults", b"").await;
    assert_eq!((status, body.as_str()), (200, "# no faults\n"));
    assert_eq!(util::get(addr, &seg).await.status, 200);
    assert!(util::get(addr, "/v0/playlist.m3u8").await.ttfb < Duration::from_millis(300));

    // Other methods and oversized bodies.
    assert_eq!(send(addr, "POST", "/control/faults", b"").await.0, 405);
    let big = vec![b'#'; origin::control::MAX_BODY + 1];
    assert_eq!(send(addr, "PUT", "/control/faults", &big).await.0, 413);
    // Faults set in-process show in the API.
    o.faults().set_reset(FaultKind::Segment, 0.25);
    assert_eq!(
        send(addr, "GET", "/control/faults", b"").await.1,
        "fault-reset=segment:0.25\n"
    );
    o.shutdown().await;
}

#[tokio::test]
async fn off_by_default() {
    let o = origin::start(OriginConfig::default()).await.unwrap();
    let addr = o.local_addr();
    // The path is like any other: not found, and PUT is not a method the origin takes.
    assert_eq!(send(addr, "GET", "/control/faults", b"").await.0, 404);
    let (status, _) = send(addr, "PUT", "/control/faults", b"fault-error=all:503:1\n").await;
    assert_eq!(status, 405);
    assert_eq!(o.faults().snapshot(), Default::default());
    assert_eq!(util::get(addr, "/master.m3u8").await.status, 200);
    o.shutdown().await;
}

/// `hls-swarm origin --fault-api`: the flag turns the API on in the real binary.
#[tokio::test]
async fn the_flag_turns_it_on() {
    for (flag, want) in [(true, 200), (false, 405)] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"));
        cmd.args(["origin", "--listen", "127.0.0.1:0"]);
        if flag {
            cmd.arg("--fault-api");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn origin");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("origin prints its URL")
            .unwrap()
            .expect("a URL line");
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches("/master.m3u8")
            .parse()
            .expect("IP:PORT in the URL");
        let (status, body) =
            send(addr, "PUT", "/control/faults", b"fault-error=master:500:1").await;
        assert_eq!(status, want, "--fault-api {flag}: {body}");
        let master = util::get(addr, "/master.m3u8").await.status;
        assert_eq!(master, if flag { 500 } else { 200 });
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

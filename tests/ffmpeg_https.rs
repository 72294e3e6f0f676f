//! The FFmpeg engine on an https:// stream: FFmpeg tunnels through the proxy (CONNECT),
//! so its requests are counted from its debug log and labelled approximate. A TLS front
//! (self-signed certificate for localhost, test-only) sits before the built-in origin;
//! the approximate counts must still agree with the origin's access log.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Lab, as_args, config, counts_by_kind, ffmpeg_args, run};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::event::RequestKind;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

const CERT: &str = include_str!("fixtures/ffmpeg_tls_localhost.crt");
const KEY: &str = include_str!("fixtures/ffmpeg_tls_localhost.key");
const VIEWERS: u64 = 4;

/// Terminate TLS on a free port and splice each connection to `origin`.
async fn tls_front(origin: std::net::SocketAddr) -> (u16, tokio::task::JoinHandle<()>) {
    let certs = vec![CertificateDer::from_pem_slice(CERT.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(origin).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_tunnelled_and_counted_approximately() {
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let (port, front) = tls_front(lab.origin.local_addr()).await;
    let url = format!("https://localhost:{port}/master.m3u8");
    let args = ffmpeg_args(&url, VIEWERS, 20, "15s", &["--dangerous"]);
    let report = run(config(&as_args(&args))).await;
    front.abort();
    let log = lab.finish().await;
    let s = &report.snapshot;
    let f = s.ffmpeg.clone().expect("ffmpeg stats");
    assert!(
        f.requests_approximate,
        "https figures are labelled approximate"
    );
    assert!(f.tunnel_bytes > 0, "traffic went through CONNECT tunnels");
    assert_eq!(s.startup.count, VIEWERS, "every FFmpeg played over https");
    assert_eq!(s.total_errors(), 0, "{:?}", s.errors_by_class());

    // Counted from FFmpeg's `request: GET` log lines (plus the swarm's exact probes): the
    // origin saw the same requests, give or take one in flight per viewer at the stop.
    let by_kind = counts_by_kind(&log);
    for (kind, name) in [
        (RequestKind::Master, "master"),
        (RequestKind::Playlist, "playlist"),
        (RequestKind::Segment, "segment"),
    ] {
        let got = s.kind(kind).count;
        let want = by_kind.get(name).copied().unwrap_or(0);
        eprintln!("{name}: {got} from FFmpeg's log, {want} in the access log");
        assert!(
            got.abs_diff(want) <= VIEWERS,
            "{name}: {got} counted from FFmpeg's log vs {want} in the access log"
        );
    }
    assert!(s.kind(RequestKind::Segment).count >= VIEWERS * 10);
    // No timings or bytes are invented for the tunnelled requests: only the probes (made
    // by the swarm's own client) have a TTFB.
    let timed: u64 = RequestKind::ALL.iter().map(|k| s.kind(*k).ttfb.count).sum();
    assert!(timed <= 3, "{timed} timed requests");
    assert_eq!(s.kind(RequestKind::Segment).bytes, 0);
    assert_eq!(f.processes, 0);
}

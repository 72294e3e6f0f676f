//! TLS truth tests: an in-process rustls server with a self-signed certificate.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hls_swarm::config::Http2Mode;
use hls_swarm::engine::http::{Connections, HttpSettings};
use hls_swarm::stats::event::{ErrorClass, Protocol};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

/// Self-signed P-256 certificate for localhost, example.invalid and 127.0.0.1, made with
/// `openssl req -x509 -newkey ec` for these tests only.
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBrTCCAVOgAwIBAgIULIuSXQSusLay3lFLRPjxBKeb0+YwCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzE3MjUwOVoYDzIxMjYxMTAz\nMTcyNTA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAAQie/kJ0VipDw2Tc43tfUSK7gMc2Qi2UJZ9D2lnVNpex4E4AJiqPi5y\nW2a1UEN49zWh2kQXr0V39ipuX7/A4YNgo4GAMH4wHQYDVR0OBBYEFM9rXqiesmni\nhmXq/za76R5/goLyMB8GA1UdIwQYMBaAFM9rXqiesmnihmXq/za76R5/goLyMA8G\nA1UdEwEB/wQFMAMBAf8wKwYDVR0RBCQwIoIJbG9jYWxob3N0gg9leGFtcGxlLmlu\ndmFsaWSHBH8AAAEwCgYIKoZIzj0EAwIDSAAwRQIgGhAncAOpgTTwVyBUSKMD5ldV\nWIs6kPoDKbLWXZ8EHqECIQDvU04s+40Dx/9crjXJe5QKNyvYriFDnZy2NHPFRg12\nmQ==\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgA6tRnJw+qjeToTNu\nQXxje485Ek9Dj6pOhTom0qmf8t6hRANCAAQie/kJ0VipDw2Tc43tfUSK7gMc2Qi2\nUJZ9D2lnVNpex4E4AJiqPi5yW2a1UEN49zWh2kQXr0V39ipuX7/A4YNg\n-----END PRIVATE KEY-----\n";

/// What the TLS server sends for each request.
#[derive(Clone, Copy)]
enum Mode {
    /// `200` with a 5-byte body, keep-alive.
    Ok,
    /// Announce 1000 bytes, send 400, close cleanly (close_notify).
    Truncate,
}

/// (SNI, request head) of one request.
type Seen = (Option<String>, String);

struct TlsServer {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsServer {
    async fn start(mode: Mode) -> TlsServer {
        let certs = vec![CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).expect("cert")];
        let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("key");
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
        let addr = listener.local_addr().expect("addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let accepts = accepts.clone();
            let seen = seen.clone();
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    accepts.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let sni = tls.get_ref().1.server_name().map(str::to_string);
                        let mut buf = Vec::new();
                        loop {
                            let head = loop {
                                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                    let head =
                                        String::from_utf8_lossy(&buf[..end + 4]).into_owned();
                                    buf.drain(..end + 4);
                                    break head;
                                }
                                let mut chunk = [0u8; 4096];
                                match tls.read(&mut chunk).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                                }
                            };
                            seen.lock().expect("lock").push((sni.clone(), head));
                            match mode {
                                Mode::Ok => {
                                    let reply =
                                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
                                    if tls.write_all(reply).await.is_err() {
                                        return;
                                    }
                                }
                                Mode::Truncate => {
                                    let mut reply =
                                        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
                                    reply.extend_from_slice(&[b'x'; 400]);
                                    let _ = tls.write_all(&reply).await;
                                    let _ = tls.shutdown().await;
                                    return;
                                }
                            }
                        }
                    });
                }
            }
        });
        TlsServer {
            addr,
            accepts,
            seen,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn client(insecure: bool, resolve: Option<(&str, IpAddr)>) -> Connections {
    let mut s = HttpSettings::new(Duration::from_secs(5), "tls-test".to_string());
    s.insecure_tls = insecure;
    if let Some((host, ip)) = resolve {
        s.resolve = Some(ip);
        s.resolve_host = Some(host.to_string());
    }
    Connections::new(Arc::new(s), "viewer".to_string())
}

fn host_header(head: &str) -> Option<&str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case("host").then(|| v.trim())
    })
}

#[tokio::test]
async fn insecure_https_fetches_and_reuses_the_connection() {
    let server = TlsServer::start(Mode::Ok).await;
    let mut c = client(true, None);
    let url = Url::parse(&format!("https://localhost:{}/a", server.addr.port())).expect("url");
    let first = c.get(&url, None, true).await;
    assert_eq!(first.error, None, "{first:?}");
    assert_eq!(first.status, Some(200));
    assert_eq!(first.body.as_deref(), Some(&b"hello"[..]));
    assert!(first.connected);
    let second = c.get(&url, None, false).await;
    assert_eq!(second.error, None, "{second:?}");
    assert!(!second.connected);
    assert_eq!(second.bytes, 5);
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
    let seen = server.seen();
    assert_eq!(seen[0].0.as_deref(), Some("localhost"));
}

#[tokio::test]
async fn verifying_client_rejects_a_self_signed_certificate_as_tls() {
    let server = TlsServer::start(Mode::Ok).await;
    let mut c = client(false, None);
    let url = Url::parse(&format!("https://localhost:{}/a", server.addr.port())).expect("url");
    let f = c.get(&url, None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Tls), "{f:?}");
    assert!(f.connect_error);
    assert!(f.connected);
    assert_eq!(f.status, None);
}

#[tokio::test]
async fn resolve_keeps_sni_and_host_as_the_host_name() {
    let server = TlsServer::start(Mode::Ok).await;
    let port = server.addr.port();
    let mut c = client(
        true,
        Some(("example.invalid", IpAddr::from([127, 0, 0, 1]))),
    );
    let url = Url::parse(&format!("https://example.invalid:{port}/x")).expect("url");
    let f = c.get(&url, None, false).await;
    assert_eq!(f.error, None, "{f:?}");
    let seen = server.seen();
    assert_eq!(seen[0].0.as_deref(), Some("example.invalid"));
    assert_eq!(
        host_header(&seen[0].1),
        Some(format!("example.invalid:{port}").as_str())
    );
}

#[tokio::test]
async fn https_to_an_ip_address_works_without_sni() {
    let server = TlsServer::start(Mode::Ok).await;
    let mut c = client(true, None);
    let url = Url::parse(&format!("https://{}/ip", server.addr)).expect("url");
    let f = c.get(&url, None, false).await;
    assert_eq!(f.error, None, "{f:?}");
    assert_eq!(server.seen()[0].0, None);
}

#[tokio::test]
async fn truncated_tls_body_is_truncated() {
    let server = TlsServer::start(Mode::Truncate).await;
    let mut c = client(true, None);
    let url = Url::parse(&format!("https://localhost:{}/t", server.addr.port())).expect("url");
    let f = c.get(&url, None, true).await;
    assert_eq!(f.error, Some(ErrorClass::Truncated), "{f:?}");
    assert_eq!(f.status, Some(200));
    assert_eq!(f.bytes, 400);
    assert!(!f.connect_error);
}

/// An HTTP server over TLS whose ALPN offer is `alpn` (empty: no ALPN), serving `hello`
/// over whichever protocol was negotiated (hyper, HTTP/1.1 or HTTP/2); records each
/// request's version.
struct AlpnServer {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    versions: Arc<Mutex<Vec<http::Version>>>,
    task: JoinHandle<()>,
}

impl Drop for AlpnServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AlpnServer {
    async fn start(alpn: &[&[u8]]) -> AlpnServer {
        let certs = vec![CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).expect("cert")];
        let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("key");
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let versions = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let accepts = accepts.clone();
            let versions = versions.clone();
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    accepts.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    let versions = versions.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                        let svc = hyper::service::service_fn(move |req: http::Request<_>| {
                            versions.lock().expect("lock").push(req.version());
                            let wait = req.uri().path() == "/slow";
                            async move {
                                if wait {
                                    tokio::time::sleep(Duration::from_millis(300)).await;
                                }
                                Ok::<_, std::convert::Infallible>(http::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::from_static(b"hello")),
                                ))
                            }
                        });
                        let io = hyper_util::rt::TokioIo::new(tls);
                        if h2 {
                            let _ = hyper::server::conn::http2::Builder::new(
                                hyper_util::rt::TokioExecutor::new(),
                            )
                            .serve_connection(io, svc)
                            .await;
                        } else {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, svc)
                                .await;
                        }
                    });
                }
            }
        });
        AlpnServer {
            addr,
            accepts,
            versions,
            task,
        }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("https://localhost:{}{path}", self.addr.port())).expect("url")
    }

    fn versions(&self) -> Vec<http::Version> {
        self.versions.lock().expect("lock").clone()
    }
}

fn client_with(mode: Http2Mode) -> Connections {
    let mut s = HttpSettings::new(Duration::from_secs(5), "tls-test".to_string());
    s.insecure_tls = true;
    s.http2 = mode;
    Connections::new(Arc::new(s), "viewer".to_string())
}

#[tokio::test]
async fn auto_negotiates_h2_with_an_h2_server_and_multiplexes_one_connection() {
    let server = AlpnServer::start(&[b"h2", b"http/1.1"]).await;
    let mut a = client_with(Http2Mode::Auto);
    let mut b = a.handle();
    let (slow_url, quick_url) = (server.url("/slow"), server.url("/quick"));
    let (slow, quick) = tokio::join!(a.get(&slow_url, None, true), b.get(&quick_url, None, true));
    for f in [&slow, &quick] {
        assert_eq!(f.error, None, "{f:?}");
        assert_eq!(f.body.as_deref(), Some(&b"hello"[..]));
        assert_eq!(f.protocol, Some(Protocol::Http2));
    }
    // The two overlapping loads shared one connection, opened (and counted) once.
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
    let opened: u8 = [slow.connections, quick.connections]
        .iter()
        .map(|c| c[Protocol::Http2.index()])
        .sum();
    assert_eq!(opened, 1);
    assert_eq!(slow.connections[Protocol::Http1.index()], 0);
    let again = a.get(&server.url("/quick"), None, false).await;
    assert_eq!(again.protocol, Some(Protocol::Http2));
    assert!(!again.connected);
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
    assert_eq!(server.versions(), vec![http::Version::HTTP_2; 3]);
}

#[tokio::test]
async fn auto_speaks_http1_with_a_server_without_h2() {
    for alpn in [&[b"http/1.1".as_slice()][..], &[]] {
        let server = AlpnServer::start(alpn).await;
        let mut c = client_with(Http2Mode::Auto);
        let f = c.get(&server.url("/a"), None, true).await;
        assert_eq!(f.error, None, "{f:?}");
        assert_eq!(f.protocol, Some(Protocol::Http1));
        assert_eq!(f.connections, [1, 0]);
        assert_eq!(server.versions(), vec![http::Version::HTTP_11]);
    }
}

#[tokio::test]
async fn off_offers_only_http1_to_an_h2_server() {
    let server = AlpnServer::start(&[b"h2", b"http/1.1"]).await;
    let mut c = client_with(Http2Mode::Off);
    let f = c.get(&server.url("/a"), None, true).await;
    assert_eq!(f.error, None, "{f:?}");
    assert_eq!(f.protocol, Some(Protocol::Http1));
    assert_eq!(server.versions(), vec![http::Version::HTTP_11]);
}

#[tokio::test]
async fn on_fails_as_tls_when_the_server_refuses_h2() {
    // A server with ALPN configured but no h2 refuses the handshake; one without ALPN
    // completes it without choosing h2. Both are a TLS failure, counted as one.
    for alpn in [&[b"http/1.1".as_slice()][..], &[]] {
        let server = AlpnServer::start(alpn).await;
        let mut c = client_with(Http2Mode::On);
        let f = c.get(&server.url("/a"), None, true).await;
        assert_eq!(f.error, Some(ErrorClass::Tls), "{f:?}");
        assert!(f.connect_error);
        assert_eq!(f.protocol, None);
        assert!(server.versions().is_empty());
    }
    let server = AlpnServer::start(&[b"h2", b"http/1.1"]).await;
    let mut c = client_with(Http2Mode::On);
    let f = c.get(&server.url("/a"), None, true).await;
    assert_eq!(f.error, None, "{f:?}");
    assert_eq!(f.protocol, Some(Protocol::Http2));
}

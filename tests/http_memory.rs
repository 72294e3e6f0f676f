//! Heap held per idle keep-alive connection, measured with a counting allocator.
//!
//! Only allocations made on the client's thread are counted (the server runs on plain
//! std threads), and the client runs on a current-thread runtime on the test thread, so
//! the figure is the client's alone: `Connections`, the hyper connection task with its
//! buffers, the socket registration, and their share of runtime bookkeeping.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use hls_swarm::engine::http::{Connections, HttpSettings};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use url::Url;

/// Same self-signed test certificate as tests/http_tls.rs.
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBrTCCAVOgAwIBAgIULIuSXQSusLay3lFLRPjxBKeb0+YwCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzE3MjUwOVoYDzIxMjYxMTAz\nMTcyNTA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAAQie/kJ0VipDw2Tc43tfUSK7gMc2Qi2UJZ9D2lnVNpex4E4AJiqPi5y\nW2a1UEN49zWh2kQXr0V39ipuX7/A4YNgo4GAMH4wHQYDVR0OBBYEFM9rXqiesmni\nhmXq/za76R5/goLyMB8GA1UdIwQYMBaAFM9rXqiesmnihmXq/za76R5/goLyMA8G\nA1UdEwEB/wQFMAMBAf8wKwYDVR0RBCQwIoIJbG9jYWxob3N0gg9leGFtcGxlLmlu\ndmFsaWSHBH8AAAEwCgYIKoZIzj0EAwIDSAAwRQIgGhAncAOpgTTwVyBUSKMD5ldV\nWIs6kPoDKbLWXZ8EHqECIQDvU04s+40Dx/9crjXJe5QKNyvYriFDnZy2NHPFRg12\nmQ==\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgA6tRnJw+qjeToTNu\nQXxje485Ek9Dj6pOhTom0qmf8t6hRANCAAQie/kJ0VipDw2Tc43tfUSK7gMc2Qi2\nUJZ9D2lnVNpex4E4AJiqPi5yW2a1UEN49zWh2kQXr0V39ipuX7/A4YNg\n-----END PRIVATE KEY-----\n";

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted.
    static TRACK: Cell<bool> = const { Cell::new(false) };
    /// Net bytes allocated by this thread while tracking. Per thread, so tests running
    /// in parallel do not see each other's allocations.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    if TRACK.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|live| live.set(live.get() + delta));
    }
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

// SAFETY: delegates every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Keep-alive server on std threads: answers every request with a 4 KiB body, over TLS
/// when `tls` is given.
fn spawn_server(tls: Option<Arc<rustls::ServerConfig>>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { return };
            let tls = tls.clone();
            std::thread::spawn(move || {
                let mut stream: Box<dyn ReadWrite> = match tls {
                    None => Box::new(tcp),
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(conn) => Box::new(rustls::StreamOwned::new(conn, tcp)),
                        Err(_) => return,
                    },
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n".to_vec();
                reply.extend_from_slice(&[0x47; 4096]);
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if stream.write_all(&reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn server_tls_config() -> Arc<rustls::ServerConfig> {
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
    Arc::new(config)
}

/// Opens `n` viewer connections to `url`, leaves them idle, and returns the heap
/// (bytes) they hold each.
fn idle_bytes_per_connection(url: &Url, insecure_tls: bool, n: usize) -> isize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut settings = HttpSettings::new(Duration::from_secs(5), "mem".to_string());
    settings.insecure_tls = insecure_tls;
    let settings = Arc::new(settings);

    TRACK.with(|t| t.set(true));
    let per_conn = rt.block_on(async {
        // Warm up runtime internals (timer wheel, driver, TLS config) outside the
        // measurement.
        let mut warm = Connections::new(settings.clone(), "warm".to_string());
        let f = warm.get(url, None, false).await;
        assert!(f.is_ok(), "{f:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;

        let before = live();
        let mut viewers = Vec::with_capacity(n);
        for i in 0..n {
            let mut c = Connections::new(settings.clone(), format!("viewer-{i}"));
            let f = c.get(url, None, false).await;
            assert!(f.is_ok(), "{f:?}");
            assert_eq!(f.bytes, 4096);
            viewers.push(c);
        }
        // Let every connection task settle into idle.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = live();
        assert!(viewers.iter().all(|c| c.idle_connections() == 1));
        drop(viewers);
        drop(warm);
        (after - before) / n as isize
    });
    TRACK.with(|t| t.set(false));
    per_conn
}

#[test]
fn idle_tls_connection_cost_is_bounded() {
    let addr = spawn_server(Some(server_tls_config()));
    let url = Url::parse(&format!("https://localhost:{}/seg.ts", addr.port())).expect("url");
    let per_conn = idle_bytes_per_connection(&url, true, 100);
    eprintln!("heap per idle HTTPS viewer connection: {per_conn} bytes");
    assert!(per_conn > 0, "measurement is broken");
    assert!(
        per_conn < 64 * 1024,
        "idle TLS connection holds {per_conn} bytes"
    );
}

#[test]
fn idle_connection_costs_under_30_kib() {
    let addr = spawn_server(None);
    let url = Url::parse(&format!("http://{addr}/seg.ts")).expect("url");
    let per_conn = idle_bytes_per_connection(&url, false, 200);
    eprintln!("heap per idle plain-HTTP viewer connection: {per_conn} bytes");
    assert!(per_conn > 0, "measurement is broken");
    assert!(
        per_conn < 30 * 1024,
        "idle connection holds {per_conn} bytes, target < 30 KiB"
    );
}

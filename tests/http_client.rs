//! Truth tests for the per-viewer HTTP client against tiny scripted TCP servers:
//! injected delays, truncation, resets, hangs, redirects, keep-alive, `-resolve`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hls_swarm::engine::http::{Connections, Fetch, HttpSettings};
use hls_swarm::stats::event::ErrorClass;
use http::{HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use url::Url;

// ---------------------------------------------------------------- scripted server

/// What the server does after writing a reply.
#[derive(Clone, Copy, Debug, PartialEq)]
enum After {
    KeepAlive,
    /// Graceful close (FIN) without announcing it.
    Close,
    /// Abortive close (RST).
    Reset,
    /// Keep the socket open and never write again.
    Hang,
}

#[derive(Clone, Debug)]
struct Reply {
    head_delay: Duration,
    /// Complete head including the blank line; `None` writes nothing (reset/hang before head).
    head: Option<String>,
    chunks: Vec<(Duration, Vec<u8>)>,
    after: After,
}

impl Reply {
    fn status(code: u16, reason: &str, body: &[u8], extra: &str) -> Self {
        Reply {
            head_delay: Duration::ZERO,
            head: Some(format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\n{extra}\r\n",
                body.len()
            )),
            chunks: vec![(Duration::ZERO, body.to_vec())],
            after: After::KeepAlive,
        }
    }

    fn ok(body: &[u8]) -> Self {
        Self::status(200, "OK", body, "")
    }

    fn redirect(location: &str) -> Self {
        Self::status(302, "Found", b"moved", &format!("Location: {location}\r\n"))
    }

    fn silent(after: After) -> Self {
        Reply {
            head_delay: Duration::ZERO,
            head: None,
            chunks: Vec::new(),
            after,
        }
    }
}

/// Request head as text and the index of the request on its connection.
type Handler = dyn Fn(&str, usize) -> Reply + Send + Sync;

struct Server {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Server {
        Self::start_on("127.0.0.1:0", handler)
            .await
            .expect("bind loopback")
    }

    async fn start_on(
        bind: &str,
        handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let accepts = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task = tokio::spawn({
            let accepts = accepts.clone();
            let heads = heads.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    accepts.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_conn(stream, handler.clone(), heads.clone()));
                }
            }
        });
        Ok(Server {
            addr,
            accepts,
            heads,
            task,
        })
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("url")
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

async fn serve_conn(mut stream: TcpStream, handler: Arc<Handler>, heads: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    for index in 0.. {
        let Some(head) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        heads.lock().expect("lock").push(head.clone());
        let reply = handler(&head, index);
        // tokio rounds timers up to the next millisecond, even zero ones: skip those.
        if !reply.head_delay.is_zero() {
            sleep(reply.head_delay).await;
        }
        if let Some(h) = &reply.head
            && stream.write_all(h.as_bytes()).await.is_err()
        {
            return;
        }
        for (delay, chunk) in &reply.chunks {
            if !delay.is_zero() {
                sleep(*delay).await;
            }
            if stream.write_all(chunk).await.is_err() {
                return;
            }
        }
        match reply.after {
            After::KeepAlive => continue,
            After::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            After::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            After::Hang => {
                sleep(Duration::from_secs(3600)).await;
                return;
            }
        }
    }
}

/// Reads one request head (requests are GETs without bodies); `None` on EOF/error.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
            buf.drain(..end + 4);
            return Some(head);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// A header value from a request head, by case-insensitive name.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// ---------------------------------------------------------------- client helpers

fn settings(timeout: Duration) -> HttpSettings {
    HttpSettings::new(timeout, "test-ua".to_string())
}

fn client(settings: HttpSettings) -> Connections {
    Connections::new(Arc::new(settings), "viewer-ua/1.0".to_string())
}

fn default_client() -> Connections {
    client(settings(Duration::from_secs(5)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn assert_ok(f: &Fetch) {
    assert_eq!(f.error, None, "fetch failed: {f:?}");
    assert_eq!(f.status, Some(200), "{f:?}");
}

// ---------------------------------------------------------------- timing

#[tokio::test]
async fn ttfb_measures_injected_header_delay() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::from_millis(150),
        ..Reply::ok(b"hello")
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/x"), None, true).await;
    assert_ok(&f);
    let ttfb = f.ttfb.expect("ttfb");
    eprintln!("ttfb {:.3} ms, total {:.3} ms", ms(ttfb), ms(f.total));
    assert!(
        (ms(ttfb) - 150.0).abs() <= 5.0,
        "ttfb {} ms, expected 150 ± 5",
        ms(ttfb)
    );
    assert!(f.total >= ttfb);
    assert_eq!(f.bytes, 5);
    assert_eq!(f.body.as_deref(), Some(&b"hello"[..]));
    assert!(f.connected);

    // The same on a reused connection.
    let f = c.get(&server.url("/x"), None, false).await;
    assert_ok(&f);
    assert!(!f.connected);
    assert!((ms(f.ttfb.expect("ttfb")) - 150.0).abs() <= 5.0, "{f:?}");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn slow_body_total_covers_the_whole_body() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_string()),
        chunks: (0..5)
            .map(|i| (Duration::from_millis(40), vec![b'a' + i; 1000]))
            .collect(),
        after: After::KeepAlive,
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/slow"), None, true).await;
    assert_ok(&f);
    assert_eq!(f.bytes, 5000);
    let ttfb = ms(f.ttfb.expect("ttfb"));
    let total = ms(f.total);
    assert!(ttfb < 20.0, "ttfb {ttfb} ms");
    assert!(
        (200.0..=240.0).contains(&total),
        "total {total} ms, expected ~200"
    );
    let body = f.body.expect("body");
    assert_eq!(body.len(), 5000);
    assert_eq!(&body[..1000], &[b'a'; 1000][..]);
    assert_eq!(&body[4000..], &[b'e'; 1000][..]);
}

#[tokio::test]
async fn chunked_body_is_counted_and_discarded_when_not_kept() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()),
        chunks: vec![
            (Duration::ZERO, b"3\r\nabc\r\n".to_vec()),
            (
                Duration::from_millis(10),
                b"4\r\ndefg\r\n0\r\n\r\n".to_vec(),
            ),
        ],
        after: After::KeepAlive,
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/c"), None, false).await;
    assert_ok(&f);
    assert_eq!(f.bytes, 7);
    assert!(f.body.is_none());
    let f = c.get(&server.url("/c"), None, true).await;
    assert_eq!(f.body.as_deref(), Some(&b"abcdefg"[..]));
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn close_delimited_body_is_complete_and_next_fetch_reconnects() {
    // No Content-Length, no chunking: the body ends when the server closes.
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\n\r\n".to_string()),
        chunks: vec![(Duration::ZERO, vec![b'z'; 3000])],
        after: After::Close,
    })
    .await;
    let mut c = default_client();
    for i in 0..3 {
        let f = c.get(&server.url("/eof"), None, true).await;
        assert_ok(&f);
        assert_eq!(f.bytes, 3000);
        assert_eq!(f.body.map(|b| b.len()), Some(3000));
        assert!(f.connected, "fetch {i}");
    }
    assert_eq!(server.accepts(), 3);
}

// ---------------------------------------------------------------- status errors

#[tokio::test]
async fn status_503_is_http5xx_counted_and_connection_reused() {
    let server = Server::start(|head, _| {
        if path_of(head) == "/bad" {
            Reply::status(503, "Service Unavailable", b"unavailable", "")
        } else {
            Reply::ok(b"fine")
        }
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/bad"), None, true).await;
    assert_eq!(f.status, Some(503));
    assert_eq!(f.error, Some(ErrorClass::Http5xx));
    assert_eq!(f.bytes, 11);
    assert!(f.body.is_none());
    assert!(!f.connect_error);
    assert!(f.ttfb.is_some());

    let f = c.get(&server.url("/good"), None, true).await;
    assert_ok(&f);
    assert!(!f.connected);
    assert_eq!(server.accepts(), 1, "503 connection must be reused");
}

#[tokio::test]
async fn status_404_is_http4xx() {
    let server = Server::start(|_, _| Reply::status(404, "Not Found", b"nope", "")).await;
    let mut c = default_client();
    let f = c.get(&server.url("/missing"), None, false).await;
    assert_eq!(f.status, Some(404));
    assert_eq!(f.error, Some(ErrorClass::Http4xx));
    assert_eq!(f.bytes, 4);
    assert!(!f.connect_error);
}

// ---------------------------------------------------------------- transport errors

#[tokio::test]
async fn body_shorter_than_content_length_is_truncated() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_string()),
        chunks: vec![(Duration::ZERO, vec![b'x'; 400])],
        after: After::Close,
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/t"), None, true).await;
    assert_eq!(f.error, Some(ErrorClass::Truncated), "{f:?}");
    assert_eq!(f.status, Some(200));
    assert_eq!(f.bytes, 400);
    assert!(f.body.is_none());
    assert!(!f.connect_error);
}

#[tokio::test]
async fn closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut c = default_client();
    let url = Url::parse(&format!("http://{addr}/x")).expect("url");
    let f = c.get(&url, None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Refused), "{f:?}");
    assert!(f.connect_error);
    assert!(f.connected);
    assert_eq!(f.status, None);
    assert_eq!(f.ttfb, None);
}

#[tokio::test]
async fn hanging_server_times_out() {
    let server = Server::start(|_, _| Reply::silent(After::Hang)).await;
    let mut c = client(settings(Duration::from_millis(200)));
    let started = Instant::now();
    let f = c.get(&server.url("/hang"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Timeout), "{f:?}");
    assert!(f.connect_error);
    assert_eq!(f.status, None);
    let total = ms(f.total);
    assert!((200.0..=230.0).contains(&total), "total {total} ms");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn timeout_inside_body_keeps_partial_figures() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_string()),
        chunks: vec![(Duration::ZERO, vec![b'x'; 300])],
        after: After::Hang,
    })
    .await;
    let mut c = client(settings(Duration::from_millis(200)));
    let f = c.get(&server.url("/partial"), None, true).await;
    assert_eq!(f.error, Some(ErrorClass::Timeout), "{f:?}");
    assert_eq!(f.status, Some(200));
    assert_eq!(f.bytes, 300);
    assert!(!f.connect_error);
    assert!(f.body.is_none());
    // The half-read connection must not be reused.
    assert_eq!(c.idle_connections(), 0);
}

#[tokio::test]
async fn reset_before_head_is_reset() {
    let server = Server::start(|_, _| Reply::silent(After::Reset)).await;
    let mut c = default_client();
    let f = c.get(&server.url("/r"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Reset), "{f:?}");
    assert!(f.connect_error);
    assert_eq!(f.status, None);
}

#[tokio::test]
async fn close_before_head_is_reset() {
    let server = Server::start(|_, _| Reply::silent(After::Close)).await;
    let mut c = default_client();
    let f = c.get(&server.url("/r"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Reset), "{f:?}");
    assert!(f.connect_error);
}

#[tokio::test]
async fn reset_mid_body_is_reset() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        head: Some("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_string()),
        chunks: vec![(Duration::ZERO, vec![b'x'; 1000])],
        after: After::Reset,
    })
    .await;
    let mut c = default_client();
    let f = c.get(&server.url("/r"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Reset), "{f:?}");
    assert_eq!(f.status, Some(200));
    assert!(f.bytes <= 1000);
    assert!(!f.connect_error);
}

#[tokio::test]
async fn reset_on_reused_connection_mid_request_is_reported() {
    // The first request succeeds; every later one is read and then answered with a RST.
    // On the reused connection that looks like a stale keep-alive, so the client retries
    // once on a fresh connection — where it is reset again: that must surface as Reset.
    let served = Arc::new(AtomicUsize::new(0));
    let server = Server::start({
        let served = served.clone();
        move |_, _| {
            if served.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::ok(b"first")
            } else {
                Reply::silent(After::Reset)
            }
        }
    })
    .await;
    let mut c = default_client();
    assert_ok(&c.get(&server.url("/a"), None, false).await);
    let f = c.get(&server.url("/b"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Reset), "{f:?}");
    assert!(f.connect_error);
    assert!(f.connected);
    assert_eq!(server.accepts(), 2, "exactly one retry");
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unresolvable_host_is_dns() {
    let mut c = default_client();
    let url = Url::parse("http://no-such-host.invalid/x").expect("url");
    let f = c.get(&url, None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Dns), "{f:?}");
    assert!(f.connect_error);
}

// ---------------------------------------------------------------- redirects

fn redirect_chain(head: &str, _: usize) -> Reply {
    let path = path_of(head);
    match path.strip_prefix("/r/").and_then(|n| n.parse::<u32>().ok()) {
        Some(0) => Reply::ok(b"landed"),
        Some(n) => Reply::redirect(&format!("/r/{}", n - 1)),
        None => Reply::status(404, "Not Found", b"", ""),
    }
}

#[tokio::test]
async fn redirect_chain_of_three_is_followed() {
    let server = Server::start(redirect_chain).await;
    let mut c = default_client();
    let f = c.get(&server.url("/r/3"), None, true).await;
    assert_ok(&f);
    assert_eq!(f.redirects, 3);
    assert_eq!(f.final_url, server.url("/r/0"));
    assert_eq!(f.bytes, 6, "only the final body is counted");
    assert_eq!(f.body.as_deref(), Some(&b"landed"[..]));
    assert_eq!(
        server.accepts(),
        1,
        "redirect bodies drained, connection reused"
    );
    assert_eq!(server.heads().len(), 4);
}

#[tokio::test]
async fn redirect_chain_of_seven_exceeds_the_limit() {
    let server = Server::start(redirect_chain).await;
    let mut c = default_client();
    let f = c.get(&server.url("/r/7"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Other), "{f:?}");
    assert_eq!(f.redirects, 5);
    assert_eq!(f.status, Some(302));
    assert!(!f.connect_error);
    assert_eq!(server.heads().len(), 6);
}

#[tokio::test]
async fn redirect_without_location_is_other() {
    let server = Server::start(|_, _| Reply::status(302, "Found", b"", "")).await;
    let mut c = default_client();
    let f = c.get(&server.url("/x"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Other));
    assert_eq!(f.status, Some(302));
    assert_eq!(f.redirects, 0);
}

#[tokio::test]
async fn redirect_to_another_host_opens_a_second_connection() {
    let target = Server::start(|_, _| Reply::ok(b"there")).await;
    let location = target.url("/final").to_string();
    let origin = Server::start(move |_, _| Reply::redirect(&location)).await;
    let mut c = default_client();
    let f = c.get(&origin.url("/start"), None, true).await;
    assert_ok(&f);
    assert!(f.connected);
    assert_eq!(f.redirects, 1);
    assert_eq!(f.final_url, target.url("/final"));
    assert_eq!((origin.accepts(), target.accepts()), (1, 1));
    assert_eq!(c.idle_connections(), 2);
}

// ---------------------------------------------------------------- keep-alive

#[tokio::test]
async fn ten_sequential_requests_use_one_connection() {
    let server = Server::start(|_, _| Reply::ok(b"segment")).await;
    let mut c = default_client();
    for i in 0..10 {
        let f = c.get(&server.url(&format!("/s{i}")), None, false).await;
        assert_ok(&f);
        assert_eq!(f.connected, i == 0, "request {i}");
        assert_eq!(f.bytes, 7);
    }
    assert_eq!(server.accepts(), 1);
    assert_eq!(server.heads().len(), 10);
}

#[tokio::test]
async fn a_viewers_handles_share_one_connection_when_loads_do_not_overlap() {
    let server = Server::start(|_, _| Reply::ok(b"segment")).await;
    let mut playlist = default_client();
    let mut segments = playlist.handle();
    for i in 0..5 {
        let f = playlist
            .get(&server.url(&format!("/p{i}")), None, true)
            .await;
        assert_ok(&f);
        assert_eq!(f.connected, i == 0, "playlist {i}");
        let f = segments
            .get(&server.url(&format!("/s{i}")), None, false)
            .await;
        assert_ok(&f);
        assert!(!f.connected, "segment {i} reuses the idle connection");
    }
    assert_eq!(server.accepts(), 1);
    assert_eq!(playlist.idle_connections(), 1);
    assert_eq!(segments.idle_connections(), 1);
}

#[tokio::test]
async fn overlapping_loads_get_their_own_connections() {
    let server = Server::start(|_, _| Reply {
        head_delay: Duration::from_millis(150),
        ..Reply::ok(b"slow")
    })
    .await;
    let mut a = default_client();
    let mut b = a.handle();
    let (ua, ub) = (server.url("/a"), server.url("/b"));
    let (fa, fb) = tokio::join!(a.get(&ua, None, false), b.get(&ub, None, false));
    assert_ok(&fa);
    assert_ok(&fb);
    assert!(fa.connected && fb.connected);
    assert_eq!(server.accepts(), 2);
    assert_eq!(a.idle_connections(), 2);
    // Sequential loads from now on reuse the most recently idle one and open nothing.
    for _ in 0..3 {
        assert!(!a.get(&server.url("/a"), None, false).await.connected);
        assert!(!b.get(&server.url("/b"), None, false).await.connected);
    }
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn connection_idle_past_the_idle_timeout_is_closed_and_replaced() {
    let server = Server::start(|_, _| Reply::ok(b"x")).await;
    let mut c = default_client();
    assert!(c.get(&server.url("/"), None, false).await.connected);
    assert!(!c.get(&server.url("/"), None, false).await.connected);
    // Jump the clock past the idle timeout, then let it run normally again.
    tokio::time::pause();
    tokio::time::advance(hls_swarm::engine::http::IDLE_TIMEOUT + Duration::from_secs(1)).await;
    tokio::time::resume();
    let f = c.get(&server.url("/"), None, false).await;
    assert_ok(&f);
    assert!(f.connected, "an expired idle connection must not be reused");
    assert_eq!(server.accepts(), 2);
    assert_eq!(c.idle_connections(), 1);
}

#[tokio::test]
async fn idle_connection_closed_by_server_is_replaced_silently() {
    let server = Server::start(|_, _| Reply {
        after: After::Close,
        ..Reply::ok(b"once")
    })
    .await;
    let mut c = default_client();
    assert_ok(&c.get(&server.url("/a"), None, false).await);
    sleep(Duration::from_millis(100)).await;
    let f = c.get(&server.url("/b"), None, false).await;
    assert_ok(&f);
    assert!(f.connected);
    assert!(!f.connect_error);
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn connection_closed_right_after_response_never_surfaces() {
    // No pause between requests: the close races the next request. Whatever the
    // interleaving, a silent close of an idle connection must not become an error.
    let server = Server::start(|_, _| Reply {
        after: After::Close,
        ..Reply::ok(b"once")
    })
    .await;
    let mut c = default_client();
    for i in 0..30 {
        let f = c.get(&server.url(&format!("/{i}")), None, false).await;
        assert_ok(&f);
        assert!(f.connected, "request {i} must have needed a new connection");
    }
    assert_eq!(server.accepts(), 30);
}

#[tokio::test]
async fn keep_alive_closed_as_the_request_arrives_is_retried_once() {
    // The classic keep-alive race: the server drops the idle connection just as our next
    // request reaches it (it reads it and closes without answering). The GET never
    // reached the application, so the client retries once on a fresh connection and the
    // viewer sees a success — with `connected` set.
    let server = Server::start(|_, index| {
        if index == 0 {
            Reply::ok(b"first")
        } else {
            Reply::silent(After::Close)
        }
    })
    .await;
    let mut c = default_client();
    assert_ok(&c.get(&server.url("/a"), None, false).await);
    for i in 0..3 {
        let f = c.get(&server.url("/b"), None, false).await;
        assert_ok(&f);
        assert!(f.connected, "fetch {i}");
        assert!(!f.connect_error);
    }
    assert_eq!(server.accepts(), 4);
}

#[tokio::test]
async fn connection_close_header_is_honoured() {
    let server =
        Server::start(|_, _| Reply::status(200, "OK", b"bye", "Connection: close\r\n")).await;
    let mut c = default_client();
    for _ in 0..3 {
        let f = c.get(&server.url("/x"), None, false).await;
        assert_ok(&f);
        assert!(f.connected);
    }
    assert_eq!(server.accepts(), 3);
}

#[tokio::test]
async fn reset_drops_connections() {
    let server = Server::start(|_, _| Reply::ok(b"x")).await;
    let mut c = default_client();
    assert!(c.get(&server.url("/"), None, false).await.connected);
    assert_eq!(c.idle_connections(), 1);
    c.reset();
    assert_eq!(c.idle_connections(), 0);
    assert!(c.get(&server.url("/"), None, false).await.connected);
    assert_eq!(server.accepts(), 2);
}

// ---------------------------------------------------------------- request shape

#[tokio::test]
async fn ranged_get_sends_range_and_standard_headers() {
    let server = Server::start(|_, _| Reply::status(206, "Partial Content", &[7u8; 100], "")).await;
    let mut s = settings(Duration::from_secs(5));
    s.extra_headers.insert(
        HeaderName::from_static("cache-control"),
        HeaderValue::from_static("no-cache"),
    );
    let mut c = client(s);
    let f = c.get(&server.url("/seg.ts"), Some((1000, 100)), true).await;
    assert_eq!(f.error, None);
    assert_eq!(f.status, Some(206));
    assert_eq!(f.bytes, 100);
    let heads = server.heads();
    let head = &heads[0];
    assert!(head.starts_with("GET /seg.ts HTTP/1.1\r\n"), "{head}");
    assert_eq!(header(head, "range"), Some("bytes=1000-1099"));
    assert_eq!(header(head, "user-agent"), Some("viewer-ua/1.0"));
    assert_eq!(header(head, "accept"), Some("*/*"));
    assert_eq!(header(head, "cache-control"), Some("no-cache"));
    assert_eq!(header(head, "host"), Some(server.addr.to_string().as_str()));
}

#[tokio::test]
async fn resolve_connects_to_the_given_ip_and_keeps_the_host_name() {
    let server = Server::start(|_, _| Reply::ok(b"resolved")).await;
    let mut s = settings(Duration::from_secs(5));
    s.resolve = Some(IpAddr::from([127, 0, 0, 1]));
    s.resolve_host = Some("example.invalid".to_string());
    let mut c = client(s);
    let port = server.addr.port();
    let url = Url::parse(&format!("http://example.invalid:{port}/x")).expect("url");
    let f = c.get(&url, None, true).await;
    assert_ok(&f);
    assert_eq!(
        header(&server.heads()[0], "host"),
        Some(format!("example.invalid:{port}").as_str())
    );

    // Other hosts are not affected by -resolve.
    let other = Url::parse(&format!("http://other.invalid:{port}/x")).expect("url");
    let f = c.get(&other, None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Dns));
}

#[tokio::test]
async fn resolve_applies_to_absolute_redirect_targets() {
    let target = Server::start(|_, _| Reply::ok(b"edge")).await;
    let location = format!("http://EXAMPLE.invalid:{}/seg", target.addr.port());
    let origin = Server::start(move |_, _| Reply::redirect(&location)).await;
    let mut s = settings(Duration::from_secs(5));
    s.resolve = Some(IpAddr::from([127, 0, 0, 1]));
    s.resolve_host = Some("example.invalid".to_string());
    let mut c = client(s);
    let f = c.get(&origin.url("/start"), None, false).await;
    assert_ok(&f);
    assert_eq!(f.redirects, 1);
    assert_eq!(f.final_url.host_str(), Some("example.invalid"));
    assert_eq!(target.accepts(), 1);
}

#[tokio::test]
async fn ipv6_loopback_works_when_available() {
    let Ok(server) = Server::start_on("[::1]:0", |_, _| Reply::ok(b"v6")).await else {
        eprintln!("skipping: no IPv6 loopback");
        return;
    };
    let port = server.addr.port();
    let mut c = default_client();
    let url = Url::parse(&format!("http://[::1]:{port}/v6")).expect("url");
    let f = c.get(&url, None, true).await;
    assert_ok(&f);
    assert_eq!(
        header(&server.heads()[0], "host"),
        Some(format!("[::1]:{port}").as_str())
    );

    // -resolve to an IPv6 address.
    let mut s = settings(Duration::from_secs(5));
    s.resolve = Some("::1".parse().expect("ip"));
    s.resolve_host = Some("stream.invalid".to_string());
    let mut c = client(s);
    let url = Url::parse(&format!("http://stream.invalid:{port}/v6")).expect("url");
    assert_ok(&c.get(&url, None, false).await);
}

/// A plain-HTTP server that answers whatever bytes arrive (a TLS ClientHello included)
/// with a 400 and closes, as nginx does; or closes straight away when `answer` is false.
async fn plain_responder(answer: bool) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            if answer {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            }
            let _ = stream.shutdown().await;
        }
    });
    (addr, task)
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_tls_or_reset() {
    for answer in [true, false] {
        let (addr, task) = plain_responder(answer).await;
        let mut c = default_client();
        let url = Url::parse(&format!("https://{addr}/x")).expect("url");
        let f = c.get(&url, None, false).await;
        assert!(
            matches!(f.error, Some(ErrorClass::Tls | ErrorClass::Reset)),
            "answer={answer}: {f:?}"
        );
        assert!(f.connect_error);
        assert!(f.total < Duration::from_secs(1));
        task.abort();
    }
}

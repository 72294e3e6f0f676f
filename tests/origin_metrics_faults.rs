//! Broken exporters: garbage, HTTP 500, non-HTTP, oversized and hanging endpoints are
//! counted as scrape errors with a useful last error, never stop the run, and a hanging
//! endpoint does not pile up connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hls_swarm::config::Config;
use hls_swarm::config::OriginMetricsConfig;
use hls_swarm::origin_metrics::{OriginScraper, OriginStats};
use hls_swarm::swarm::{self, RunHooks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout};

/// Open connections to `/hang` right now, and the most ever open at once.
#[derive(Default)]
struct HangCount {
    open: AtomicUsize,
    peak: AtomicUsize,
}

/// A fake exporter on loopback; returns its base URL.
async fn fake_exporter(hang: Arc<HangCount>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, hang.clone()));
        }
    });
    format!("http://{addr}")
}

async fn serve(mut sock: TcpStream, hang: Arc<HangCount>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let reply = |status: &str, body: &[u8]| {
        let mut r = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let bytes = match path.as_str() {
        "/garbage" => reply("200 OK", b"<html><body>Welcome to nginx!</body></html>\n"),
        "/binary" => reply("200 OK", &[0xff, 0xfe, 0x00, 0x41, 0x80]),
        "/500" => reply("500 Internal Server Error", b"oops\n"),
        "/nothttp" => b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(),
        "/huge" => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let line = b"node_memory_MemTotal_bytes 1\n".repeat(4096);
            for _ in 0..200 {
                if sock.write_all(&line).await.is_err() {
                    return;
                }
            }
            return;
        }
        "/hang" => {
            let now = hang.open.fetch_add(1, Ordering::SeqCst) + 1;
            hang.peak.fetch_max(now, Ordering::SeqCst);
            // Never answer; notice when the client gives up and closes.
            let _ = timeout(Duration::from_secs(30), sock.read(&mut chunk)).await;
            hang.open.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        _ => reply("404 Not Found", b""),
    };
    let _ = sock.write_all(&bytes).await;
    let _ = sock.shutdown().await;
}

fn om(node: &str, nginx: &str) -> OriginMetricsConfig {
    let mut c = OriginMetricsConfig::new(
        Some(url::Url::parse(node).expect("url")),
        Some(url::Url::parse(nginx).expect("url")),
    );
    c.interval = Duration::from_millis(250);
    c.window = Duration::from_secs(10);
    c.timeout = Duration::from_secs(1);
    c
}

async fn wait(scraper: &OriginScraper, cond: impl Fn(&OriginStats) -> bool) -> OriginStats {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = scraper.stats_now();
        if cond(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out: {s:#?}");
        sleep(Duration::from_millis(50)).await;
    }
}

fn errors(s: &OriginStats) -> (u64, u64) {
    (
        s.node.as_ref().map_or(0, |n| n.scrape_errors),
        s.nginx.as_ref().map_or(0, |n| n.scrape_errors),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_broken_endpoint_is_a_counted_error() {
    let hang = Arc::new(HangCount::default());
    let base = fake_exporter(hang.clone()).await;
    for (path, expect) in [
        ("/garbage", "not Prometheus text format: line 1"),
        ("/binary", "not UTF-8"),
        ("/500", "HTTP 500"),
        ("/nothttp", "invalid HTTP"),
        ("/huge", "larger than 16 MiB"),
        ("/404", "HTTP 404"),
    ] {
        let scraper = OriginScraper::start(
            &om(&format!("{base}{path}"), &format!("{base}{path}")),
            false,
            Instant::now(),
        );
        let s = wait(&scraper, |s| {
            let (a, b) = errors(s);
            a >= 2 && b >= 2
        })
        .await;
        assert_eq!(s.scrapes_ok, 0);
        for src in [&s.node, &s.nginx] {
            let e = src
                .as_ref()
                .and_then(|n| n.last_error.clone())
                .unwrap_or_default();
            assert!(
                e.contains(expect),
                "{path}: {e:?} should contain {expect:?}"
            );
        }
        assert!(s.cpu_percent.last.is_none() && s.nginx_connections_active.last.is_none());
        scraper.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_times_out_without_piling_up_connections() {
    let hang = Arc::new(HangCount::default());
    let base = fake_exporter(hang.clone()).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let scraper = OriginScraper::start(
        &om(
            &format!("{base}/hang"),
            &format!("http://127.0.0.1:{refused}/metrics"),
        ),
        false,
        Instant::now(),
    );
    let s = wait(&scraper, |s| errors(s).0 >= 3).await;
    let node = s.node.clone().unwrap_or_default();
    assert!(
        node.last_error.as_deref() == Some("timed out after 1s"),
        "{node:?}"
    );
    assert!(errors(&s).1 >= 3, "refused port counts too: {s:?}");
    assert!(
        s.nginx
            .and_then(|n| n.last_error)
            .is_some_and(|e| e.starts_with("connect:")),
    );
    // Each timed-out scrape closed its connection: after 3+ timeouts at most one is open,
    // plus possibly the next one before the server has noticed the previous close.
    assert!(hang.peak.load(Ordering::SeqCst) <= 2);
    scraper.stop().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while hang.open.load(Ordering::SeqCst) > 0 {
        assert!(
            Instant::now() < deadline,
            "stop left a scrape connection open"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_broken_exporters_completes_and_reports_the_errors() {
    let hang = Arc::new(HangCount::default());
    let base = fake_exporter(hang).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.json");
    let args = [
        "hls-swarm".to_string(),
        "-clients".into(),
        "1".into(),
        "-duration".into(),
        "3s".into(),
        "-origin-metrics".into(),
        format!("{base}/500"),
        "-nginx-metrics".into(),
        format!("{base}/garbage"),
        "-origin-metrics-interval".into(),
        "250ms".into(),
        "-origin-metrics-window".into(),
        "10s".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    let cli = hls_swarm::config::cli::parse_from(args).expect("cli");
    let cfg = Arc::new(Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}")));
    let report = timeout(
        Duration::from_secs(30),
        swarm::run(cfg.clone(), RunHooks::default()),
    )
    .await
    .expect("bounded")
    .expect("the run is not failed by broken exporters");
    assert!(report.snapshot.total_requests() > 0, "the swarm ran");
    let o = report.snapshot.origin.clone().expect("origin configured");
    assert!(o.scrape_errors >= 8, "{o:?}");
    assert_eq!(o.scrapes_ok, 0);
    let summary = hls_swarm::output::summary::render(
        &report,
        &hls_swarm::slo::evaluate(&cfg.slo, &report.snapshot),
    );
    assert!(summary.contains("last error: HTTP 500"), "{summary}");
    assert!(summary.contains("Origin host"), "{summary}");
    let _ = hls_swarm::finish(&cfg, &report);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("json");
    assert!(json["origin"]["scrape_errors"].as_u64().unwrap_or(0) >= 8);
    assert_eq!(
        json["origin"]["cpu_percent"]["last"],
        serde_json::Value::Null
    );
}

#[tokio::test(flavor = "current_thread")]
async fn no_origin_flags_no_origin_figures() {
    let cli = hls_swarm::config::cli::parse_from(["hls-swarm", "-duration", "1s", "-clients", "1"])
        .expect("cli");
    let cfg = Arc::new(Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}")));
    assert!(cfg.origin_metrics.is_none());
    let report = swarm::run(cfg.clone(), RunHooks::default())
        .await
        .expect("run");
    assert!(report.snapshot.origin.is_none());
    let json = serde_json::to_value(hls_swarm::output::json::Report::new(
        &report,
        &hls_swarm::slo::evaluate(&cfg.slo, &report.snapshot),
    ))
    .expect("json");
    assert_eq!(json["origin"], serde_json::Value::Null);
    let summary = hls_swarm::output::summary::render(
        &report,
        &hls_swarm::slo::evaluate(&cfg.slo, &report.snapshot),
    );
    assert!(!summary.contains("Origin host"));
}

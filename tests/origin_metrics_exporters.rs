//! Origin metrics against the real thing: Debian's `prometheus-node-exporter`, `nginx`
//! with `stub_status` and `prometheus-nginx-exporter`, each started by this test on its
//! own free loopback port (never the packages' system services on 9100/9113/80), then
//! killed by PID at the end — also on failure (drop guards).
//!
//! Without the binaries the test is skipped loudly, unless `CI` is set: then it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hls_swarm::config::Config;
use hls_swarm::engine::http::HttpSettings;
use hls_swarm::origin_metrics::scrape::fetch_text;
use hls_swarm::origin_metrics::{OriginScraper, OriginStats};
use hls_swarm::swarm::{self, RunHooks};
use tokio::time::{Instant, sleep, timeout};

/// A child process killed (SIGKILL) and reaped when dropped.
struct Proc {
    name: &'static str,
    child: Option<Child>,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name,
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn assert_running(&mut self, log: &Path) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!(
                "{} exited early ({status}):\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The binary `name` on PATH or in the sbin directories Debian uses.
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The three binaries, or `None` (skip) when one is absent outside CI.
fn binaries() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let found = (
        find("prometheus-node-exporter"),
        find("nginx"),
        find("prometheus-nginx-exporter"),
    );
    match found {
        (Some(a), Some(b), Some(c)) => Some((a, b, c)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI: prometheus-node-exporter, nginx and prometheus-nginx-exporter must be installed (scripts/test.sh installs them): found {found:?}"
        ),
        _ => {
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 SKIPPED origin_metrics_exporters: prometheus-node-exporter, nginx or\n\
                 prometheus-nginx-exporter is not installed ({found:?}).\n\
                 Run ./scripts/test.sh to install them.\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            None
        }
    }
}

async fn get(url: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    fetch_text(&u, &HttpSettings::default(), Duration::from_secs(2))
        .await
        .map(|(t, _)| t)
}

/// Wait until `url` answers 200, or fail with the process log.
async fn wait_ready(url: &str, p: &mut Proc, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        p.assert_running(log);
        if get(url).await.is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not answer {url}:\n{}",
            p.name,
            std::fs::read_to_string(log).unwrap_or_default()
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// Poll the scraper until `cond` holds, or fail showing the last figures.
async fn until(scraper: &OriginScraper, what: &str, cond: impl Fn(&OriginStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = scraper.stats_now();
        if cond(&s) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s:#?}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

fn proc_meminfo_total() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal");
    kb * 1024.0
}

fn proc_stat_cpus() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    text.lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count() as u64
}

fn config(args: &[String]) -> Config {
    let mut v = vec!["hls-swarm".to_string()];
    v.extend(args.iter().cloned());
    let cli = hls_swarm::config::cli::parse_from(v).expect("cli parses");
    Config::from_args(&cli.run).unwrap_or_else(|e| panic!("config: {e}"))
}

struct Lab {
    dir: tempfile::TempDir,
    nginx: Proc,
    nginx_exporter: Proc,
    node_exporter: Proc,
    nginx_port: u16,
    node_url: String,
    nginx_url: String,
}

async fn start_lab(node_bin: &Path, nginx_bin: &Path, nginx_exporter_bin: &Path) -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let nginx_port = free_port();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\nerror_log {err} info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{nginx_port};\n    location = /nginx_status {{ stub_status; }}\n\
             location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
        pid = d.join("nginx.pid").display(),
        err = d.join("error.log").display(),
        d = d.display(),
    );
    std::fs::write(d.join("nginx.conf"), conf).expect("nginx.conf");
    let nginx_log = d.join("nginx.out");
    let mut nginx = Proc::spawn(
        "nginx",
        Command::new(nginx_bin)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf")),
        &nginx_log,
    );
    let status_url = format!("http://127.0.0.1:{nginx_port}/nginx_status");
    wait_ready(&status_url, &mut nginx, &nginx_log).await;

    // Both `-flag` (Debian's 0.11, Go flag) and `--flag` (newer, kingpin) accept `--`.
    let exporter_port = free_port();
    let exporter_log = d.join("nginx-exporter.out");
    let mut nginx_exporter = Proc::spawn(
        "prometheus-nginx-exporter",
        Command::new(nginx_exporter_bin)
            .arg(format!("--nginx.scrape-uri={status_url}"))
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}")),
        &exporter_log,
    );
    let nginx_url = format!("http://127.0.0.1:{exporter_port}/metrics");
    wait_ready(&nginx_url, &mut nginx_exporter, &exporter_log).await;

    let node_port = free_port();
    let node_log = d.join("node-exporter.out");
    let mut node_exporter = Proc::spawn(
        "prometheus-node-exporter",
        Command::new(node_bin).arg(format!("--web.listen-address=127.0.0.1:{node_port}")),
        &node_log,
    );
    let node_url = format!("http://127.0.0.1:{node_port}/metrics");
    wait_ready(&node_url, &mut node_exporter, &node_log).await;
    Lab {
        dir,
        nginx,
        nginx_exporter,
        node_exporter,
        nginx_port,
        node_url,
        nginx_url,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_exporters_feed_the_origin_figures() {
    let Some((node_bin, nginx_bin, exporter_bin)) = binaries() else {
        return;
    };
    timeout(Duration::from_secs(120), async {
        let mut lab = start_lab(&node_bin, &nginx_bin, &exporter_bin).await;
        let cfg = config(&[
            "-origin-metrics".into(),
            lab.node_url.clone(),
            "-nginx-metrics".into(),
            lab.nginx_url.clone(),
            "-origin-metrics-interval".into(),
            "500ms".into(),
            "-origin-metrics-window".into(),
            "10s".into(),
        ]);
        let mut om = cfg
            .origin_metrics
            .clone()
            .expect("origin metrics configured");
        // A generous timeout: a busy CI host must not turn a slow scrape into an error here.
        om.timeout = Duration::from_secs(5);

        // Hold one client connection open to nginx: with the exporter's own stub_status
        // request, at least 2 connections are active at every nginx scrape.
        let held = tokio::net::TcpStream::connect(("127.0.0.1", lab.nginx_port))
            .await
            .expect("connect to nginx");
        let scraper = OriginScraper::start(&om, false, Instant::now());
        until(&scraper, "CPU, network and nginx figures", |s| {
            s.cpu_percent.last.is_some()
                && s.net_rx_bytes_per_second.last.is_some()
                && s.nginx_connections_active.last.is_some()
                && s.nginx_requests_per_second.last.is_some()
        })
        .await;
        let s = scraper.stats_now();
        let cpus = proc_stat_cpus();
        let cpu = s.cpu_percent.last.unwrap_or(-1.0);
        assert!((0.0..=100.0).contains(&cpu), "CPU {cpu}% out of 0..=100");
        assert_eq!(s.cpu_count, Some(cpus), "CPUs as in /proc/stat");
        assert_eq!(
            s.memory_total_bytes,
            Some(proc_meminfo_total()),
            "MemTotal as in /proc/meminfo"
        );
        let used = s.memory_used_bytes.last.unwrap_or(0.0);
        assert!(
            used > 0.0 && used <= proc_meminfo_total(),
            "memory used {used}"
        );
        for r in [
            s.net_rx_bytes_per_second.last,
            s.net_tx_bytes_per_second.last,
        ] {
            assert!(r.is_some_and(|r| r >= 0.0), "network rate {r:?}");
        }
        assert!(
            !s.interfaces.iter().any(|i| i == "lo"),
            "{:?}",
            s.interfaces
        );
        assert!(
            s.nginx_connections_active.last.unwrap_or(0.0) >= 2.0,
            "held connection not seen: {s:#?}"
        );
        assert_eq!(s.scrape_errors, 0, "{:?}", s.last_error);
        assert!(
            s.node
                .as_ref()
                .is_some_and(|n| n.missing_families.is_empty())
        );

        // A burst of 200 requests: the request rate must show far more than the
        // exporter's own one request per scrape (~2/s).
        for _ in 0..200 {
            get(&format!("http://127.0.0.1:{}/", lab.nginx_port))
                .await
                .expect("nginx answers");
        }
        until(&scraper, "the request burst in nginx req/s", |s| {
            s.nginx_requests_per_second.window_max.unwrap_or(0.0) >= 50.0
        })
        .await;
        drop(held);
        until(&scraper, "the held connection to close", |s| {
            s.nginx_connections_active.last == Some(1.0)
        })
        .await;

        // The exporter stops: errors count up, nothing else stops.
        let before = scraper.stats_now();
        lab.node_exporter.stop();
        until(&scraper, "node scrape errors to count up", |s| {
            s.node
                .as_ref()
                .is_some_and(|n| n.scrape_errors >= 3 && !n.up)
                && s.nginx.as_ref().is_some_and(|n| {
                    n.scrapes_ok > before.nginx.as_ref().map_or(0, |b| b.scrapes_ok) + 2
                })
        })
        .await;
        let s = scraper.stats_now();
        assert_eq!(
            s.cpu_percent.last, None,
            "no stale CPU once node_exporter is gone"
        );
        assert!(s.cpu_percent.run_max.is_some(), "run figures are kept");
        assert!(
            s.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("node_exporter: connect")),
            "{:?}",
            s.last_error
        );
        scraper.stop().await;
        lab.nginx_exporter
            .assert_running(&lab.dir.path().join("nginx-exporter.out"));
        lab.nginx.assert_running(&lab.dir.path().join("nginx.out"));
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_run_reports_origin_figures_and_survives_a_dying_exporter() {
    let Some((node_bin, nginx_bin, exporter_bin)) = binaries() else {
        return;
    };
    timeout(Duration::from_secs(120), async {
        let lab = start_lab(&node_bin, &nginx_bin, &exporter_bin).await;
        let out = lab.dir.path().join("report.json");
        let cfg = config(&[
            "-clients".into(),
            "2".into(),
            "-duration".into(),
            "5s".into(),
            "-origin-metrics".into(),
            lab.node_url.clone(),
            "-nginx-metrics".into(),
            lab.nginx_url.clone(),
            "-origin-metrics-interval".into(),
            "250ms".into(),
            "-origin-metrics-window".into(),
            "10s".into(),
            "--output".into(),
            out.display().to_string(),
        ]);
        let cfg = Arc::new(cfg);
        // The nginx exporter dies 3 s into the run (the built-in origin is played).
        let Lab {
            nginx_exporter,
            dir,
            nginx,
            node_exporter,
            ..
        } = lab;
        let killer = tokio::spawn(async move {
            sleep(Duration::from_secs(3)).await;
            drop(nginx_exporter);
        });
        let report = swarm::run(cfg.clone(), RunHooks::default())
            .await
            .expect("the run succeeds although an exporter died");
        killer.await.expect("killer task");
        let o = report
            .snapshot
            .origin
            .clone()
            .expect("origin figures in the snapshot");
        let node = o.node.clone().expect("node source");
        let ng = o.nginx.clone().expect("nginx source");
        assert!(node.scrapes_ok >= 10, "{node:?}");
        // node_exporter stayed up: any failure can only be a slow scrape on a busy host.
        assert!(
            node.scrape_errors == 0
                || node
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("timed out")),
            "{node:?}"
        );
        assert!(ng.scrapes_ok >= 5, "{ng:?}");
        assert!(ng.scrape_errors >= 2, "{ng:?}");
        assert!(!ng.up);
        assert!(o.cpu_percent.samples >= 5 && o.cpu_percent.run_max.is_some());
        assert!(o.nginx_connections_active.run_max.unwrap_or(0.0) >= 1.0);

        // The summary shows them, the JSON report carries them.
        let slo = hls_swarm::slo::evaluate(&cfg.slo, &report.snapshot);
        let text = hls_swarm::output::summary::render(&report, &slo);
        assert!(text.contains("Origin host"), "{text}");
        assert!(text.contains("CPU busy"), "{text}");
        assert!(text.contains("nginx exporter"), "{text}");
        assert!(text.contains("last error:"), "{text}");
        let code = hls_swarm::finish(&cfg, &report).exit();
        assert_eq!(
            format!("{code:?}"),
            format!("{:?}", std::process::ExitCode::from(0))
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("JSON");
        let jo = &json["origin"];
        assert!(jo["cpu_percent"]["run_max"].is_number(), "{jo}");
        assert!(jo["memory_used_bytes"]["last"].is_number(), "{jo}");
        assert!(
            jo["memory_total_bytes"].as_f64().unwrap_or(0.0) > 0.0,
            "{jo}"
        );
        assert!(
            jo["nginx"]["scrape_errors"].as_u64().unwrap_or(0) >= 2,
            "{jo}"
        );
        assert_eq!(jo["node"]["url"], serde_json::json!(node.url));
        drop((nginx, node_exporter, dir));
    })
    .await
    .expect("test finished in time");
}

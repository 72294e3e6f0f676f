//! `-url-file`: a stream URL carrying a token is read from a file, so it never reaches the
//! process's command line (`/proc/PID/cmdline`, readable by every local user), and the
//! token never appears in anything the run prints or writes: stdout, stderr, the JSON
//! report, the HTML report or `/metrics`. The run must really play the URL from the file
//! (requests reach the origin), and a bad file is a clear exit 2 that does not quote it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls_swarm::origin::FaultConfig;

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");
const SECRET: &str = "s3cr3t-T0KEN-7f1c9a";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// One HTTP/1.0 GET on loopback; the body, or "" when nothing answers.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_from_a_file_is_played_and_its_token_is_never_shown() {
    let lab = common::Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // A token in the query and in the user info: the two places signed URLs carry one.
    let url = lab
        .url()
        .replacen("http://", &format!("http://viewer:{SECRET}@"), 1)
        + &format!("?token={SECRET}&sig={SECRET}");
    let url_file = write(dir.path(), "stream-url", &format!("\n  {url}  \n"));
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");

    let mut child = Command::new(BIN)
        .args(["-url-file"])
        .arg(&url_file)
        .args([
            "-clients",
            "2",
            "-ramp-rate",
            "10",
            "-duration",
            "4s",
            "-tui=false",
            "-metrics",
            "127.0.0.1:0",
        ])
        .arg("--output")
        .arg(&json)
        .arg("--report")
        .arg(&html)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hls-swarm");
    let pid = child.id();
    // stderr is read as it comes: it announces the metrics address.
    let err_text = Arc::new(Mutex::new(String::new()));
    let reader = {
        let err_text = err_text.clone();
        let mut pipe = BufReader::new(child.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            let mut line = String::new();
            while pipe.read_line(&mut line).is_ok_and(|n| n > 0) {
                err_text.lock().expect("lock").push_str(&line);
                line.clear();
            }
        })
    };
    let start = Instant::now();
    let metrics_url = loop {
        let text = err_text.lock().expect("lock").clone();
        if let Some(rest) = text.split("Prometheus metrics on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            panic!("hls-swarm exited ({st}) before serving /metrics: {text}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no metrics address: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let port: u16 = metrics_url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("metrics address {metrics_url}"));

    // While it runs: its argv names the file, never the URL; /metrics never shows it.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("-url-file"), "{cmdline}");
    assert!(!cmdline.contains(SECRET), "the token is in argv: {cmdline}");
    assert!(!cmdline.contains("http://"), "a URL is in argv: {cmdline}");
    let mut metrics = String::new();
    while start.elapsed() < Duration::from_secs(10) {
        metrics = get(port, "/metrics");
        if metrics.contains("hls_swarm_requests_total") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("hls_swarm_requests_total"),
        "no /metrics: {metrics}"
    );
    assert!(!metrics.contains(SECRET), "the token is on /metrics");

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    reader.join().expect("stderr reader");
    let log = lab.finish().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = err_text.lock().expect("lock").clone();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // The URL from the file was played: the origin served playlists and segments.
    assert!(
        log.iter().any(|l| l.kind == "segment"),
        "no segment requests"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("json");
    assert!(report["total_bytes"].as_u64().unwrap_or(0) > 0, "{report}");

    for (what, text) in [
        ("stdout", stdout.to_string()),
        ("stderr", stderr.to_string()),
        ("JSON report", std::fs::read_to_string(&json).expect("json")),
        ("HTML report", std::fs::read_to_string(&html).expect("html")),
    ] {
        assert!(!text.contains(SECRET), "the token is in the {what}");
    }
    // The redacted URL is what the report names.
    assert!(
        report.to_string().contains("/master.m3u8"),
        "the report does not name the stream: {report}"
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["-tui=false", "-metrics", "off", "-duration", "1s"])
        .stdin(Stdio::null())
        .output()
        .expect("run hls-swarm")
}

#[test]
fn a_bad_url_file_exits_2_naming_the_flag_without_quoting_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let garbage = write(dir.path(), "garbage", &format!("not a url {SECRET}\n"));
    let scheme = write(dir.path(), "ftp", &format!("ftp://h/x?token={SECRET}\n"));
    let empty = write(dir.path(), "empty", "\n \n");
    for (file, why) in [
        (missing.as_path(), "cannot read"),
        (garbage.as_path(), "not a valid URL"),
        (scheme.as_path(), "must be http"),
        (empty.as_path(), "holds no URL"),
    ] {
        let o = run(&["-url-file", file.to_str().expect("utf-8 path")]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(2), "{file:?}: {stderr}");
        assert!(stderr.contains("-url-file"), "{file:?}: {stderr}");
        assert!(stderr.contains(why), "{file:?}: want '{why}' in: {stderr}");
        assert!(
            !stderr.contains(SECRET) && !stdout.contains(SECRET),
            "{file:?}: the file's text was shown: {stderr}"
        );
    }
}

#[test]
fn a_url_and_a_url_file_together_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "u", "http://127.0.0.1:9/x.m3u8\n");
    let o = run(&[
        "http://127.0.0.1:9/y.m3u8",
        "-url-file",
        f.to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("url-file"), "{stderr}");
}

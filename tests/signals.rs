//! SIGTERM mid-run: the swarm stops within 5 s and still writes the summary and the JSON
//! report; with `--metrics-linger` it then serves the final values (those of the report)
//! until a second signal. Runs the real binary against the built-in origin (no URL).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_with_deadline(
    child: &mut std::process::Child,
    deadline: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn sigterm_mid_run_writes_summary_and_json_and_exits_within_5s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args([
            "-clients",
            "5",
            "-ramp-rate",
            "10",
            "-metrics",
            "127.0.0.1:0",
            "--output",
        ])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still running before the signal"
    );
    let pid = child.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let signalled = Instant::now();
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    let took = signalled.elapsed();
    let Some(status) = status else {
        let _ = child.kill();
        panic!("did not exit within 5 s of SIGTERM");
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(took < Duration::from_secs(5));
    assert!(out.contains("run summary"), "summary missing: {out}");
    assert!(
        err.contains("built-in origin"),
        "the default target is announced: {err}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("valid json");
    assert_eq!(report["stop_reason"], "signal");
    assert_eq!(report["viewers"]["target"], 5);
    assert_eq!(report["viewers"]["peak_active"], 5);
    assert!(report["requests"]["segment"]["count"].as_u64().unwrap_or(0) > 0);
    for key in [
        "version",
        "engine",
        "stream_url",
        "duration_seconds",
        "errors",
        "playback",
        "throughput_bytes_per_second",
        "slo",
    ] {
        assert!(!report[key].is_null(), "missing {key}");
    }
}

/// `GET path` over HTTP/1.0 on loopback: the status and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// A child process killed (by its pid, through `Child::kill`) when dropped, so a failed
/// assertion does not leave it running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[test]
fn the_metrics_linger_serves_the_final_values_until_a_second_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let log = dir.path().join("stderr.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
            .args([
                "-clients",
                "3",
                "-ramp-rate",
                "10",
                "-tui=false",
                "-metrics",
                &format!("127.0.0.1:{port}"),
                "--metrics-linger",
                "60s",
                "--output",
            ])
            .arg(&json)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn"),
    );
    let pid = child.0.id() as libc::pid_t;
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };

    // The run stops and writes its report; the process stays, serving the final values.
    let start = Instant::now();
    while !stderr().contains("serving the final metrics for 1m (--metrics-linger)") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no linger within 10 s of SIGTERM: {}",
            stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.0.try_wait().expect("try_wait").is_none(), "lingering");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report written first"))
            .expect("valid json");
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    let samples = hls_swarm::metrics::text::parse(&body).expect("exposition");
    for kind in ["master", "playlist", "segment"] {
        let scraped = samples
            .iter()
            .find(|s| s.name == "hls_swarm_requests_total" && s.label("kind") == Some(kind))
            .map(|s| s.value);
        let reported = report["requests"][kind]["count"].as_u64().map(|c| c as f64);
        assert_eq!(scraped, reported, "{kind}: lingering value vs the report");
    }
    assert!(report["requests"]["segment"]["count"].as_u64() > Some(0));
    assert_eq!(
        http_get(port, "/readyz").0,
        503,
        "not ready: the run is over"
    );

    // A second signal ends the linger at once.
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let signalled = Instant::now();
    let status = wait_with_deadline(&mut child.0, Duration::from_secs(5))
        .expect("the linger ends within 5 s of the second signal");
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", stderr());
    assert!(
        stderr().contains("--metrics-linger ended by a signal"),
        "{}",
        stderr()
    );
}

//! SIGTERM mid-run: the swarm stops within 5 s and still writes the summary and the JSON
//! report. Runs the real binary against the built-in origin (no URL).

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

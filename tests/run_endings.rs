//! Nothing lost: every way a run can end writes the summary, the JSON report and the HTML
//! report, and says what ended it (`stop_reason`, `stop_detail`). Runs the real binary
//! against the built-in origin (or a separate `hls-swarm origin` process that is killed
//! mid-run). The TUI's `q` is covered in tests/tui_tmux.rs and the FFmpeg crash-loop
//! breaker in tests/ffmpeg_process.rs, with the same checks.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");

/// A run of the binary with `--output` and `--report` in a temporary directory.
struct Run {
    child: Child,
    json: PathBuf,
    html: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn start(args: &[&str], stdout: Stdio, stderr: Stdio) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("run.json");
        let html = dir.path().join("run.html");
        let child = Command::new(BIN)
            .args(["-metrics", "off", "-tui=false", "-ramp-rate", "10"])
            .args(args)
            .arg("--output")
            .arg(&json)
            .arg("--report")
            .arg(&html)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn hls-swarm");
        Run {
            child,
            json,
            html,
            _dir: dir,
        }
    }

    fn piped(args: &[&str]) -> Run {
        Run::start(args, Stdio::piped(), Stdio::piped())
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    fn running_after(&mut self, d: Duration) {
        std::thread::sleep(d);
        assert!(
            self.child.try_wait().expect("try_wait").is_none(),
            "still running"
        );
    }

    /// Wait for the exit (at most `deadline`) and read what was printed.
    fn wait(&mut self, deadline: Duration) -> (ExitStatus, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if start.elapsed() > deadline {
                let _ = self.child.kill();
                panic!("no exit within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |r: Option<&mut dyn Read>| {
            let mut s = String::new();
            if let Some(r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        };
        let out = read(self.child.stdout.as_mut().map(|r| r as &mut dyn Read));
        let err = read(self.child.stderr.as_mut().map(|r| r as &mut dyn Read));
        (status, out, err)
    }

    /// Both reports were written, say the same reason, and carry the run's figures.
    fn reports(&self, reason: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.json)
            .unwrap_or_else(|e| panic!("JSON report not written: {e}"));
        let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(report["stop_reason"], reason, "{text}");
        let html = std::fs::read_to_string(&self.html)
            .unwrap_or_else(|e| panic!("HTML report not written: {e}"));
        assert!(html.contains("ended by"), "HTML names the ending");
        assert!(html.trim_end().ends_with("</html>"), "whole HTML report");
        report
    }
}

fn assert_summary(out: &str) {
    assert!(out.contains("run summary"), "summary printed: {out}");
    assert!(out.contains("Ended by:"), "summary names the ending: {out}");
}

#[test]
fn duration_writes_everything() {
    let mut run = Run::piped(&["-clients", "2", "-duration", "3s"]);
    let (status, out, err) = run.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{err}");
    assert_summary(&out);
    let r = run.reports("duration");
    assert_eq!(r["stop_detail"], serde_json::Value::Null);
    assert!(r["requests"]["segment"]["count"].as_u64().unwrap_or(0) > 0);
}

fn stopped_by(sig: libc::c_int, name: &str) {
    let mut run = Run::piped(&["-clients", "3", "-duration", "5m"]);
    run.running_after(Duration::from_secs(4));
    run.signal(sig);
    let (status, out, err) = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit 0 after {name}: {err}");
    assert_summary(&out);
    assert!(out.contains(name), "the summary names {name}: {out}");
    assert!(err.contains(&format!("{name} received")), "{err}");
    let r = run.reports("signal");
    assert_eq!(r["stop_detail"], name);
    assert!(r["requests"]["segment"]["count"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn sigint_writes_everything() {
    stopped_by(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_writes_everything() {
    stopped_by(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_writes_everything() {
    stopped_by(libc::SIGHUP, "SIGHUP");
}

#[test]
fn a_second_signal_skips_the_grace_and_still_writes_everything() {
    let mut run = Run::piped(&["-clients", "3", "-duration", "5m"]);
    run.running_after(Duration::from_secs(3));
    run.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(50));
    run.signal(libc::SIGTERM);
    let (status, out, err) = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{err}");
    assert_summary(&out);
    let r = run.reports("signal");
    assert_eq!(r["stop_detail"], "SIGHUP", "the first signal ended the run");
}

/// What a dropped ssh session does: the terminal goes away (every write to it fails with
/// EIO) and SIGHUP arrives. The reports are written all the same, and the exit is clean.
#[test]
fn sighup_after_the_terminal_is_gone_writes_the_reports() {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills in two descriptors we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here only.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let slave2 = slave.try_clone().expect("dup");
    let mut run = Run::start(
        &["-clients", "3", "-duration", "5m"],
        Stdio::from(slave),
        Stdio::from(slave2),
    );
    run.running_after(Duration::from_secs(4));
    drop(master); // the terminal is gone: writes to it now fail with EIO
    std::thread::sleep(Duration::from_millis(200));
    run.signal(libc::SIGHUP);
    let (status, _, _) = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status:?}");
    let r = run.reports("signal");
    assert_eq!(r["stop_detail"], "SIGHUP");
}

/// stdout and stderr are pipes nobody reads any more (EPIPE on every write).
#[test]
fn closed_stdout_and_stderr_do_not_lose_the_reports() {
    let mut run = Run::piped(&["-clients", "2", "-duration", "4s"]);
    drop(run.child.stdout.take());
    drop(run.child.stderr.take());
    let (status, _, _) = run.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}");
    run.reports("duration");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An `hls-swarm origin` process on a free loopback port with `faults`; its master URL.
fn spawn_origin(faults: &[&str]) -> (Child, String) {
    let port = free_port();
    let mut origin = Command::new(BIN)
        .args([
            "origin",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--segment-duration",
            "1s",
        ])
        .args(faults)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn origin");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(origin.stdout.take().expect("stdout"));
        r.read_line(&mut line).expect("origin URL");
    }
    (origin, line.trim().to_string())
}

/// The origin vanishes mid-run: the run goes on until its duration, counting every failed
/// request, and then writes everything (docs/reliability.md).
#[test]
fn the_origin_vanishing_mid_run_is_counted_until_the_end() {
    let (mut origin, url) = spawn_origin(&[]);
    let began = Instant::now();
    let mut run = Run::piped(&[&url, "-clients", "2", "-duration", "10s"]);
    std::thread::sleep(Duration::from_secs(4));
    origin.kill().expect("kill origin");
    let _ = origin.wait();
    let (status, out, err) = run.wait(Duration::from_secs(30));
    assert!(
        began.elapsed() >= Duration::from_secs(10),
        "ran its whole duration"
    );
    assert_eq!(status.code(), Some(0), "{err}");
    assert_summary(&out);
    let r = run.reports("duration");
    let errors = r["errors"]["total"].as_u64().unwrap_or(0);
    assert!(
        errors > 0,
        "failed requests counted after the origin died: {r}"
    );
    assert!(
        r["errors"]["by_class"]["refused"].as_u64().unwrap_or(0) > 0,
        "as connection errors: {}",
        r["errors"]
    );
}

/// `--slo-abort` with a peak that cannot recover: every media playlist fails, so the
/// viewers are stalled once the startup timeout passes and `--slo-max-stalled 0` has
/// failed for good. The run stops then (exit 3), long before its duration.
#[test]
fn slo_abort_on_a_peak_stops_early_with_exit_3_and_writes_everything() {
    let (mut origin, url) = spawn_origin(&["--fault-error", "playlist:503:1"]);
    let began = Instant::now();
    let mut run = Run::piped(&[
        &url,
        "-clients",
        "2",
        "-duration",
        "5m",
        "-startup-timeout",
        "2s",
        "--slo-max-stalled",
        "0",
        "--slo-abort",
    ]);
    let (status, out, err) = run.wait(Duration::from_secs(60));
    let _ = origin.kill();
    let _ = origin.wait();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(began.elapsed() < Duration::from_secs(30), "stopped early");
    assert_summary(&out);
    assert!(out.contains("stopped early by --slo-abort"), "{out}");
    let r = run.reports("slo_abort");
    assert!(
        r["stop_detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("slo-max-stalled failed")),
        "{}",
        r["stop_detail"]
    );
    assert_eq!(r["slo"]["passed"], false);
    assert!(r["slo"]["aborted"].is_string());
}

/// `--slo-abort` with a rate: judged only from the end of the ramp plus the grace, and
/// only after failing without a break for the grace.
#[test]
fn slo_abort_on_a_rate_waits_for_ramp_grace_and_a_whole_grace_of_failing() {
    let (mut origin, url) = spawn_origin(&["--fault-error", "segment:503:1"]);
    let began = Instant::now();
    let mut run = Run::piped(&[
        &url,
        "-clients",
        "2",
        "-duration",
        "5m",
        "--slo-max-error-rate",
        "0.01",
        "--slo-abort",
        "--slo-abort-grace",
        "3s",
    ]);
    let (status, out, err) = run.wait(Duration::from_secs(60));
    let took = began.elapsed();
    let _ = origin.kill();
    let _ = origin.wait();
    assert_eq!(status.code(), Some(3), "{err}");
    // Ramp done within 1 s; judged from +3 s; failing for 3 s more: not before 6 s.
    assert!(took >= Duration::from_secs(6), "aborted too soon: {took:?}");
    assert!(took < Duration::from_secs(30), "stopped early: {took:?}");
    assert_summary(&out);
    let r = run.reports("slo_abort");
    assert!(
        r["stop_detail"]
            .as_str()
            .is_some_and(|d| d.contains("slo-max-error-rate failed without a break for 3 s")),
        "{}",
        r["stop_detail"]
    );
    assert!(r["duration_seconds"].as_f64().unwrap_or(0.0) >= 6.0);
}

/// The metrics endpoint dying mid-run (its task ends, its port closes) neither ends nor
/// loses the run: the swarm publishes to the feed whether anyone listens or not, and
/// the run ends by its duration and writes its reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_server_dying_mid_run_does_not_end_or_lose_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let args = [
        "hls-swarm",
        "-clients",
        "2",
        "-ramp-rate",
        "10",
        "-duration",
        "5s",
        "-metrics",
        "127.0.0.1:0",
        "-tui=false",
        "--output",
        json.to_str().expect("utf-8 path"),
    ];
    let cli = hls_swarm::config::cli::parse_from(args).expect("cli");
    let cfg = std::sync::Arc::new(hls_swarm::config::Config::from_args(&cli.run).expect("cfg"));
    let (snapshots, server) = hls_swarm::start_metrics(&cfg).await.expect("metrics");
    let server = server.expect("a metrics server");
    let addr = server.local_addr();
    let hooks = hls_swarm::swarm::RunHooks {
        snapshots,
        ..Default::default()
    };
    let run = tokio::spawn(hls_swarm::swarm::run(cfg.clone(), hooks));
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the metrics port is closed"
    );
    let report = run.await.expect("join").expect("the run goes on");
    assert_eq!(report.stop_reason, hls_swarm::swarm::StopReason::Duration);
    assert!(report.snapshot.elapsed >= Duration::from_secs(5));
    assert!(report.snapshot.total_requests() > 0);
    let _ = hls_swarm::finish(&cfg, &report);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
            .expect("valid");
    assert_eq!(r["stop_reason"], "duration");
}

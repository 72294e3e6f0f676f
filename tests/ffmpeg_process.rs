//! Process hygiene and operator-facing behaviour of the FFmpeg engine, with the real
//! binary: no FFmpeg outlives SIGTERM or `kill -9` of the swarm (checked by PID list), the
//! crash-loop breaker trips on a fake `ffmpeg` that exits 1, `--print-cmd` prints what
//! Debian's FFmpeg 5.1 gets, and `--check` plays the stream for 5 s.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");

/// (ppid, comm, state) of a process, from /proc.
fn proc_stat(pid: u32) -> Option<(u32, String, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let mut rest = s[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, comm, state))
}

/// PIDs of the `ffmpeg` processes whose parent is `parent`.
fn ffmpeg_children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            proc_stat(*pid).is_some_and(|(ppid, comm, state)| {
                ppid == parent && comm == "ffmpeg" && state != 'Z'
            })
        })
        .collect()
}

/// Whether `pid` is still a running (non-zombie) ffmpeg.
fn ffmpeg_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, comm, state)| comm == "ffmpeg" && state != 'Z')
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn output_of(child: &mut Child) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (out, err)
}

/// Start a swarm of `n` FFmpeg viewers on the built-in origin and wait until all run.
/// The caller reaps the returned child.
#[allow(clippy::zombie_processes)]
fn swarm_with_ffmpegs(n: usize) -> (Child, Vec<u32>) {
    let mut child = Command::new(BIN)
        .args([
            "-metrics",
            "off",
            "-engine",
            "ffmpeg",
            "-clients",
            &n.to_string(),
            "-ramp-rate",
            "20",
            "-duration",
            "120s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let start = Instant::now();
    loop {
        let kids = ffmpeg_children(pid);
        if kids.len() == n {
            return (child, kids);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            let (_, err) = output_of(&mut child);
            panic!(
                "only {} of {n} FFmpeg children after 30 s: {err}",
                kids.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_all_gone(pids: &[u32], within: Duration, what: &str) {
    let start = Instant::now();
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| ffmpeg_alive(*p)).collect();
        if alive.is_empty() {
            return;
        }
        if start.elapsed() > within {
            for p in &alive {
                // SAFETY: cleaning up processes this test started.
                unsafe { libc::kill(*p as libc::pid_t, libc::SIGKILL) };
            }
            panic!("{what}: FFmpeg {alive:?} still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_stops_every_ffmpeg_before_the_swarm_exits() {
    let (mut child, kids) = swarm_with_ffmpegs(4);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = wait_with_deadline(&mut child, Duration::from_secs(8));
    let (out, err) = output_of(&mut child);
    let Some(status) = status else {
        let _ = child.kill();
        panic!("swarm did not exit within 8 s of SIGTERM: {err}");
    };
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    // Gone by the time the swarm has exited (a short grace for the PID list to settle).
    assert_all_gone(&kids, Duration::from_millis(200), "after SIGTERM");
    assert!(out.contains("ffmpeg engine"), "{out}");
    assert!(out.contains("stopped by swarm 4"), "{out}");
}

#[test]
fn kill_9_of_the_swarm_leaves_no_ffmpeg() {
    let (mut child, kids) = swarm_with_ffmpegs(4);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_all_gone(&kids, Duration::from_secs(5), "after kill -9");
}

fn fake_ffmpeg(dir: &Path) -> String {
    let path = dir.join("ffmpeg");
    std::fs::write(
        &path,
        "#!/bin/sh\n\
         case \"$*\" in\n\
         *-version*) echo 'ffmpeg version 9.9-fake Copyright (c) the fakers'; exit 0;;\n\
         *'-h full'*) printf -- '-progress url  p\\n-stats_period t  s\\n  -http_proxy <string> x\\n  -user_agent <string> x\\n  -headers <string> x\\n'; exit 0;;\n\
         esac\n\
         echo '[fatal] fake ffmpeg: cannot play anything' >&2\n\
         exit 1\n",
    )
    .expect("write fake");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

#[test]
fn crash_loop_breaker_trips_on_a_failing_ffmpeg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = fake_ffmpeg(dir.path());
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let mut child = Command::new(BIN)
        .arg("--report")
        .arg(&html)
        .args([
            "-metrics",
            "off",
            "-engine",
            "ffmpeg",
            "-ffmpeg",
            &fake,
            "-clients",
            "20",
            "-ramp-rate",
            "2",
            "-duration",
            "120s",
            "--output",
        ])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = wait_with_deadline(&mut child, Duration::from_secs(40));
    let (out, err) = output_of(&mut child);
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the crash loop did not end the run: {err}");
    };
    assert_eq!(status.code(), Some(1), "exit code; stderr: {err}");
    assert!(err.contains("crash loop:"), "{err}");
    assert!(
        err.contains("fake ffmpeg: cannot play anything"),
        "the failing process's stderr is shown: {err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(out.contains("CRASH LOOP"), "summary: {out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid");
    assert_eq!(report["stop_reason"], "crash_loop");
    assert!(
        report["stop_detail"]
            .as_str()
            .is_some_and(|d| d.contains("crash loop")),
        "{}",
        report["stop_detail"]
    );
    let page = std::fs::read_to_string(&html).expect("the HTML report is written too");
    assert!(page.contains("FFmpeg crash loop"), "it names the ending");
    assert!(
        out.contains("Ended by:          FFmpeg crash loop"),
        "{out}"
    );
    let started = report["viewers"]["started"].as_u64().unwrap_or(0);
    assert!(
        started < 20,
        "the ramp stopped early: {started} of 20 started"
    );
    assert_eq!(report["ffmpeg"]["crash_loop"]["tripped"], true);
    assert_eq!(report["ffmpeg"]["crash_loop"]["ramp_stopped_at"], started);
    assert!(report["ffmpeg"]["exits"]["error"].as_u64().unwrap_or(0) >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_cmd_shows_what_debian_ffmpeg_gets_quoted_and_redacted() {
    let lab = common::Lab::start(Duration::from_secs(1), Default::default()).await;
    let url = lab.url();
    let out = tokio::process::Command::new(BIN)
        .args([
            &url,
            "-engine",
            "ffmpeg",
            "--print-cmd",
            "-variant",
            "lowest",
            "-header",
            "Authorization: Bearer s3cr3t",
            "-client-id-offset",
            "7",
        ])
        .output()
        .await
        .expect("run");
    lab.finish().await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cmd = text
        .lines()
        .find(|l| l.starts_with("ffmpeg "))
        .unwrap_or_else(|| panic!("no command in {text}"));
    assert!(cmd.contains(" -nostats -loglevel repeat+level+warning -progress pipe:3 -stats_period 1 -http_proxy http://127.0.0.1:PORT "), "{cmd}");
    assert!(
        cmd.contains(" -user_agent hls-swarm/0.1.0/client-7 "),
        "{cmd}"
    );
    assert!(
        cmd.contains("-headers $'authorization: <redacted>\\r\\n'"),
        "{cmd}"
    );
    assert!(!cmd.contains("s3cr3t"));
    assert!(
        cmd.contains("/v0/playlist.m3u8 -map 0 -c copy -f null -"),
        "{cmd}"
    );
    // Debian's 5.1: no -seg_max_retry, no datetime log flag.
    let version = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.starts_with("ffmpeg version 5.1") {
        assert!(
            !cmd.contains("seg_max_retry") && !cmd.contains("datetime"),
            "{cmd}"
        );
    }
}

#[test]
fn check_plays_the_stream_for_five_seconds() {
    let out = Command::new(BIN)
        .args(["--check", "-engine", "ffmpeg"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "✓ ffmpeg ",
        "✓ ffmpeg options",
        "✓ ffmpeg plays",
        "verdict: PASS",
    ] {
        assert!(text.contains(want), "{want} missing: {text}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let fake = fake_ffmpeg(dir.path());
    let out = Command::new(BIN)
        .args(["--check", "-engine", "ffmpeg", "-ffmpeg", &fake])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("✗ ffmpeg plays"), "{text}");
    assert!(text.contains("fake ffmpeg: cannot play anything"), "{text}");
    assert!(text.contains("verdict: FAIL"), "{text}");
}

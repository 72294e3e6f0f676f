//! SIGUSR1 mid-run writes the `--output` JSON and `--report` HTML as they stand and the
//! run goes on; the final reports replace them at the end. Runs the real binary against
//! the built-in origin on loopback (no URL).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");
/// The line that announces an interim report.
const WRITTEN: &str = "SIGUSR1: interim report as of run time";

/// A swarm process whose stderr lines and stdout are collected as they come.
struct Swarm {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<String>>,
}

impl Swarm {
    /// Start `hls-swarm ARGS` in `dir`, as the leader of a process group of its own (so
    /// a test can signal the group as `kill -USR1 -PGID` does).
    fn start(dir: &Path, args: &[&str]) -> Swarm {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().expect("lock").push(line);
            }
        });
        let stdout = Arc::new(Mutex::new(String::new()));
        let text = stdout.clone();
        let mut out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Swarm {
            child,
            stderr,
            stdout,
        }
    }

    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Send `sig` to the swarm process.
    fn signal(&self, sig: libc::c_int) {
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Send `sig` to the swarm's whole process group (`kill -SIG -PGID`).
    fn signal_group(&self, sig: libc::c_int) {
        // SAFETY: signalling the process group our own child leads.
        assert_eq!(unsafe { libc::kill(-self.pid(), sig) }, 0);
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").join("\n")
    }

    fn stdout(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// Stderr lines containing `text`.
    fn count(&self, text: &str) -> usize {
        let lines = self.stderr.lock().expect("lock");
        lines.iter().filter(|l| l.contains(text)).count()
    }

    /// Wait until `count` stderr lines contain `text`.
    fn wait_for(&mut self, text: &str, count: usize, within: Duration) {
        let began = Instant::now();
        while self.count(text) < count {
            assert!(
                self.running(),
                "the swarm exited while waiting for {text:?}: {}",
                self.stderr()
            );
            assert!(
                began.elapsed() < within,
                "no {count} × {text:?} within {within:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the exit (and for the output readers to see the end of the pipes).
    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let began = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(100));
                return st;
            }
            assert!(
                began.elapsed() < within,
                "did not exit within {within:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("json")
}

fn segments(report: &Value) -> u64 {
    report["requests"]["segment"]["count"]
        .as_u64()
        .expect("segment count")
}

fn seconds(report: &Value) -> f64 {
    report["duration_seconds"].as_f64().expect("duration")
}

/// Viewers playing, per the progress line printed every 5 s.
const PLAYING: &str = "] viewers 5/5 ";

#[test]
fn sigusr1_writes_the_reports_as_they_stand_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let html = dir.path().join("run.html");
    let mut swarm = Swarm::start(
        dir.path(),
        &[
            "-clients",
            "5",
            "-ramp-rate",
            "10",
            "-duration",
            "120s",
            "-metrics",
            "off",
            "--output",
            "run.json",
            "--report",
            "run.html",
        ],
    );
    swarm.wait_for(PLAYING, 1, Duration::from_secs(20));
    assert!(
        !json.exists() && !html.exists(),
        "nothing written before asked"
    );

    // First SIGUSR1: both files, marked interim, with real figures; the run goes on.
    swarm.signal(libc::SIGUSR1);
    swarm.wait_for(WRITTEN, 1, Duration::from_secs(5));
    let first = read_json(&json);
    assert_eq!(first["stop_reason"], "running", "{first}");
    assert_eq!(first["stop_detail"], "SIGUSR1");
    assert_eq!(first["viewers"]["target"], 5);
    assert_eq!(first["viewers"]["peak_active"], 5);
    assert!(segments(&first) > 0, "{first}");
    assert!(first["total_bytes"].as_u64().unwrap_or(0) > 0);
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.contains("still running"), "the header says so");
    assert!(page.contains("Interim report"), "the note says so");
    assert!(!page.contains("ended by"), "it has not ended");
    let line = swarm.stderr();
    assert!(
        line.contains("run.json (--output)") && line.contains("run.html (--report)"),
        "the line names both files: {line}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(swarm.running(), "SIGUSR1 must not stop the run");

    // Second SIGUSR1: the same files, later figures.
    swarm.signal(libc::SIGUSR1);
    swarm.wait_for(WRITTEN, 2, Duration::from_secs(5));
    let second = read_json(&json);
    assert_eq!(second["stop_reason"], "running");
    assert!(seconds(&second) > seconds(&first), "{second}");
    assert!(segments(&second) > segments(&first), "{second}");

    // A burst: coalesced into at most two writes (one in progress, the newest).
    for _ in 0..10 {
        swarm.signal(libc::SIGUSR1);
    }
    swarm.wait_for(WRITTEN, 3, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(3));
    let after_burst = swarm.count(WRITTEN);
    assert!(
        (3..=4).contains(&after_burst),
        "10 SIGUSR1s at once wrote {} times",
        after_burst - 2
    );
    assert!(swarm.running(), "still running after the burst");
    let interim = read_json(&json);

    // SIGTERM: the final reports replace the interim ones.
    swarm.signal(libc::SIGTERM);
    let status = swarm.wait_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "stderr: {}", swarm.stderr());
    let last = read_json(&json);
    assert_eq!(last["stop_reason"], "signal", "{last}");
    assert_eq!(last["stop_detail"], "SIGTERM");
    assert!(segments(&last) > segments(&interim), "{last}");
    assert!(seconds(&last) > seconds(&interim));
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.contains("ended by"), "the final header");
    assert!(!page.contains("still running") && !page.contains("Interim report"));
    assert!(swarm.stdout().contains("run summary"), "{}", swarm.stdout());
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["run.html", "run.json"], "no temporary files left");
}

#[test]
fn sigusr1_without_output_flags_says_there_is_nothing_to_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut swarm = Swarm::start(
        dir.path(),
        &[
            "-clients",
            "5",
            "-ramp-rate",
            "10",
            "-duration",
            "120s",
            "-metrics",
            "off",
        ],
    );
    swarm.wait_for(PLAYING, 1, Duration::from_secs(20));
    swarm.signal(libc::SIGUSR1);
    swarm.wait_for("nothing to write", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    assert!(swarm.running(), "SIGUSR1 must not stop the run");
    assert_eq!(swarm.count("nothing to write"), 1, "{}", swarm.stderr());
    assert_eq!(swarm.count(WRITTEN), 0);
    assert!(!swarm.stdout().contains("run summary"), "no summary yet");
    swarm.signal(libc::SIGTERM);
    let status = swarm.wait_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "stderr: {}", swarm.stderr());
    assert!(swarm.stdout().contains("run summary"));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("read_dir").count(),
        0,
        "no file written"
    );
}

#[test]
fn sigusr1_leaves_an_output_on_stdout_to_the_final_report() {
    // `--output /dev/stdout`, through a link of the test's own (a broken build could only
    // ever replace this link, never the system's /dev/stdout).
    let dir = tempfile::tempdir().expect("tempdir");
    let stdout_link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout_link).expect("symlink");
    let mut swarm = Swarm::start(
        dir.path(),
        &[
            "-clients",
            "5",
            "-ramp-rate",
            "10",
            "-duration",
            "120s",
            "-metrics",
            "off",
            "--output",
            "stdout",
            "--report",
            "run.html",
        ],
    );
    swarm.wait_for(PLAYING, 1, Duration::from_secs(20));
    swarm.signal(libc::SIGUSR1);
    swarm.wait_for(WRITTEN, 1, Duration::from_secs(5));
    let said = swarm.stderr();
    assert!(
        said.contains("--output stdout is not a regular file"),
        "{said}"
    );
    assert!(said.contains("run.html (--report)"), "{said}");
    assert!(!said.contains("stdout (--output)"), "{said}");
    assert!(
        !swarm.stdout().contains("\"schema\""),
        "no interim JSON on stdout"
    );
    swarm.signal(libc::SIGTERM);
    let status = swarm.wait_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "stderr: {}", swarm.stderr());
    let out = swarm.stdout();
    assert_eq!(out.matches("\"schema\"").count(), 1, "one JSON: {out}");
    assert!(out.contains("\"stop_reason\": \"signal\""), "{out}");
    assert!(
        std::fs::symlink_metadata(&stdout_link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link stays"
    );
}

#[test]
fn sigusr1_leaves_output_dash_to_the_final_report_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut swarm = Swarm::start(
        dir.path(),
        &[
            "-clients",
            "5",
            "-ramp-rate",
            "10",
            "-duration",
            "120s",
            "-metrics",
            "off",
            "--output",
            "-",
            "--report",
            "run.html",
        ],
    );
    swarm.wait_for(PLAYING, 1, Duration::from_secs(20));
    swarm.signal(libc::SIGUSR1);
    swarm.wait_for(WRITTEN, 1, Duration::from_secs(5));
    let said = swarm.stderr();
    assert!(
        said.contains("--output - (standard output) gets only the final report"),
        "{said}"
    );
    assert!(said.contains("run.html (--report)"), "{said}");
    assert!(
        !swarm.stdout().contains("\"schema\""),
        "no interim JSON on stdout"
    );
    swarm.signal(libc::SIGTERM);
    let status = swarm.wait_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "stderr: {}", swarm.stderr());
    let out = swarm.stdout();
    assert_eq!(out.matches("\"schema\"").count(), 1, "one JSON: {out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the last line is the report ({e}): {out}"));
    assert_eq!(last["stop_reason"], "signal", "the final report");
    assert!(!dir.path().join("-").exists(), "no file named -");
}

/// PIDs of the `ffmpeg` processes whose parent is `parent`.
fn ffmpeg_children(parent: libc::pid_t) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let mut rest = stat[close + 1..].split_whitespace();
            let state = rest.next().unwrap_or("Z");
            let ppid = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            &stat[open + 1..close] == "ffmpeg" && state != "Z" && ppid == parent
        })
        .collect()
}

#[test]
fn sigusr1_to_the_process_group_leaves_ffmpeg_playing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let mut swarm = Swarm::start(
        dir.path(),
        &[
            "-engine",
            "ffmpeg",
            "-clients",
            "3",
            "-ramp-rate",
            "20",
            "-duration",
            "120s",
            "-metrics",
            "off",
            "--output",
            "run.json",
        ],
    );
    // Viewers' FFmpegs, once all play (earlier ones may be the engine's stream probe).
    swarm.wait_for("] viewers 3/3 ", 1, Duration::from_secs(30));
    let began = Instant::now();
    let kids = loop {
        let kids = ffmpeg_children(swarm.pid());
        if kids.len() == 3 {
            break kids;
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "3 FFmpeg children: {}",
            swarm.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // As `kill -USR1 -PGID` would: FFmpeg runs in process groups of its own.
    swarm.signal_group(libc::SIGUSR1);
    swarm.wait_for(WRITTEN, 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(1));
    let mut now = ffmpeg_children(swarm.pid());
    now.sort_unstable();
    let mut before = kids.clone();
    before.sort_unstable();
    assert_eq!(now, before, "the same FFmpeg processes still run");
    let interim = read_json(&json);
    assert_eq!(interim["stop_reason"], "running");
    assert_eq!(interim["ffmpeg"]["processes"], 3, "{interim}");
    assert_eq!(interim["ffmpeg"]["spawns"], 3, "{interim}");
    swarm.signal(libc::SIGTERM);
    let status = swarm.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {}", swarm.stderr());
    let last = read_json(&json);
    let exits = &last["ffmpeg"]["exits"];
    assert_eq!(exits["signal"], 0, "{last}");
    assert_eq!(exits["error"], 0, "{last}");
    assert_eq!(
        last["ffmpeg"]["spawns"], 3,
        "no FFmpeg was replaced: {last}"
    );
}

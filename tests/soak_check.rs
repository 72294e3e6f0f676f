//! The soak verdict (scripts/soak_check.py) on synthetic runs: a steady run passes, and
//! each kind of leak or broken run fails on its own check.

use std::path::Path;
use std::process::Command;

/// Whether the verdict script and `python3` are here. They are CI tooling, not part of
/// the package: the Nix check phase (and scripts/nix-sandbox-check.sh) has neither, so
/// there these tests skip. In CI (`CI` set) a missing tool is a failure, not a skip.
fn verdict_tool_present() -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/soak_check.py");
    let python = Command::new("python3").arg("--version").output().is_ok();
    if script.is_file() && python {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "scripts/soak_check.py and python3 are required in CI"
    );
    eprintln!("skipping: scripts/soak_check.py or python3 is not available");
    false
}

const VIEWERS: u64 = 300;
const WARMUP: u64 = 60;
const START: u64 = 1_000_000;

/// One synthetic run: samples every 5 s for 10 minutes, faults switching every 10 s.
struct Run {
    /// Extra descriptors per second of run time (a leak when > 0).
    fd_leak_per_s: f64,
    /// Extra tasks per second.
    task_leak_per_s: f64,
    /// RSS growth over the whole run, as a fraction.
    rss_growth: f64,
    /// Of which lazily freed (MADV_FREE) pages, as a fraction of the starting RSS.
    lazy_growth: f64,
    /// Every fault switch acknowledged.
    acked: bool,
    /// Errors the swarm saw.
    errors: u64,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            fd_leak_per_s: 0.0,
            task_leak_per_s: 0.0,
            rss_growth: 0.0,
            lazy_growth: 0.0,
            acked: true,
            errors: 1234,
        }
    }
}

impl Run {
    fn write(&self, dir: &Path) {
        let phases = ["errors+resets", "none", "delays+slow", "none"];
        let mut faults = String::new();
        for k in 1..60u64 {
            let ok = if self.acked || k != 30 { "yes" } else { "no" };
            faults += &format!("{} {} {ok}\n", START + k * 10, phases[(k as usize - 1) % 4]);
        }
        let mut samples = String::from("epoch,t,rss_kb,lazyfree_kb,fds,threads,tasks\n");
        for t in (0..600u64).step_by(5) {
            // Descriptors and tasks swing with the phase (slow phases hold more in flight)
            // and decay once, as spare keep-alive connections age out.
            let slow = t >= 10 && (t / 10 - 1) % 4 == 2;
            let swing = if slow { 250.0 } else { 0.0 };
            let decay = if t < 200 { 200.0 } else { 0.0 };
            let fds = 620.0 + swing + decay + self.fd_leak_per_s * t as f64;
            let tasks = 1500.0 + swing + decay + self.task_leak_per_s * t as f64;
            let rss = 100_000.0 * (1.0 + self.rss_growth * t as f64 / 600.0);
            let lazy = 100_000.0 * self.lazy_growth * t as f64 / 600.0;
            let wobble = if t % 10 == 0 { 300.0 } else { -300.0 };
            samples += &format!(
                "{},{t},{},{},{},6,{}\n",
                START + t,
                (rss + wobble) as u64,
                lazy as u64,
                fds as u64,
                tasks as u64
            );
        }
        let report = format!(
            r#"{{"errors": {{"total": {}, "by_class": {{"http_5xx": {}}}}},
                "requests": {{"segment": {{"count": 90000}}, "playlist": {{"count": 12000}}}},
                "viewers": {{"peak_active": {VIEWERS}, "active_at_end": {VIEWERS}}},
                "playback": {{"played_seconds": 49000.0, "stalls": 3}}}}"#,
            self.errors, self.errors
        );
        std::fs::write(dir.join("faults.log"), faults).unwrap();
        std::fs::write(dir.join("samples.csv"), samples).unwrap();
        std::fs::write(dir.join("report.json"), report).unwrap();
    }

    /// (passed, printed verdict).
    fn check(&self) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        self.write(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/soak_check.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .args([WARMUP.to_string(), "0".into(), VIEWERS.to_string()])
            .output()
            .expect("python3 runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "unexpected exit: {text}"
        );
        (out.status.success(), text)
    }
}

/// The FAIL lines of a verdict.
fn failed(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("FAIL "))
        .collect()
}

#[test]
fn a_steady_run_passes_despite_swings_and_decay() {
    if !verdict_tool_present() {
        return;
    }
    let (ok, text) = Run::default().check();
    assert!(ok, "{text}");
    assert!(text.contains("soak: PASS"), "{text}");
    assert!(text.contains("complete fault cycles"), "{text}");
}

#[test]
fn a_descriptor_leak_fails() {
    if !verdict_tool_present() {
        return;
    }
    // One descriptor every 2 s, far less than the phase swing (250) and the early decay
    // (200): the floor still rises.
    let (ok, text) = Run {
        fd_leak_per_s: 0.5,
        ..Default::default()
    }
    .check();
    assert!(!ok, "{text}");
    let f = failed(&text);
    assert_eq!(f.len(), 1, "{text}");
    assert!(f[0].contains("open descriptors"), "{text}");
}

#[test]
fn a_task_leak_fails() {
    if !verdict_tool_present() {
        return;
    }
    let (ok, text) = Run {
        task_leak_per_s: 0.5,
        ..Default::default()
    }
    .check();
    assert!(!ok, "{text}");
    let f = failed(&text);
    assert_eq!(f.len(), 1, "{text}");
    assert!(f[0].contains("runtime tasks"), "{text}");
}

#[test]
fn rss_growth_over_five_percent_fails_and_under_passes() {
    if !verdict_tool_present() {
        return;
    }
    let (ok, text) = Run {
        rss_growth: 0.15,
        ..Default::default()
    }
    .check();
    assert!(!ok, "{text}");
    let f = failed(&text);
    assert_eq!(f.len(), 1, "{text}");
    assert!(f[0].contains("RSS"), "{text}");
    let (ok, text) = Run {
        rss_growth: 0.03,
        ..Default::default()
    }
    .check();
    assert!(ok, "{text}");
    // Growth made only of pages the allocator already freed (MADV_FREE) is not growth.
    let (ok, text) = Run {
        rss_growth: 0.15,
        lazy_growth: 0.15,
        ..Default::default()
    }
    .check();
    assert!(ok, "{text}");
    assert!(text.contains("RSS in use"), "{text}");
}

#[test]
fn unacknowledged_fault_switch_or_no_errors_fails() {
    if !verdict_tool_present() {
        return;
    }
    let (ok, text) = Run {
        acked: false,
        ..Default::default()
    }
    .check();
    assert!(!ok && failed(&text)[0].contains("fault switches"), "{text}");
    let (ok, text) = Run {
        errors: 0,
        ..Default::default()
    }
    .check();
    assert!(!ok && failed(&text)[0].contains("faults seen"), "{text}");
}

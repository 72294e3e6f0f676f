//! One test as 1 process and as 3 shards (`--shard I/N`, `--start-at`, `--run-id`), real
//! binaries against the built-in origin on loopback:
//!
//! * the 3 shards run the same viewers as the whole test — the same ids (in User-Agents),
//!   the same ramp slots (each viewer's start at `-v`, and its first request at the
//!   origin relative to the agreed instant), no id twice;
//! * shards started about 1 s apart all ramp from the agreed instant: each shard's first
//!   request reaches the origin within 100 ms of it (and of its first viewer's slot);
//! * every report names the run and its shard; a late shard catches up and says so;
//! * bad values exit 2 naming their flag.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Lab, LogLine};
use hls_swarm::origin::FaultConfig;

const CLIENTS: u64 = 12;

/// One process's run: its viewers' planned slots (µs, from the `-v` log), its JSON report,
/// its exit code and stderr.
struct Ran {
    slots: BTreeMap<u64, u64>,
    report: serde_json::Value,
    code: Option<i32>,
    stderr: String,
}

fn bin() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).expect("clock").as_secs_f64()
}

/// Run the whole test (`shard` = None) or one shard of it, ramping at `rate`/s from `at`.
async fn swarm(url: &str, shard: Option<&str>, rate: &str, at: &str, dir: &Path) -> Ran {
    let out = dir.join(format!(
        "report-{}.json",
        shard.unwrap_or("whole").replace('/', "-")
    ));
    let clients = CLIENTS.to_string();
    let mut args = vec![
        url,
        "-clients",
        &clients,
        "-ramp-rate",
        rate,
        "-ramp-jitter",
        "40ms",
        "-client-id-offset",
        "100",
        "-seed",
        "7",
        "-variant",
        "lowest",
        "-duration",
        "3s",
        "-tui=false",
        "-metrics",
        "off",
        "-v",
        "--start-at",
        at,
        "--run-id",
        "shard-test",
    ];
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    let out_arg = out.to_string_lossy().into_owned();
    args.extend(["--output", &out_arg]);
    let o: Output = bin().args(&args).output().await.expect("run hls-swarm");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let mut slots = BTreeMap::new();
    for line in stderr.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let f = &v["fields"];
        if f["message"] == "viewer starts" {
            let id = f["viewer"].as_u64().expect("viewer id");
            let slot = f["slot_us"].as_u64().expect("slot");
            assert!(
                slots.insert(id, slot).is_none(),
                "viewer {id} started twice"
            );
        }
    }
    let report = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Ran {
        slots,
        report,
        code: o.status.code(),
        stderr,
    }
}

/// The viewer id in a User-Agent `hls-swarm/<version>/client-<id>`; `None` for the
/// stream probe's (`hls-swarm/<version>`), sent before the wait.
fn viewer_of(ua: &str) -> Option<u64> {
    let (_, id) = ua.rsplit_once("/client-")?;
    Some(
        id.parse()
            .unwrap_or_else(|_| panic!("bad viewer id in {ua:?}")),
    )
}

/// Each viewer's first request at the origin, in seconds after `at`.
fn first_requests(log: &[LogLine], at: SystemTime) -> BTreeMap<u64, f64> {
    let mut first: BTreeMap<u64, f64> = BTreeMap::new();
    for l in log {
        let t = l.ts - unix(at);
        let Some(id) = viewer_of(&l.ua) else {
            continue;
        };
        let e = first.entry(id).or_insert(t);
        *e = e.min(t);
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_run_the_whole_tests_viewers_on_its_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");

    // The whole test in one process.
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let at = SystemTime::now() + Duration::from_secs(2);
    let whole = swarm(&lab.url(), None, "50", &rfc3339(at), dir.path()).await;
    let whole_log = lab.finish().await;
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    let whole_first = first_requests(&whole_log, at);

    // The same test as 3 shards, started about 1 s apart, all for one instant 3 s ahead.
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let at = SystemTime::now() + Duration::from_secs(3);
    let at_text = rfc3339(at);
    let mut handles = Vec::new();
    for i in 0..3 {
        let (url, at_text, dir) = (url.clone(), at_text.clone(), dir.path().to_path_buf());
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000 * i)).await;
            swarm(&url, Some(&format!("{i}/3")), "50", &at_text, &dir).await
        }));
    }
    let mut shards = Vec::new();
    for h in handles {
        shards.push(h.await.expect("shard task"));
    }
    let log = lab.finish().await;
    let first = first_requests(&log, at);

    // Same ids, same planned slots; no id on two shards.
    assert_eq!(whole.slots.len() as u64, CLIENTS);
    let ids: BTreeSet<u64> = (100..100 + CLIENTS).collect();
    assert_eq!(whole.slots.keys().copied().collect::<BTreeSet<_>>(), ids);
    let mut union = BTreeMap::new();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s.code, Some(0), "shard {i}: {}", s.stderr);
        assert!(!s.slots.is_empty(), "shard {i} ran no viewer");
        for (&id, &slot) in &s.slots {
            assert!(
                union.insert(id, slot).is_none(),
                "viewer {id} on two shards"
            );
        }
    }
    assert_eq!(
        union, whole.slots,
        "the shards' viewers and slots are the whole test's"
    );

    // At the origin: the same User-Agents, each first request at its slot and at the same
    // offset from the agreed instant as in the single-process run (slots 20 ms apart,
    // jitter capped at 10 ms; the exact slots are compared above, from the -v log).
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        whole_first.keys().collect::<Vec<_>>()
    );
    let worst = first
        .iter()
        .map(|(id, t)| {
            (
                (t - union[id] as f64 / 1e6).abs(),
                (t - whole_first[id]).abs(),
            )
        })
        .fold((0.0f64, 0.0f64), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    eprintln!(
        "first request vs slot: worst {:.1} ms; shard vs whole run: worst {:.1} ms",
        worst.0 * 1e3,
        worst.1 * 1e3
    );
    for (id, t) in &first {
        let slot = union[id] as f64 / 1e6;
        assert!(
            (t - slot).abs() < 0.05,
            "viewer {id}: first request {t:.3} s, slot {slot:.3} s"
        );
        let w = whole_first[id];
        assert!(
            (t - w).abs() < 0.05,
            "viewer {id}: {t:.3} s as a shard, {w:.3} s whole"
        );
    }

    // Each shard's first request within 100 ms of the instant (its first viewer's slot
    // is at most 40 ms + 10 ms of jitter in) and of its first viewer's slot.
    for (i, s) in shards.iter().enumerate() {
        let earliest = s
            .slots
            .keys()
            .map(|id| first[id])
            .fold(f64::INFINITY, f64::min);
        let slot = s.slots.values().min().copied().unwrap_or(0) as f64 / 1e6;
        eprintln!(
            "shard {i}: first request {:.1} ms after the instant (its first slot {:.1} ms)",
            earliest * 1e3,
            slot * 1e3
        );
        assert!(
            (0.0..0.1).contains(&earliest) && (earliest - slot).abs() < 0.1,
            "shard {i}: first request {earliest:.3} s after the instant, its first slot {slot:.3} s"
        );
        // Each report names the test and the shard; the shard was early and waited.
        let run = &s.report["run"];
        assert_eq!(run["id"], "shard-test", "{}", s.report);
        assert_eq!(run["shard"]["index"], i as u64);
        assert_eq!(run["shard"]["count"], 3);
        assert_eq!(run["start_at"], at_text.as_str());
        assert_eq!(run["start_late_seconds"], 0.0);
        assert_eq!(s.report["viewers"]["target"], s.slots.len() as u64);
        assert!(s.stderr.contains("waiting"), "shard {i}: {}", s.stderr);
    }
    assert_eq!(whole.report["run"]["shard"]["count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_shard_catches_up_and_says_how_late() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let at = SystemTime::now() - Duration::from_millis(1500);
    // Slots every 0.25 s: this shard's first three have passed, the last three have not.
    let late = swarm(&lab.url(), Some("1/2"), "4", &rfc3339(at), dir.path()).await;
    let log = lab.finish().await;
    assert_eq!(late.code, Some(0), "{}", late.stderr);
    assert!(
        late.stderr.contains("late for --start-at"),
        "{}",
        late.stderr
    );
    let run = &late.report["run"];
    let behind = run["start_late_seconds"].as_f64().expect("lateness");
    assert!((1.5..3.0).contains(&behind), "{behind}");
    // The viewers whose slot had passed started at once; the rest kept their slots.
    let first = first_requests(&log, at);
    assert_eq!(late.slots.len(), 6);
    assert!(
        late.slots.values().any(|&s| s as f64 / 1e6 > behind + 0.2),
        "some slots ahead"
    );
    for (id, &slot_us) in &late.slots {
        let slot = slot_us as f64 / 1e6;
        let t = first[id];
        let due = slot.max(behind);
        assert!(
            (t - due).abs() < 0.1,
            "viewer {id}: {t:.3} s, due {due:.3} s"
        );
    }
    // -duration counts from the instant: 3 s from it, 1.5 s of which had passed.
    let ran = late.report["duration_seconds"].as_f64().expect("duration");
    assert!((ran - 3.0).abs() < 0.3, "{ran}");
}

#[test]
fn bad_shard_values_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--shard", "3/3"], "--shard"),
        (&["--shard", "0/0"], "--shard"),
        (&["--shard", "x"], "--shard"),
        (&["-clients", "2", "--shard", "2/3"], "--shard"),
        (&["--start-at", "yesterday"], "--start-at"),
        (&["--start-at", "+soon"], "--start-at"),
        (&["--run-id", "a b"], "--run-id"),
    ];
    for (args, flag) in cases {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
            .args(*args)
            .output()
            .expect("run hls-swarm");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?} must name {flag}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_the_wait_ends_the_run_with_its_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut child = bin()
        .args([
            "-clients",
            "3",
            "-tui=false",
            "-metrics",
            "off",
            "--start-at",
            "+60s",
            "--output",
        ])
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Past the probe, into the wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still waiting"
    );
    let pid = child.id().expect("pid") as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let o = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("exits within 5 s of SIGTERM")
        .expect("output");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("waiting"), "{err}");
    assert!(out.contains("run summary"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("json");
    assert_eq!(report["stop_reason"], "signal");
    assert_eq!(
        report["viewers"]["started"], 0,
        "no viewer ramped before the instant"
    );
}

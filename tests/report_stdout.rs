//! `--output -`: the JSON report as the last line of standard output, the way a
//! Kubernetes pod hands its report over (`kubectl logs … | hls-swarm merge -`). Real
//! binaries against the built-in origin on loopback:
//!
//! * two shards of one test, each with stdout and stderr in one file as a container
//!   runtime keeps them (debug logs in JSON on stderr, the summary on stdout): the last
//!   line of each is the shard's whole report, compact, after the summary;
//! * the two logs concatenated, as `kubectl logs -l …` prints them, merge with
//!   `hls-swarm merge - --output -` into counts equal to the origin's access log, and the
//!   merged report is in turn the last line of the merge's stdout;
//! * `--report -` is refused by name (exit 2), by a run and by a merge.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use common::{Lab, counts_by_kind};
use hls_swarm::origin::FaultConfig;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

fn bin() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
}

/// Run shard `i` of 2 with `--output -`; stdout and stderr go to one file (`pod-i.log`),
/// as a container runtime keeps a pod's log.
async fn pod(url: &str, i: u64, at: &str, dir: &Path) -> PathBuf {
    let log = dir.join(format!("pod-{i}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let both = file.try_clone().expect("clone");
    let shard = format!("{i}/2");
    let status = bin()
        .args([
            url,
            "-clients",
            "4",
            "-ramp-rate",
            "20",
            "-duration",
            "3s",
            "-tui=false",
            "-metrics",
            "off",
            "-v",
            "-log-format",
            "json",
            "--start-at",
            at,
            "--run-id",
            "stdout-test",
            "--shard",
            &shard,
            "--output",
            "-",
        ])
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(both))
        .status()
        .await
        .expect("run hls-swarm");
    let text = std::fs::read_to_string(&log).expect("read log");
    assert_eq!(status.code(), Some(0), "pod {i}:\n{text}");
    log
}

/// The last line of `text`, parsed as JSON (panics, showing the text, when it is not).
fn last_line_json(what: &str, text: &str) -> Value {
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{what}: the last line is no JSON ({e}):\n{text}"))
}

async fn merge_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .arg("merge")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn merge");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin).await.expect("write stdin");
    drop(pipe);
    child.wait_with_output().await.expect("merge output")
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_print_their_report_last_and_their_logs_merge_into_the_access_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2)).to_string();
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (url, at, dir) = (url.clone(), at.clone(), dir.path().to_path_buf());
            tokio::spawn(async move { pod(&url, i, &at, &dir).await })
        })
        .collect();
    let mut logs = Vec::new();
    for h in handles {
        logs.push(std::fs::read_to_string(h.await.expect("pod task")).expect("log"));
    }
    let access = lab.finish().await;

    let mut shard_requests = 0;
    for (i, log) in logs.iter().enumerate() {
        let report = last_line_json(&format!("pod {i}"), log);
        assert_eq!(report["schema"], 7, "pod {i}");
        assert_eq!(report["run"]["id"], "stdout-test");
        assert_eq!(report["run"]["shard"]["index"], i as u64);
        assert!(
            report["merge"]["accumulator"].is_object(),
            "the whole report"
        );
        let summary = log.find("run summary").expect("the summary is printed");
        let last_line_start = log.trim_end().rfind('\n').map_or(0, |n| n + 1);
        assert!(
            summary < last_line_start,
            "pod {i}: the summary comes before the report"
        );
        // Exactly one report line: the JSON logs on stderr are other objects.
        let reports = log
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("schema").is_some())
            .count();
        assert_eq!(reports, 1, "pod {i}: one report in its log");
        assert!(
            log.lines().filter(|l| l.starts_with('{')).count() > 1,
            "pod {i}: debug logs in JSON were interleaved (the test's premise)"
        );
        shard_requests += report["requests"]["segment"]["count"]
            .as_u64()
            .expect("count");
    }

    // `kubectl logs -l …` prints the pods' logs one after the other.
    let o = merge_stdin(&["-", "--output", "-"], logs.concat().as_bytes()).await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("merged: all 2 shards (0, 1)"), "{stdout}");
    let total = last_line_json("merge", &stdout);
    assert_eq!(total["run"]["merged"]["indices"], serde_json::json!([0, 1]));
    assert_eq!(total["viewers"]["target"], 4);
    let by_kind = counts_by_kind(&access);
    for kind in ["master", "playlist", "segment"] {
        assert_eq!(
            total["requests"][kind]["count"].as_u64(),
            Some(by_kind.get(kind).copied().unwrap_or(0)),
            "{kind} requests: merged vs access log"
        );
    }
    assert_eq!(total["requests"]["segment"]["count"], shard_requests);
    assert!(shard_requests > 0, "the pods fetched segments");
    let served: u64 = access.iter().map(|l| l.bytes).sum();
    assert_eq!(total["total_bytes"], served, "bytes: merged vs access log");
}

#[tokio::test]
async fn report_dash_is_refused_by_name() {
    let o = bin()
        .args(["-clients", "1", "-duration", "30s", "-metrics", "off"])
        .args(["-tui=false", "--report", "-"])
        .output()
        .await
        .expect("run");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--report: `-`"), "{stderr}");
    assert!(o.stdout.is_empty(), "no run");
    let o = merge_stdin(&["-", "--report", "-"], b"").await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--report: `-`"), "{stderr}");
}

//! `--request-log FILE` against the built-in origin (loopback): the log's requests are the
//! origin's access log (per kind, bytes, paths), every line parses, the report's
//! percentiles are those of the logged samples; a writer that cannot keep up drops lines,
//! counted, and the run still ends; a run ended by SIGINT (after a SIGUSR1's interim
//! report) leaves a whole log; the FFmpeg engine writes the log too; a path that cannot
//! take the log is a usage error naming the flag.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use common::request_log::{self as reqlog, assert_dist_is_of, assert_equals_access_log, micros};
use common::{Lab, as_args, config, ffmpeg_args};
use hls_swarm::origin::FaultConfig;
use hls_swarm::swarm::{self, RunHooks};
use serde_json::Value;

fn bin() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_is_the_origins_access_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.ndjson");
    let report_path = dir.path().join("run.json");
    let mut faults = FaultConfig::default();
    faults.delay.segment = Duration::from_millis(20);
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let o = bin()
        .args([
            &lab.url(),
            "-clients",
            "12",
            "-ramp-rate",
            "20",
            "-variant",
            "all",
            "-duration",
            "5s",
            "-tui=false",
            "-metrics",
            "off",
            "--run-id",
            "log-test",
            "--request-log",
        ])
        .arg(&log_path)
        .arg("--output")
        .arg(&report_path)
        .output()
        .await
        .expect("run hls-swarm");
    let access = lab.finish().await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (header, lines) = reqlog::read(&log_path);
    assert_eq!(header.request_log, 1);
    assert_eq!(header.run_id, "log-test");
    assert_eq!((header.shard_index, header.shard_count), (0, 1));
    assert_eq!(header.engine, "native");

    assert_equals_access_log(&lines, &access);
    assert!(lines.iter().all(|l| l.protocol.as_deref() == Some("http1")));
    assert!(lines.iter().any(|l| l.kind == "segment"));
    // Every viewer, by its global id; the swarm's own probe has none.
    let viewers: BTreeSet<u64> = lines.iter().filter_map(|l| l.viewer).collect();
    assert_eq!(viewers.len(), 12, "{viewers:?}");
    assert_eq!(
        lines.iter().filter(|l| l.viewer.is_none()).count(),
        1,
        "the probe"
    );
    // Start times lie in the run, in Unix milliseconds, and a request ends after its head.
    let first = lines.iter().map(|l| l.start_ms).min().expect("lines");
    let last = lines.iter().map(|l| l.start_ms).max().expect("lines");
    let wall = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64
    };
    assert!(first >= wall(lab_started(&access)) - 1000, "{first}");
    assert!(last - first < 15_000, "{first}..{last}");
    for l in &lines {
        assert!(l.ttfb_ms.is_some_and(|t| t <= l.total_ms), "{l:?}");
        assert_eq!(l.status, Some(200), "{l:?}");
        assert_eq!(l.error, None);
    }

    // The report counted every line written, none lost; its percentiles are the log's.
    let report = read_json(&report_path);
    assert_eq!(report["schema"], 7);
    let counts = &report["request_log"];
    assert_eq!(counts["lines_written"], lines.len() as u64);
    assert_eq!(
        (
            counts["lines_dropped"].as_u64(),
            counts["lines_failed"].as_u64()
        ),
        (Some(0), Some(0))
    );
    for kind in ["master", "playlist", "segment"] {
        let of_kind = || lines.iter().filter(move |l| l.kind == kind);
        let mut ttfb: Vec<u64> = of_kind().filter_map(|l| l.ttfb_ms.map(micros)).collect();
        assert_dist_is_of(&report["requests"][kind]["ttfb_seconds"], &mut ttfb, kind);
        let mut total: Vec<u64> = of_kind()
            .filter(|l| !l.aborted)
            .map(|l| micros(l.total_ms))
            .collect();
        assert_dist_is_of(
            &report["requests"][kind]["download_seconds"],
            &mut total,
            kind,
        );
    }
    // The injected segment delay is in the logged TTFBs.
    assert!(
        lines
            .iter()
            .filter(|l| l.kind == "segment")
            .all(|l| l.ttfb_ms.is_some_and(|t| t >= 20.0))
    );
}

/// Over h2c (`--http2 on`) every line names HTTP/2, as the origin's access log does for
/// the same requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http2_each_line_names_the_protocol_the_origin_saw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.ndjson");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let o = bin()
        .args([
            &lab.url(),
            "-clients",
            "4",
            "-ramp-rate",
            "20",
            "-duration",
            "4s",
            "-tui=false",
            "-metrics",
            "off",
            "--http2",
            "on",
            "--request-log",
        ])
        .arg(&log_path)
        .output()
        .await
        .expect("run hls-swarm");
    let access = lab.finish().await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (_, lines) = reqlog::read(&log_path);
    assert_equals_access_log(&lines, &access);
    assert!(access.iter().all(|l| l.proto == "HTTP/2"), "h2c throughout");
    assert!(lines.iter().any(|l| l.kind == "segment"));
}

/// The origin's first request, as a wall-clock time (its access log's `ts`, seconds).
fn lab_started(access: &[common::LogLine]) -> std::time::SystemTime {
    let ts = access.iter().map(|l| l.ts).fold(f64::INFINITY, f64::min);
    std::time::UNIX_EPOCH + Duration::from_secs_f64(ts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_cannot_keep_up_drops_lines_counted_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("requests.fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo on a path inside our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // A reader that never reads: the pipe (shrunk to one page) fills and the writer blocks.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO's read end");
    {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(reader.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    }
    let report_path = dir.path().join("run.json");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let started = std::time::Instant::now();
    let o = bin()
        .args([
            &lab.url(),
            "-clients",
            "150",
            "-ramp-rate",
            "150",
            "-variant",
            "all",
            "-duration",
            "4s",
            "-tui=false",
            "-metrics",
            "off",
            "--request-log-buffer",
            "8",
            "--request-log",
        ])
        .arg(&fifo)
        .arg("--output")
        .arg(&report_path)
        .output()
        .await
        .expect("run hls-swarm");
    let took = started.elapsed();
    let access = lab.finish().await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        took < Duration::from_secs(30),
        "the blocked writer held the end: {took:?}"
    );
    let report = read_json(&report_path);
    let counts = &report["request_log"];
    let n = |k: &str| counts[k].as_u64().expect("count");
    let requests: u64 = [
        "master", "playlist", "blocking", "segment", "init", "part", "hint",
    ]
    .iter()
    .map(|k| report["requests"][k]["count"].as_u64().expect("count"))
    .sum();
    assert_eq!(
        requests,
        access.len() as u64,
        "the run's requests are the origin's"
    );
    assert!(n("lines_dropped") > 0, "{counts}");
    assert_eq!(
        n("lines_written") + n("lines_dropped") + n("lines_failed"),
        requests,
        "every request line is written, dropped or failed: {counts}"
    );
    assert!(
        stdout.contains("WARNING: --request-log is missing"),
        "{stdout}"
    );
    // What did reach the pipe: the header, then whole lines that parse, at least as many
    // as were counted written.
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut &reader, &mut got);
    let text = String::from_utf8_lossy(&got);
    let whole: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    assert!(
        whole.len() as u64 > n("lines_written"),
        "{} whole lines",
        whole.len()
    );
    for l in &whole {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad line {l}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ffmpeg_engine_writes_the_request_log_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.ndjson");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let path = log_path.to_str().expect("utf-8").to_string();
    let args = ffmpeg_args(&url, 3, 10, "6s", &["--request-log", &path]);
    let report = swarm::run(
        std::sync::Arc::new(config(&as_args(&args))),
        RunHooks::default(),
    )
    .await
    .expect("run succeeds");
    let access = lab.finish().await;
    let (header, lines) = reqlog::read(&log_path);
    assert_eq!(header.engine, "ffmpeg");
    assert_equals_access_log(&lines, &access);
    // FFmpeg's requests name no protocol; the swarm's own probe (native) does.
    assert!(
        lines
            .iter()
            .all(|l| l.protocol.is_none() == l.viewer.is_some()),
        "FFmpeg's requests name none"
    );
    let viewers: BTreeSet<u64> = lines.iter().filter_map(|l| l.viewer).collect();
    assert_eq!(
        viewers.len(),
        3,
        "each FFmpeg's requests carry its viewer id: {viewers:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.kind == "segment" && l.viewer.is_some())
    );
    let counts = report.snapshot.request_log.expect("counts");
    assert_eq!(counts.written, lines.len() as u64);
    assert_eq!(counts.lost(), 0);
}

#[tokio::test]
async fn a_path_that_cannot_take_the_log_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("nobody-reads.fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo on a path inside our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for (target, says) in [
        (dir.path().to_path_buf(), "is a directory"),
        (dir.path().join("no/such/r.ndjson"), "does not exist"),
        (fifo.clone(), "no reader"),
        ("-".into(), "standard output"),
    ] {
        let o = bin()
            .args([
                "http://127.0.0.1:9/x.m3u8",
                "-duration",
                "1s",
                "-tui=false",
                "-metrics",
                "off",
            ])
            .arg("--request-log")
            .arg(&target)
            .output()
            .await
            .expect("run hls-swarm");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", target.display());
        assert!(err.contains("--request-log") && err.contains(says), "{err}");
    }
    let o = bin()
        .args(["http://127.0.0.1:9/x.m3u8", "--request-log-buffer", "0"])
        .output()
        .await
        .expect("run hls-swarm");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--request-log-buffer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_ended_by_sigint_after_a_sigusr1_leaves_a_whole_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.ndjson");
    let report_path = dir.path().join("run.json");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let child = bin()
        .args([
            &lab.url(),
            "-clients",
            "10",
            "-ramp-rate",
            "20",
            "-duration",
            "60s",
            "-tui=false",
            "-metrics",
            "off",
            "--request-log",
        ])
        .arg(&log_path)
        .arg("--output")
        .arg(&report_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hls-swarm");
    let pid = child.id().expect("pid") as i32;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let interim = read_json(&report_path);
    assert_eq!(interim["stop_reason"], "running");
    assert!(
        interim["request_log"]["lines_written"]
            .as_u64()
            .expect("count")
            > 0
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let o = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("ends after SIGINT")
        .expect("waits");
    let access = lab.finish().await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = read_json(&report_path);
    assert_eq!(report["stop_detail"], "SIGINT");
    let (_, lines) = reqlog::read(&log_path);
    assert_equals_access_log(&lines, &access);
    assert_eq!(report["request_log"]["lines_written"], lines.len() as u64);
    assert_eq!(report["request_log"]["lines_dropped"], 0);
}

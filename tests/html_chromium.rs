//! The HTML report in a real browser: a short real run (built-in origin) writes
//! `--report`, headless Chromium renders it with every network fetch made impossible.
//!
//! Proves: the report is one self-contained file (no external references; a fetch would
//! fail and log a console error), its script runs without an exception (it marks the page
//! `data-ready="1"`, read back with `--dump-dom`), the console stays clean, and the
//! screenshot shows charts and tables (not a blank page). Also: the report is written when
//! the run is stopped by SIGTERM.
//!
//! Hostile strings: every string of the report that comes from the origin or the command
//! line is fed `<script>`, attribute-breaking and `</script>` payloads, and Chromium
//! proves none of them ran (the page's own script still did).
//!
//! Needs Chromium. Skipped with a loud message only when it is missing and `CI` is unset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is required in CI (scripts/test.sh installs it)"
        );
        eprintln!(
            "\n!!! SKIPPED: chromium is not installed; the HTML report was not rendered !!!\n"
        );
    }
    found
}

/// Run `cmd`, killing it after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"))
}

fn chromium_cmd(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        // Any name lookup fails: a report that fetched something would log an error.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn run_swarm_with_report(report: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hls-swarm"));
    cmd.args([
        "-metrics",
        "off",
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-duration",
        "8s",
        "--report",
    ])
    .arg(report);
    output_within(cmd, Duration::from_secs(60))
}

/// Console lines Chromium logged for the page.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect()
}

#[test]
fn report_renders_in_headless_chromium_without_errors() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = dir.path().join("run.html");
    let out = run_swarm_with_report(&report);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("report: {e}"));

    // Self-contained: nothing to load from anywhere.
    for needle in ["<link", " src=", "@import", "url(", "href=\"http", "fetch("] {
        assert!(
            !html.contains(needle),
            "external reference {needle:?} in the report"
        );
    }
    for id in [
        "viewers",
        "throughput",
        "requests",
        "ttfb",
        "errors",
        "stalls",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "chart {id} missing");
    }
    assert!(html.contains("-duration elapsed"), "stop reason");
    assert!(html.contains("3 / 3"), "peak viewers card");

    let url = format!("file://{}", report.display());
    // 1. The DOM after scripts ran.
    let mut dom = chromium_cmd(&bin, &dir.path().join("profile-dom"));
    dom.arg("--dump-dom").arg(&url);
    let dom = output_within(dom, Duration::from_secs(90));
    let dom_html = String::from_utf8_lossy(&dom.stdout);
    let dom_err = String::from_utf8_lossy(&dom.stderr);
    assert!(
        dom_html.contains("data-ready=\"1\""),
        "the report's script did not finish; stderr:\n{dom_err}"
    );
    assert!(
        !dom_html.contains("data-errors=\""),
        "a script error was caught"
    );
    assert!(
        console_lines(&dom_err).is_empty(),
        "console messages: {:?}",
        console_lines(&dom_err)
    );

    // 2. A screenshot that shows something.
    let png = dir.path().join("shot.png");
    let mut shot = chromium_cmd(&bin, &dir.path().join("profile-shot"));
    shot.arg(format!("--screenshot={}", png.display()))
        .arg(&url);
    let shot = output_within(shot, Duration::from_secs(90));
    let shot_err = String::from_utf8_lossy(&shot.stderr);
    assert!(png.exists(), "no screenshot; stderr:\n{shot_err}");
    assert!(
        console_lines(&shot_err).is_empty(),
        "console messages: {:?}",
        console_lines(&shot_err)
    );
    if let Some(keep) = std::env::var_os("HLS_SWARM_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&png, keep);
    }
    assert_not_blank(&png);
}

/// Decode the PNG and check it has real content: many colours, and a good share of pixels
/// that are not the page background.
fn assert_not_blank(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}"));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("png: {e}"));
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("png frame: {e}"));
    assert_eq!((info.width, info.height), (1280, 2000), "window size");
    let channels = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| &p[..3.min(p.len())])
        .collect();
    let mut counts = std::collections::HashMap::new();
    for p in &px {
        *counts.entry(*p).or_insert(0u64) += 1;
    }
    let background = counts.values().copied().max().unwrap_or(0);
    let other = px.len() as u64 - background;
    assert!(
        counts.len() > 50,
        "only {} colours: blank page?",
        counts.len()
    );
    assert!(
        other * 100 / px.len() as u64 >= 3,
        "only {other} of {} pixels differ from the background",
        px.len()
    );
}

#[test]
fn report_is_written_when_stopped_by_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = dir.path().join("stopped.html");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args([
            "-metrics",
            "off",
            "-clients",
            "2",
            "-ramp-rate",
            "10",
            "--report",
        ])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("report: {e}"));
    assert!(html.contains("signal (SIGTERM)"), "stop reason");
    assert!(html.contains("<svg"), "charts");
    assert!(html.contains("2 / 2"), "peak viewers");
}

/// Payloads that would run script if any string reached the page unescaped: each marks
/// the document with `data-pwned` when it runs.
const PAYLOADS: [&str; 5] = [
    "<script>document.documentElement.setAttribute('data-pwned','script')</script>",
    "\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','attr')\">",
    "'><svg onload=document.documentElement.setAttribute('data-pwned','svg')>",
    "</script><script>document.documentElement.setAttribute('data-pwned','close')</script>",
    "<!--<script>document.documentElement.setAttribute('data-pwned','comment')//",
];

/// A real short run's report with a payload (and a terminal escape) in every string that
/// can come from the origin or the command line.
async fn hostile_report() -> (hls_swarm::swarm::RunReport, hls_swarm::slo::SloResult) {
    let cli = hls_swarm::config::cli::parse_from([
        "hls-swarm",
        "-clients",
        "2",
        "-ramp-rate",
        "10",
        "-duration",
        "3s",
        "-metrics",
        "off",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let cfg = hls_swarm::config::Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}"));
    let mut report = hls_swarm::swarm::run(std::sync::Arc::new(cfg), Default::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = |i: usize| {
        format!(
            "{}\x1b]0;pwned\x07\x1b[2J{}",
            PAYLOADS[i % PAYLOADS.len()],
            i
        )
    };
    report.stream_url = p(0);
    report.stop_detail = Some(p(1));
    let mut ffmpeg = hls_swarm::stats::ffmpeg::FfmpegStats {
        binary: p(2),
        version: p(3),
        last_error: Some(p(4)),
        ..Default::default()
    };
    ffmpeg.crash_loop.message = Some(format!("{}\n{}", p(0), p(1)));
    report.snapshot.ffmpeg = Some(ffmpeg);
    let mut slo = hls_swarm::slo::evaluate(
        &hls_swarm::config::Slo {
            max_stalled: Some(0),
            ..Default::default()
        },
        &report.snapshot,
    );
    for c in &mut slo.checks {
        c.objective = p(2);
        c.actual = p(3);
    }
    slo.abort(p(4));
    (report, slo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_neither_run_in_the_report_nor_reach_the_terminal() {
    let (report, slo) = hostile_report().await;

    // The summary: no control character but newlines reaches the terminal.
    let summary = hls_swarm::output::summary::render(&report, &slo);
    assert!(
        !summary.contains(|c: char| c.is_control() && c != '\n'),
        "terminal escape in the summary: {summary:?}"
    );
    assert!(
        summary.contains("\\x1b]0;pwned"),
        "shown, harmlessly: {summary}"
    );

    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("hostile.html");
    hls_swarm::output::html::write(&path, &report, &slo).unwrap_or_else(|e| panic!("{e}"));
    let html = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));

    let mut dom = chromium_cmd(&bin, &dir.path().join("profile-dom"));
    // The hostile strings' own markers can only show up as attributes if they ran.
    dom.arg("--dump-dom")
        .arg(format!("file://{}", path.display()));
    let dom = output_within(dom, Duration::from_secs(90));
    let dom_html = String::from_utf8_lossy(&dom.stdout);
    let dom_err = String::from_utf8_lossy(&dom.stderr);
    assert!(
        dom_html.contains("data-ready=\"1\""),
        "the report's own script ran to the end; stderr:\n{dom_err}"
    );
    assert!(
        !dom_html.contains("data-pwned=\""),
        "a payload ran:\n{dom_html}"
    );
    assert!(!dom_html.contains("data-errors=\""), "no script error");
    assert!(
        dom_html.contains("setAttribute('data-pwned','attr')"),
        "the payloads are shown as text"
    );
    assert!(
        !dom_html.contains("<img") && !dom_html.contains("<svg onload"),
        "no element was injected"
    );
    assert!(
        !html.contains("<img src=x") && !html.contains("<svg onload"),
        "raw tags"
    );
    assert_eq!(
        html.matches("<script").count(),
        html.matches("</script>").count(),
        "every script element is ours and closed"
    );
}

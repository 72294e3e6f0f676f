//! Truth tests of arrival mode (`--arrival-rate`, `--session-duration`) against the
//! built-in origin (loopback only):
//!
//! * native engine, 5 arrivals/s with exponential sessions (mean 4 s) for 20 s under a
//!   cap of 200: the sessions started are the schedule's arrivals (which the test draws
//!   itself from the same seed) and near rate × T; every viewer's requests (request log)
//!   lie inside its own session window; sessions ended and censored are those the
//!   schedule says; realised lengths are the drawn ones plus at most the leave grace;
//!   the origin's open connections never exceed the sessions open (they close as
//!   sessions leave) and all are closed at the end; the JSON report and the summary
//!   say what the test counts;
//! * a cap of 3 refuses arrivals, counted;
//! * FFmpeg engine: each session is one ffmpeg process that is stopped gracefully; no
//!   restart, failure or crash is counted.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Lab;
use common::request_log as reqlog;
use hls_swarm::arrivals::ArrivalSchedule;
use hls_swarm::config::session::SessionModel;
use hls_swarm::engine::session::SESSION_GRACE;
use hls_swarm::origin::FaultConfig;
use serde_json::Value;

fn bin() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("JSON")
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).expect("clock").as_secs_f64() * 1000.0
}

/// What the test expects of one whole-test arrival.
struct Expected {
    /// Arrival, ms since time zero.
    at_ms: f64,
    /// Drawn session length, ms.
    length_ms: f64,
}

/// The arrivals the schedule makes before `run` (and their drawn lengths), by viewer id.
fn expected(rate: f64, seed: u64, model: SessionModel, run: Duration) -> BTreeMap<u64, Expected> {
    ArrivalSchedule::new(rate, seed)
        .take_while(|a| a.offset < run)
        .map(|a| {
            (
                a.index,
                Expected {
                    at_ms: a.offset.as_secs_f64() * 1000.0,
                    length_ms: model.length_for(seed, a.index).as_secs_f64() * 1000.0,
                },
            )
        })
        .collect()
}

/// Run the binary against `lab` with `args`, sampling the origin's open connections
/// every 100 ms while it runs; returns (exit code, stdout, most connections open).
async fn run_sampling(lab: &Lab, args: &[&str]) -> (Option<i32>, String, u64) {
    let mut child = bin()
        .arg(lab.url())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hls-swarm");
    let stdout = child.stdout.take().expect("stdout");
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut s = String::new();
        let mut out = stdout;
        let _ = out.read_to_string(&mut s).await;
        s
    });
    let mut most_open = 0;
    let status = loop {
        let open = lab
            .origin
            .connections_accepted()
            .saturating_sub(lab.origin.connections_closed());
        most_open = most_open.max(open);
        tokio::select! {
            st = child.wait() => break st.expect("wait"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    };
    let out = reader.await.expect("stdout reader");
    (status.code(), out, most_open)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_come_and_go_as_the_schedule_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.ndjson");
    let report_path = dir.path().join("run.json");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let (rate, seed, run) = (5.0, 7u64, Duration::from_secs(20));
    let model = SessionModel::Exp {
        mean: Duration::from_secs(4),
    };
    let (code, stdout, most_open) = run_sampling(
        &lab,
        &[
            "-clients",
            "200",
            "--arrival-rate",
            "5",
            "--session-duration",
            "exp:mean=4s",
            "-seed",
            "7",
            "-variant",
            "lowest",
            "-duration",
            "20s",
            "-tui=false",
            "-metrics",
            "off",
            "--request-log",
            log_path.to_str().expect("path"),
            "--output",
            report_path.to_str().expect("path"),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}");
    // The viewers are gone: give the sockets a moment to be seen closed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (accepted, closed) = (
        lab.origin.connections_accepted(),
        lab.origin.connections_closed(),
    );
    let _access = lab.finish().await;
    assert_eq!(accepted, closed, "every connection opened was closed");

    let r = read_json(&report_path);
    let s = &r["sessions"];
    let t0 = unix_ms(
        humantime::parse_rfc3339(r["started_at"].as_str().expect("started_at")).expect("time"),
    );
    let want = expected(rate, seed, model, run);
    let n = want.len() as u64;
    // Poisson: 100 expected, sd 10 (a generous four sd).
    assert!((60..=140).contains(&n), "the schedule has {n} arrivals");
    let started = s["started"].as_u64().expect("started");
    let refused = s["refused"].as_u64().expect("refused");
    assert_eq!(refused, 0, "the cap of 200 is never reached");
    // Only an arrival within a few ms of the end may or may not have made it.
    let near_end = want
        .values()
        .filter(|e| e.at_ms > run.as_secs_f64() * 1000.0 - 100.0)
        .count() as u64;
    assert!(
        (n - near_end..=n).contains(&started),
        "started {started}, the schedule {n}"
    );

    // Ended and censored: a session whose end (plus the grace to leave) falls before the
    // run's stop ended; one still going at the stop is censored; the ones leaving just
    // then may be either.
    let end_ms = run.as_secs_f64() * 1000.0;
    let grace_ms = SESSION_GRACE.as_secs_f64() * 1000.0;
    let surely_ended = want
        .values()
        .filter(|e| e.at_ms + e.length_ms + grace_ms + 200.0 < end_ms)
        .count() as u64;
    let surely_censored = want
        .values()
        .filter(|e| e.at_ms < end_ms - 100.0 && e.at_ms + e.length_ms > end_ms + 100.0)
        .count() as u64;
    let ended = s["ended"].as_u64().expect("ended");
    let censored = s["censored"].as_u64().expect("censored");
    assert_eq!(ended + censored, started, "every session ends once");
    assert!(
        ended >= surely_ended && censored >= surely_censored,
        "ended {ended} (at least {surely_ended}), censored {censored} (at least {surely_censored})"
    );
    assert_eq!(s["open"].as_u64(), Some(0), "none open after the run");

    // Realised lengths are the drawn ones plus the time to leave (at most the grace).
    let realised = s["realised"]["mean_seconds"].as_f64().expect("realised");
    let drawn = s["realised_drawn"]["mean_seconds"].as_f64().expect("drawn");
    assert_eq!(s["realised"]["count"].as_u64(), Some(ended));
    assert!(
        realised >= drawn * 0.99 && realised <= drawn * 1.01 + SESSION_GRACE.as_secs_f64(),
        "realised mean {realised} s, drawn {drawn} s"
    );
    assert_eq!(s["asked"]["mean_seconds"].as_f64(), Some(4.0));
    let arrival_rate = s["arrival_rate"].as_f64().expect("rate");
    let duration = r["duration_seconds"].as_f64().expect("duration");
    assert!(
        (arrival_rate - started as f64 / duration).abs() < 1e-6,
        "{arrival_rate}"
    );

    // Every request of a viewer lies in its session window: from its arrival to its
    // drawn end plus the grace (the schedule's instants are the test's own draws).
    let (_, lines) = reqlog::read(&log_path);
    let mut seen = BTreeMap::new();
    for l in lines.iter().filter(|l| l.viewer.is_some()) {
        let id = l.viewer.expect("viewer");
        let e = want
            .get(&id)
            .unwrap_or_else(|| panic!("viewer {id} is no arrival of the schedule"));
        let at = l.start_ms as f64 - t0;
        assert!(
            at >= e.at_ms - 50.0,
            "viewer {id}: a request at {at} ms, before its arrival at {} ms",
            e.at_ms
        );
        let done = at + l.total_ms;
        assert!(
            done <= e.at_ms + e.length_ms + grace_ms + 250.0,
            "viewer {id}: a request until {done} ms, after its session ({} + {} ms)",
            e.at_ms,
            e.length_ms
        );
        assert_eq!(l.error, None, "{l:?}");
        *seen.entry(id).or_insert(0u64) += 1;
    }
    assert_eq!(seen.len() as u64, started, "every session made requests");

    // Connections close as sessions leave: never more open than sessions at their peak
    // (one connection per viewer of one variant; a margin for the probe).
    let peak = s["peak_open"].as_u64().expect("peak");
    assert!(
        most_open <= peak + 2,
        "{most_open} connections open at once, at most {peak} sessions"
    );
    assert!(peak < started, "sessions left: peak {peak} of {started}");

    // The summary says the same.
    assert!(
        stdout.contains(&format!(
            "started {started}   ended {ended}   censored {censored}   refused 0"
        )),
        "{stdout}"
    );
    // Every join is a viewer start with its startup time.
    assert_eq!(
        r["viewers"]["started"].as_u64(),
        Some(started),
        "{}",
        r["viewers"]
    );
    assert_eq!(r["viewers"]["restarts"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_past_the_cap_are_refused_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("run.json");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let (code, stdout, most_open) = run_sampling(
        &lab,
        &[
            "-clients",
            "3",
            "--arrival-rate",
            "10",
            "--session-duration",
            "fixed:5s",
            "-seed",
            "3",
            "-variant",
            "lowest",
            "-duration",
            "6s",
            "-tui=false",
            "-metrics",
            "off",
            "--output",
            report_path.to_str().expect("path"),
        ],
    )
    .await;
    let _ = lab.finish().await;
    assert_eq!(code, Some(0), "{stdout}");
    let s = read_json(&report_path)["sessions"].clone();
    let want = ArrivalSchedule::new(10.0, 3)
        .take_while(|a| a.offset < Duration::from_secs(6))
        .count() as u64;
    let (started, refused) = (
        s["started"].as_u64().expect("started"),
        s["refused"].as_u64().expect("refused"),
    );
    // 5 s sessions, 3 places: the first three arrivals start, the rest until the first
    // leaves (past 5 s) are refused.
    assert!((3..=6).contains(&started), "started {started}");
    assert!(
        (want.saturating_sub(2)..=want).contains(&(started + refused)),
        "{started} + {refused} of {want} arrivals"
    );
    assert!(refused >= want - 8, "refused {refused} of {want}");
    assert_eq!(s["peak_open"].as_u64(), Some(3));
    assert!(most_open <= 3 + 1, "{most_open} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_session_is_one_process_stopped_gracefully() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("ffmpeg not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("run.json");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let (code, stdout, _) = run_sampling(
        &lab,
        &[
            "-engine",
            "ffmpeg",
            "-clients",
            "20",
            "--arrival-rate",
            "1",
            "--session-duration",
            "fixed:3s",
            "-seed",
            "5",
            "-variant",
            "lowest",
            "-duration",
            "10s",
            "-tui=false",
            "-metrics",
            "off",
            "--output",
            report_path.to_str().expect("path"),
        ],
    )
    .await;
    let _ = lab.finish().await;
    assert_eq!(code, Some(0), "{stdout}");
    let r = read_json(&report_path);
    let s = &r["sessions"];
    let started = s["started"].as_u64().expect("started");
    let ended = s["ended"].as_u64().expect("ended");
    let want = ArrivalSchedule::new(1.0, 5)
        .take_while(|a| a.offset < Duration::from_secs(10))
        .count() as u64;
    assert!(
        started >= 3 && started + 1 >= want && started <= want,
        "{started} of {want}"
    );
    assert!(ended >= 1, "{s}");
    let f = &r["ffmpeg"];
    // One process per session, no more: no respawn.
    assert_eq!(f["spawns"].as_u64(), Some(started), "{f}");
    assert_eq!(
        r["viewers"]["restarts"].as_u64(),
        Some(0),
        "{}",
        r["viewers"]
    );
    assert_eq!(
        r["viewers"]["failures"].as_u64(),
        Some(0),
        "{}",
        r["viewers"]
    );
    // Each was stopped by the swarm (a kill, its normal stop path): no error or signal
    // exit, which would be crash evidence.
    assert_eq!(f["exits"]["error"].as_u64(), Some(0), "{f}");
    assert_eq!(f["exits"]["signal"].as_u64(), Some(0), "{f}");
    // Every process was stopped by the swarm; one still exiting when the report was
    // taken (an arrival just before the stop, still opening its input) is not yet
    // counted among the exits.
    let killed = f["exits"]["killed_by_swarm"].as_u64().expect("killed");
    let alive = f["processes"].as_u64().expect("processes");
    assert_eq!(killed + alive, started, "{f}");
    assert!(alive <= 1, "{f}");
    // Realised lengths: 3 s plus the time ffmpeg takes to exit on SIGTERM.
    let realised = s["realised"]["mean_seconds"].as_f64().expect("realised");
    assert!((3.0..6.0).contains(&realised), "realised {realised}");
}

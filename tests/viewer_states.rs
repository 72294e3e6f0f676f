//! A viewer that has not played is not active, and one that cannot play is stalled
//! (docs/metrics.md, "Viewer states"). Against an origin whose every media playlist fails,
//! no viewer ever plays: the summary, the JSON figures, /metrics and the SLOs must say so.
//! A healthy origin is the control: every viewer plays, none is stalled.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hls_swarm::config::Config;
use hls_swarm::origin::{ErrorRate, FaultConfig};
use hls_swarm::stats::snapshot::Snapshot;
use hls_swarm::swarm::{self, RunHooks, RunReport};

/// One tick's view: (active, stalled, starting, failed, /metrics text).
type Tick = (u64, u64, u64, u64, String);

/// Run `cfg`, keeping every tick's live counts and /metrics text.
async fn run_watching(cfg: Config) -> (RunReport, Vec<Tick>) {
    let cfg = Arc::new(cfg);
    let (tx, mut rx) = tokio::sync::watch::channel::<Option<Snapshot>>(None);
    let ticks = Arc::new(Mutex::new(Vec::new()));
    let info = hls_swarm::metrics::Info::new(&cfg);
    let watcher = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let snap = rx.borrow_and_update().clone();
                if let Some(s) = snap {
                    let text = hls_swarm::metrics::render::render(&s, &info);
                    if let Ok(mut t) = ticks.lock() {
                        t.push((s.active, s.stalled, s.starting, s.failed, text));
                    }
                }
            }
        })
    };
    let hooks = RunHooks {
        snapshots: Some(tx),
        ..Default::default()
    };
    let report = swarm::run(cfg, hooks).await.expect("run");
    let _ = watcher.await;
    let ticks = ticks.lock().map(|t| t.clone()).unwrap_or_default();
    (report, ticks)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

const SLOS: [&str; 4] = ["--slo-max-stalled", "0", "--slo-min-active-ratio", "1.0"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_whose_media_playlists_all_fail_are_stalled_not_active() {
    let mut faults = FaultConfig::default();
    faults.error.playlist = Some(ErrorRate {
        status: 503,
        probability: 1.0,
    });
    let lab = common::Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let mut args = vec![
        url.as_str(),
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-duration",
        "5s",
        "-startup-timeout",
        "2s",
        "-metrics",
        "off",
    ];
    args.extend(SLOS);
    let cfg = common::config(&args);
    let slo_cfg = cfg.slo.clone();
    let (report, ticks) = run_watching(cfg).await;
    lab.finish().await;
    let s = &report.snapshot;

    // Live: starting at first, stalled once the startup timeout passed; never active.
    assert!(!ticks.is_empty());
    assert!(
        ticks.iter().all(|t| t.0 == 0),
        "never active: {:?}",
        counts(&ticks)
    );
    assert_eq!(ticks[0].2, 3, "tuned in and starting: {:?}", counts(&ticks));
    let last = ticks.last().cloned().unwrap_or_default();
    assert_eq!((last.0, last.1, last.2), (0, 3, 0), "{:?}", counts(&ticks));
    let text = &ticks[ticks.len() - 2].4;
    assert_eq!(metric(text, "hls_swarm_active_clients"), 0.0);
    assert_eq!(metric(text, "hls_swarm_stalled_clients"), 3.0);
    assert_eq!(metric(text, "hls_swarm_starting_clients"), 0.0);
    assert_eq!(metric(text, "hls_swarm_startup_timeouts_total"), 3.0);

    // Final figures, summary, JSON.
    assert_eq!(s.peak_active, 0);
    assert_eq!(s.peak_stalled, 3);
    assert_eq!(s.startup_timeouts(), 3);
    assert_eq!((report.active_at_end, report.stalled_at_end), (0, 3));
    let slo = hls_swarm::slo::evaluate(&slo_cfg, s);
    assert!(!slo.passed);
    assert!(
        slo.checks.iter().all(|c| !c.passed),
        "both SLOs fail: {slo:?}"
    );
    let summary = hls_swarm::output::summary::render(&report, &slo);
    assert!(summary.contains("Target reached:    NO"), "{summary}");
    assert!(summary.contains("NEVER STARTED"), "{summary}");
    let json =
        serde_json::to_value(hls_swarm::output::json::Report::new(&report, &slo)).expect("json");
    assert_eq!(json["viewers"]["peak_active"], 0);
    assert_eq!(json["viewers"]["startup_timeouts"], 3);
    assert_eq!(json["playback"]["peak_stalled"], 3);
    assert_eq!(json["slo"]["passed"], false);
}

fn counts(ticks: &[Tick]) -> Vec<(u64, u64, u64, u64)> {
    ticks.iter().map(|t| (t.0, t.1, t.2, t.3)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_viewers_are_active_and_pass_the_same_slos() {
    let lab = common::Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let mut args = vec![
        url.as_str(),
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-duration",
        "4s",
        "-metrics",
        "off",
    ];
    args.extend(SLOS);
    let cfg = common::config(&args);
    let slo_cfg = cfg.slo.clone();
    let (report, ticks) = run_watching(cfg).await;
    lab.finish().await;
    let s = &report.snapshot;
    assert_eq!(s.peak_active, 3, "{:?}", counts(&ticks));
    assert_eq!((s.peak_stalled, s.startup_timeouts()), (0, 0));
    assert_eq!(report.active_at_end, 3);
    let slo = hls_swarm::slo::evaluate(&slo_cfg, s);
    assert!(slo.passed, "{slo:?}");
}

/// The FFmpeg engine follows the same definitions: an FFmpeg whose segments never arrive
/// has no output time, so it is starting, then stalled, never active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_without_output_is_stalled_not_active() {
    let mut faults = FaultConfig::default();
    faults.delay.segment = Duration::from_secs(60);
    let lab = common::Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();
    let args = common::ffmpeg_args(&url, 2, 10, "5s", &["-startup-timeout", "2s"]);
    let cfg = common::config(&common::as_args(&args));
    let (report, ticks) = run_watching(cfg).await;
    lab.finish().await;
    let s = &report.snapshot;
    assert_eq!(s.peak_active, 0, "{:?}", counts(&ticks));
    assert_eq!(s.peak_stalled, 2, "{:?}", counts(&ticks));
    assert_eq!(s.startup_timeouts(), 2);
    assert_eq!(report.stalled_at_end, 2);
}

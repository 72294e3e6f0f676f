//! hls-swarm: simulate N live HLS viewers and measure exactly what they experience.
//!
//! # The pipeline (one direction)
//! CLI → [`config::Config`] → [`swarm`] → viewers of an [`engine`] → [`stats`] events →
//! one [`stats::snapshot::Snapshot`] per tick → sinks. The swarm *publishes* (a snapshot
//! feed while it runs, a [`stats::report::RunReport`] when it ends) and knows no sink;
//! the sinks *subscribe* (the TUI, /metrics and the progress lines to the feed; the
//! summary, JSON and HTML reports to the report) and only format figures that Stats
//! computed. docs/architecture.md is the newcomer's map; this is the same map by module.
//!
//! # Module map
//! * **Configuration**: [`config`] (clap args → typed `Config` parts, one parsing and one
//!   validation convention).
//! * **The run**: [`swarm`] (ramp, ticks, stop), [`ramp`], [`stream`] (settle and probe
//!   the stream once), [`host_limits`] (open-files limit), [`signals`] (INT/TERM/HUP).
//! * **Viewers**: [`engine`] (the engine boundary and the one slot loop; `native`,
//!   `ffmpeg`, the HTTP client), [`player`] (the pure buffer model), [`hls`] (the
//!   playlist parser), [`backoff`].
//! * **Measurement**: [`stats`] (events → accumulator → Snapshot; the report model
//!   `stats::report`/`stats::sections`, the time series `stats::series`),
//!   [`origin_metrics`] (scrapes the origin host's exporters into `Snapshot::origin`),
//!   [`heap`] (live heap bytes), [`host`] (host facts), [`slo`] (SLO verdicts over a
//!   Snapshot).
//! * **Sinks**: [`output`] (summary, JSON, HTML, interim reports on SIGUSR1, progress lines, TUI), [`metrics`]
//!   (Prometheus /metrics and the one Prometheus text parser).
//! * **Neutral helpers** (depend on no part above): [`console`] (printing that never
//!   panics, terminal-safe text), [`units`] (durations, bytes, percentages for people),
//!   [`file`](mod@file) (writing report files safely), [`listener`], [`verdict`] (one `--check`
//!   line).
//! * **Beside the pipeline**: [`origin`] (the built-in live test origin, `hls-swarm
//!   origin`), [`preflight`] (`--check`) and [`merge`] (`hls-swarm merge`: the shards'
//!   JSON reports into the whole test's [`stats::report::RunReport`]).
//!
//! # Layers
//! Each layer uses only those before it, so there are no import cycles between modules:
//! leaf helpers (`console`, `units`, `file`, `listener`, `verdict`, `heap`, `host`,
//! `signals`, `backoff`, `ramp`, `hls`, `player`) → `config` → `stats` → `engine` →
//! `metrics`, `origin_metrics`, `slo`, `origin` → `output` → `stream`, `swarm`,
//! `preflight`, `merge` → this crate root, which starts the sinks and hands them the run's feeds.
//! The swarm is below no sink: `output` and `metrics` never see `swarm`, and `swarm`
//! never sees them.

pub mod arrivals;
pub mod backoff;
pub mod config;
pub mod console;
pub mod engine;
pub mod file;
pub mod heap;
pub mod hls;
pub mod host;
pub mod host_limits;
pub mod listener;
pub mod merge;
pub mod metrics;
pub mod origin;
pub mod origin_metrics;
pub mod output;
pub mod player;
pub mod preflight;
pub mod ramp;
pub mod signals;
pub mod slo;
pub mod stats;
pub mod stream;
pub mod swarm;
pub mod units;
pub mod verdict;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use config::cli::{Cli, Command};
use config::{Config, JsonTarget, LogFormat, Mode};
use console::say;

/// Exit code: everything fine.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run could not be done (unreachable stream, bind failure, …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad flags or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an SLO failed.
pub const EXIT_SLO: u8 = 3;

fn init_logging(format: LogFormat, verbose: bool) {
    let level = if verbose { "debug" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HLS_SWARM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("hls_swarm={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Run the parsed command line to completion and say how the process should exit.
pub async fn run(cli: Cli) -> ExitCode {
    let args = match cli.command {
        Some(Command::Origin(o)) => {
            return match origin::run_cli(o).await {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(e) => {
                    eprintln!("Error: {e:#}");
                    ExitCode::from(EXIT_FAILURE)
                }
            };
        }
        Some(Command::Merge(m)) => return run_merge(&m),
        Some(Command::Run(a)) => a,
        None => cli.run,
    };
    let cfg = match Config::from_args(&args) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("Run `hls-swarm --help` for the flags.");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let tui_on =
        cfg.mode != Mode::Check && cfg.outputs.tui_enabled(std::io::stdout().is_terminal());
    if tui_on || cfg.outputs.log.file.is_some() {
        if let Err(e) = output::tui::logs::init_logging(&cfg, tui_on) {
            eprintln!("Error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    } else {
        init_logging(cfg.outputs.log.format, cfg.outputs.log.verbose);
    }

    if cfg.mode == Mode::PrintCmd {
        return match engine::ffmpeg::check::print_cmd(&cfg).await {
            Ok(text) => {
                print!("{text}");
                ExitCode::from(EXIT_OK)
            }
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }

    if cfg.mode == Mode::Check {
        return match preflight::run(&cfg).await {
            Ok((text, ok)) => {
                console::out(&text);
                ExitCode::from(if ok { EXIT_OK } else { EXIT_FAILURE })
            }
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }

    // The request log opens before the run: a path that cannot take it is a usage
    // error naming the flag (exit 2), not a failed run.
    let request_log = match swarm::open_request_log(&cfg) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // The metrics endpoint binds before anything else starts, so a taken port is an
    // error here (exit 1) and not a silent gap in the dashboards.
    let (snapshots, metrics) = match start_metrics(&cfg).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // SIGUSR1 during the run: the swarm publishes the run as it stands, this writes it.
    let (interim_feed, interim) = output::interim::InterimWriter::start(&cfg);
    let mut hooks = swarm::RunHooks {
        snapshots,
        interim: Some(interim_feed),
        request_log: request_log.clone(),
        ..Default::default()
    };
    let tui = if tui_on {
        start_tui(&cfg, &mut hooks)
    } else {
        None
    };
    // Without a TUI, progress lines on stderr: one more subscriber to the snapshot feed.
    let progress = tui.is_none().then(|| start_progress(&mut hooks));
    let result = swarm::run(cfg.clone(), hooks).await;
    // The run closed its request log; a run that failed early did not: its lines (the
    // probe's) are written all the same. Closing again only reads the counts.
    if let Some(log) = &request_log {
        log.close(std::time::Duration::from_secs(1)).await;
    }
    // No interim report may land after, and over, the final ones.
    interim.stop().await;
    // Give the terminal back before anything is printed.
    if let Some(tui) = tui {
        tui.stop();
    }
    if let Some(progress) = progress {
        progress.abort();
        let _ = progress.await;
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            say!("Error: {e:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let ending = finish(&cfg, &report);
    if let Some(m) = metrics {
        if let Some(endpoint) = cfg.outputs.metrics {
            linger_metrics(endpoint.linger).await;
        }
        m.shutdown().await;
    }
    // Last of all, after every other line on stdout and stderr: `--output -`'s report.
    ending.exit()
}

/// `--metrics-linger`: keep the endpoint (which holds the run's final snapshot) up for
/// `duration`, or until a stop signal.
async fn linger_metrics(duration: std::time::Duration) {
    if duration.is_zero() {
        return;
    }
    let mut signals = match signals::StopSignals::install() {
        Ok(s) => Some(s),
        Err(e) => {
            say!("hls-swarm: cannot catch stop signals during --metrics-linger: {e}");
            None
        }
    };
    say!(
        "hls-swarm: serving the final metrics for {} (--metrics-linger); SIGINT/SIGTERM/SIGHUP ends it",
        humantime::format_duration(duration)
    );
    let interrupt = async {
        match signals.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    if metrics::linger::linger(duration, interrupt).await == metrics::linger::LingerEnd::Interrupted
    {
        say!("hls-swarm: --metrics-linger ended by a signal");
    }
}

/// Start the metrics endpoint of `cfg` (none with `-metrics off`) and return the snapshot
/// feed the swarm publishes to.
pub async fn start_metrics(
    cfg: &Config,
) -> anyhow::Result<(
    Option<tokio::sync::watch::Sender<Option<stats::snapshot::Snapshot>>>,
    Option<metrics::MetricsServer>,
)> {
    let Some(endpoint) = cfg.outputs.metrics else {
        return Ok((None, None));
    };
    let (tx, rx) = tokio::sync::watch::channel(None);
    let server = metrics::MetricsServer::start(endpoint.addr, rx, metrics::Info::new(cfg)).await?;
    say!("hls-swarm: Prometheus metrics on {}", server.url());
    Ok((Some(tx), Some(server)))
}

/// Subscribe the progress lines to the snapshot feed of `hooks` (made here when no other
/// sink has made one).
fn start_progress(hooks: &mut swarm::RunHooks) -> tokio::task::JoinHandle<()> {
    let feed = hooks
        .snapshots
        .get_or_insert_with(|| tokio::sync::watch::channel(None).0);
    output::progress::spawn(feed.subscribe())
}

/// Start the TUI on `hooks`; on failure say why (the caller prints progress lines
/// instead).
fn start_tui(cfg: &Arc<Config>, hooks: &mut swarm::RunHooks) -> Option<output::tui::Tui> {
    // One snapshot feed for every sink: the TUI subscribes to the metrics server's, if any.
    let (snap_tx, snap_rx) = match &hooks.snapshots {
        Some(tx) => (tx.clone(), tx.subscribe()),
        None => tokio::sync::watch::channel(None),
    };
    let (info_tx, info_rx) = tokio::sync::watch::channel(None);
    let series = Arc::new(stats::series::SeriesRecorder::default());
    let params = output::tui::TuiParams {
        cfg: cfg.clone(),
        snapshots: snap_rx,
        info: info_rx,
        series: series.clone(),
        stop: hooks.stop.clone(),
    };
    match output::tui::Tui::start(params) {
        Ok(tui) => {
            hooks.snapshots = Some(snap_tx);
            hooks.info = Some(info_tx);
            hooks.series = Some(series);
            Some(tui)
        }
        Err(e) => {
            say!("hls-swarm: no TUI ({e:#}); printing progress lines instead");
            None
        }
    }
}

/// Write the reports and the summary of a finished run and pick the exit code; what is
/// left to do is the [`Ending`]'s (`--output -`'s line, printed last).
///
/// The files come first and printing can't fail the run: after a SIGHUP stdout and stderr
/// may be gone (EIO/EPIPE), and a stdout nobody reads must not keep the files from being
/// written.
pub fn finish(cfg: &Config, report: &swarm::RunReport) -> Ending {
    let mut slo = slo::evaluate(&cfg.slo, &report.snapshot);
    if report.stop_reason == swarm::StopReason::SloAbort {
        // Stopped early because an SLO failed for good: the run failed its SLOs, whatever
        // the last figures after the drain say.
        slo.abort(report.stop_detail.clone().unwrap_or_default());
    }
    let mut code = if slo.passed { EXIT_OK } else { EXIT_SLO };
    if report.stop_reason == swarm::StopReason::CrashLoop {
        // Nothing was measured: every FFmpeg crash-looped (the message was printed).
        code = EXIT_FAILURE;
    }
    let outputs = &cfg.outputs;
    write_and_print(
        outputs.json_report.as_ref(),
        outputs.html_report.as_deref(),
        report,
        &slo,
        code,
    )
}

/// How a run or a merge ends once its files are written and its summary printed: the
/// exit code, and `--output -`'s report line, which [`Ending::exit`] prints last.
#[must_use = "the report line of `--output -` is printed by `exit`"]
#[derive(Debug)]
pub struct Ending {
    code: u8,
    last_line: Option<String>,
}

impl Ending {
    /// Print the report line of `--output -`, if any, and give the exit code:
    /// [`EXIT_FAILURE`] when that line could not be written (stdout gone).
    pub fn exit(self) -> ExitCode {
        let mut code = self.code;
        if let Some(line) = self.last_line
            && !console::out(&line)
        {
            say!("Error: --output -: standard output is gone; the JSON report was not written");
            code = EXIT_FAILURE;
        }
        ExitCode::from(code)
    }
}

/// Write the JSON and HTML report files asked for, then print the summary; `code` becomes
/// [`EXIT_FAILURE`] when a report could not be written. The JSON report of `--output -` is
/// left in the [`Ending`], to be printed after everything else.
fn write_and_print(
    json: Option<&JsonTarget>,
    html: Option<&std::path::Path>,
    report: &swarm::RunReport,
    slo: &slo::SloResult,
    mut code: u8,
) -> Ending {
    let mut last_line = None;
    if let Some(target) = json {
        let doc = output::json::Report::new(report, slo);
        let written = match target {
            JsonTarget::File(path) => output::json::write(path, &doc),
            JsonTarget::Stdout => output::json::to_line(&doc).map(|l| last_line = Some(l)),
        };
        if let Err(e) = written {
            say!("Error: {e:#}");
            code = EXIT_FAILURE;
        }
    }
    if let Some(path) = html
        && let Err(e) = output::html::write(path, report, slo)
    {
        say!("Error: {e:#}");
        code = EXIT_FAILURE;
    }
    console::out(&output::summary::render(report, slo));
    Ending { code, last_line }
}

/// `hls-swarm merge`: merge the shards' reports, then judge, write and print the result
/// like a run's (exit 0 or 3; 2 when the reports are not one test's shards; 1 when an
/// input or output file failed).
fn run_merge(args: &config::cli::MergeArgs) -> ExitCode {
    let cfg = match config::merge::MergeConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("Run `hls-swarm merge --help` for the flags.");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (report, notes) = match merge::load(&cfg.inputs) {
        Ok(r) => r,
        Err(merge::MergeError::Refused(why)) => {
            eprintln!("hls-swarm merge: refused: {why}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(merge::MergeError::Read(why)) => {
            eprintln!("hls-swarm merge: Error: {why}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    for note in notes {
        say!("hls-swarm merge: {note}");
    }
    let slo = slo::evaluate(&cfg.slo, &report.snapshot);
    let code = if slo.passed { EXIT_OK } else { EXIT_SLO };
    write_and_print(
        cfg.json_report.as_ref(),
        cfg.html_report.as_deref(),
        &report,
        &slo,
        code,
    )
    .exit()
}

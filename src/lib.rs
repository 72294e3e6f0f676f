//! hls-swarm: simulate N live HLS viewers and measure exactly what they experience.
//!
//! The pipeline (DESIGN.md): CLI → [`config::Config`] → [`swarm`] (ramp, viewers of an
//! [`engine`]) → [`stats`] events → one [`stats::snapshot::Snapshot`] per tick → [`output`]
//! sinks. [`origin`] is the built-in live test origin; [`preflight`] is `--check`.

pub mod backoff;
pub mod cli;
pub mod config;
pub mod engine;
pub mod hls;
pub mod origin;
pub mod output;
pub mod player;
pub mod preflight;
pub mod ramp;
pub mod slo;
pub mod stats;
pub mod swarm;

use std::process::ExitCode;
use std::sync::Arc;

use cli::{Cli, Command};
use config::{Config, LogFormat};

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
    init_logging(cfg.log_format, cfg.verbose);

    if cfg.print_cmd {
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

    if cfg.check {
        return match preflight::run(&cfg).await {
            Ok((text, ok)) => {
                print!("{text}");
                ExitCode::from(if ok { EXIT_OK } else { EXIT_FAILURE })
            }
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }

    let hooks = swarm::RunHooks {
        progress: true,
        ..Default::default()
    };
    let report = match swarm::run(cfg.clone(), hooks).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    finish(&cfg, &report)
}

/// Write the summary and reports of a finished run and pick the exit code.
pub fn finish(cfg: &Config, report: &swarm::RunReport) -> ExitCode {
    let slo = slo::evaluate(&cfg.slo, &report.snapshot);
    print!("{}", output::summary::render(report, &slo));
    let mut code = if slo.passed { EXIT_OK } else { EXIT_SLO };
    if report.stop_reason == swarm::StopReason::CrashLoop {
        // Nothing was measured: every FFmpeg crash-looped (the message was printed).
        code = EXIT_FAILURE;
    }
    if let Some(path) = &cfg.output
        && let Err(e) = output::json::write(path, &output::json::Report::new(report, &slo))
    {
        eprintln!("Error: {e:#}");
        code = EXIT_FAILURE;
    }
    ExitCode::from(code)
}

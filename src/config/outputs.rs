//! Where results and logs go: the report files, the terminal (TUI or progress lines), the
//! log stream and the Prometheus endpoint.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cli::RunArgs;
use super::parse::{count, duration_in, listen_addr};
use super::problems::Problems;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `-log-format`.
    pub format: LogFormat,
    /// `-v`: debug logging.
    pub verbose: bool,
    /// `--log-file`: logs go here instead of stderr or the TUI's log pane.
    pub file: Option<PathBuf>,
}

/// The Prometheus endpoint (`-metrics`, unless `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsEndpoint {
    /// Listen address.
    pub addr: SocketAddr,
    /// `-prom-client-metrics`: also export per-viewer series.
    pub per_viewer: bool,
    /// `--metrics-linger`: how long to keep serving the final values after the run.
    pub linger: Duration,
}

/// Longest `--metrics-linger`.
pub const MAX_METRICS_LINGER: Duration = Duration::from_secs(3600);

/// Default `--request-log-buffer`, in lines: at about 200 bytes a line, at most ~13 MB
/// held while the writer falls behind.
pub const DEFAULT_REQUEST_LOG_BUFFER: usize = 65_536;

/// Largest `--request-log-buffer`, so the queue's memory stays bounded (~200 MB).
pub const MAX_REQUEST_LOG_BUFFER: usize = 1_000_000;

/// `--request-log`: one JSON line per finished request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLogConfig {
    /// Where the lines go.
    pub path: PathBuf,
    /// `--request-log-buffer`: lines queued before new ones are dropped.
    pub buffer: usize,
}

/// Where the JSON report goes (`--output`, of a run and of `hls-swarm merge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTarget {
    /// A file, or a device or FIFO such as `/dev/stdout` ([`crate::file`]): the report
    /// pretty-printed, written before the summary is printed.
    File(PathBuf),
    /// `--output -`: the report as one compact JSON line on standard output, printed after
    /// the summary, as the last thing the process prints, so that the last line of a
    /// container's log is its report (`kubectl logs … | hls-swarm merge -`).
    Stdout,
}

impl JsonTarget {
    /// `--output VALUE`: `-` is standard output; anything else is a path, checked before
    /// the run as [`crate::file::problem`] checks it (the problem noted in `p`).
    pub fn from_flag(value: Option<&Path>, p: &mut Problems) -> Option<JsonTarget> {
        let value = value?;
        if value.as_os_str() == "-" {
            return Some(JsonTarget::Stdout);
        }
        if let Some(e) = crate::file::problem("--output", value) {
            p.push(e);
        }
        Some(JsonTarget::File(value.to_path_buf()))
    }
}

/// Why a file flag other than `--output` (`--report`, `--log-file`, `--request-log`) can't
/// take `path`;
/// `None` when it can. `-` is refused by name: only `--output` writes to standard output
/// (a file named `-` is surely not what was meant).
pub fn file_flag_problem(flag: &str, path: &Path) -> Option<String> {
    if path.as_os_str() == "-" {
        return Some(format!(
            "{flag}: `-` (standard output) is taken only by --output (the JSON report as one \
             line); give {flag} a file name"
        ));
    }
    crate::file::problem(flag, path)
}

/// Every output of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// `--output`: where the JSON report goes.
    pub json_report: Option<JsonTarget>,
    /// `--report`: HTML report path.
    pub html_report: Option<PathBuf>,
    /// `-tui`: `Some(true/false)` when given, `None` = on iff stdout is a terminal.
    pub tui: Option<bool>,
    /// Logging.
    pub log: LogConfig,
    /// The metrics endpoint; `None` = `-metrics off`.
    pub metrics: Option<MetricsEndpoint>,
    /// `--request-log`, if given.
    pub request_log: Option<RequestLogConfig>,
}

impl Outputs {
    /// Validate the output flags. Every file the run writes is checked before it starts,
    /// so a long run does not find a bad path at its end.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        let format = match a.log_format.as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                p.push(format!("-log-format: '{other}' is not json or text"));
                LogFormat::Json
            }
        };
        let parsed = p.ok(listen_addr("-metrics", &a.metrics));
        p.check(a.prom_client_metrics && parsed == Some(None), || {
            "-prom-client-metrics needs the metrics endpoint; drop -metrics off or the flag".into()
        });
        let linger = p
            .ok(duration_in(
                "--metrics-linger",
                &a.metrics_linger,
                (Duration::ZERO, MAX_METRICS_LINGER),
                "15s",
            ))
            .unwrap_or_default();
        p.check(!linger.is_zero() && parsed == Some(None), || {
            "--metrics-linger needs the metrics endpoint; drop -metrics off or the flag".into()
        });
        let addr = parsed.flatten();
        let json_report = JsonTarget::from_flag(a.output.as_deref(), p);
        for (flag, path) in [
            ("--report", &a.report),
            ("--log-file", &a.log_file),
            ("--request-log", &a.request_log),
        ] {
            // The log file is opened, in append mode, right after validation.
            if let Some(e) = path
                .as_deref()
                .and_then(|path| file_flag_problem(flag, path))
            {
                p.push(e);
            }
        }
        let buffer = match &a.request_log_buffer {
            Some(b) => p.or(
                count("--request-log-buffer", b, 1, MAX_REQUEST_LOG_BUFFER as u64),
                1,
            ) as usize,
            None => DEFAULT_REQUEST_LOG_BUFFER,
        };
        p.check(
            a.request_log_buffer.is_some() && a.request_log.is_none(),
            || "--request-log-buffer needs --request-log FILE".into(),
        );
        let request_log = a
            .request_log
            .clone()
            .map(|path| RequestLogConfig { path, buffer });
        Outputs {
            request_log,
            json_report,
            html_report: a.report.clone(),
            tui: a.tui,
            log: LogConfig {
                format,
                verbose: a.verbose,
                file: a.log_file.clone(),
            },
            metrics: addr.map(|addr| MetricsEndpoint {
                addr,
                per_viewer: a.prom_client_metrics,
                linger,
            }),
        }
    }

    /// Whether the TUI runs, given whether stdout is a terminal.
    pub fn tui_enabled(&self, stdout_is_terminal: bool) -> bool {
        self.tui.unwrap_or(stdout_is_terminal)
    }
}

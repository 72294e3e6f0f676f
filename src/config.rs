//! The validated, immutable run configuration. Built once from the CLI; every invalid
//! value is reported at once, each message naming the flag and the fix.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use url::Url;

use crate::cli::RunArgs;
use crate::hls::VariantChoice;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// One request header and whether its value is secret (redacted in every output).
#[derive(Debug, Clone)]
pub struct Header {
    /// Header name.
    pub name: HeaderName,
    /// Header value.
    pub value: HeaderValue,
    /// Redact the value wherever it would be shown.
    pub secret: bool,
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            write!(f, "{}: <redacted>", self.name)
        } else {
            write!(
                f,
                "{}: {}",
                self.name,
                self.value.to_str().unwrap_or("<binary>")
            )
        }
    }
}

/// Service-level objectives; any failure makes the run exit 3.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slo {
    /// Peak active (playing) viewers must reach this share of the target.
    pub min_active_ratio: Option<f64>,
    /// At most this many viewers stalled at once (peak).
    pub max_stalled: Option<u64>,
    /// Failed/finished requests at most this.
    pub max_error_rate: Option<f64>,
    /// p95 segment TTFB at most this.
    pub p95_segment_ttfb: Option<Duration>,
}

impl Slo {
    /// Any objective set.
    pub fn any(&self) -> bool {
        *self != Slo::default()
    }
}

/// What the swarm plays.
#[derive(Debug, Clone)]
pub enum Target {
    /// A stream URL given on the command line.
    Url(Url),
    /// The built-in origin, started in-process on loopback.
    Builtin,
}

/// A validated swarm configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The stream.
    pub target: Target,
    /// Concurrent viewers.
    pub clients: u64,
    /// Viewers started per second.
    pub ramp_rate: f64,
    /// Symmetric start jitter bound.
    pub ramp_jitter: Duration,
    /// Run length; `None` = until stopped.
    pub duration: Option<Duration>,
    /// Which variants each viewer plays.
    pub variant: VariantChoice,
    /// Connect here for the stream host.
    pub resolve: Option<IpAddr>,
    /// `--dangerous` given.
    pub dangerous: bool,
    /// Send no-cache headers.
    pub no_cache: bool,
    /// Extra request headers (from -header, -header-file, -no-cache).
    pub headers: Vec<Header>,
    /// User-Agent base; viewers append `/client-<id>`.
    pub user_agent: String,
    /// First viewer id.
    pub client_id_offset: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Segment retries before skipping.
    pub seg_retry: u32,
    /// `--max-playlist-size`: largest playlist body read into memory, in bytes.
    pub max_playlist_size: u64,
    /// `--max-tracks`: most tracks one viewer plays.
    pub max_tracks: usize,
    /// Reconnect after connection errors.
    pub reconnect: bool,
    /// Debug logging.
    pub verbose: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// `--check` mode.
    pub check: bool,
    /// JSON report path.
    pub output: Option<PathBuf>,
    /// Objectives.
    pub slo: Slo,
    /// `--slo-abort`: the grace (`--slo-abort-grace`) when on; `None` = run to the end.
    pub slo_abort: Option<Duration>,
    /// Seed for jitter and backoff.
    pub seed: u64,
    /// Metrics endpoint address; `None` = `-metrics off`.
    pub metrics: Option<SocketAddr>,
    /// Export per-viewer series (`-prom-client-metrics`).
    pub prom_client_metrics: bool,
    /// Origin host metrics to scrape (`None` = none configured).
    pub origin_metrics: Option<crate::origin_metrics::OriginMetricsConfig>,
    /// `-tui`: `Some(true/false)` when given, `None` = on iff stdout is a terminal.
    pub tui: Option<bool>,
    /// `--log-file`: logs go here instead of stderr or the TUI's log pane.
    pub log_file: Option<PathBuf>,
    /// `--report`: HTML report path.
    pub report: Option<PathBuf>,
    /// Viewer engine.
    pub engine: Engine,
    /// Settings of the FFmpeg engine (defaults when the engine is native).
    pub ffmpeg: FfmpegConfig,
    /// `-stall-threshold`; `None` = 2 × the stream's target duration.
    pub stall_threshold: Option<Duration>,
    /// `-startup-timeout`: a viewer without first media this long after tune-in is stalled.
    pub startup_timeout: Duration,
    /// `-restart-on-stall`: replace viewers stalled longer than the threshold.
    pub restart_on_stall: bool,
    /// `--print-cmd`: print the per-viewer FFmpeg command and exit.
    pub print_cmd: bool,
}

/// Which engine plays the viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The built-in HLS player (one task per viewer).
    Native,
    /// One FFmpeg process per viewer, measured through the in-process proxy.
    Ffmpeg,
}

impl Engine {
    /// Name as used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::Ffmpeg => "ffmpeg",
        }
    }
}

/// What the FFmpeg engine does when the variant probe fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFailurePolicy {
    /// Play the URL as given and let FFmpeg choose the streams.
    Fallback,
    /// Stop with exit code 1.
    Fail,
}

/// FFmpeg log levels accepted by `-stats-loglevel`, quietest first.
pub const FFMPEG_LOG_LEVELS: [&str; 9] = [
    "quiet", "panic", "fatal", "error", "warning", "info", "verbose", "debug", "trace",
];

/// Settings of the FFmpeg engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegConfig {
    /// FFmpeg binary (a path, or a name looked up on PATH).
    pub binary: String,
    /// Variant probe failure policy.
    pub probe_failure_policy: ProbeFailurePolicy,
    /// FFmpeg `-loglevel` base level; `None` = warning for http://, debug for https://.
    pub loglevel: Option<String>,
    /// Capacity (lines) of each FFmpeg's stderr reader → parser channel.
    pub stderr_buffer: usize,
}

impl Default for FfmpegConfig {
    fn default() -> Self {
        FfmpegConfig {
            binary: "ffmpeg".into(),
            probe_failure_policy: ProbeFailurePolicy::Fallback,
            loglevel: None,
            stderr_buffer: 1000,
        }
    }
}

/// The engine flags, validated together (see [`Config::from_args`]).
struct EngineFlags {
    engine: Engine,
    ffmpeg: FfmpegConfig,
    stall_threshold: Option<Duration>,
}

fn parse_engine_flags(a: &RunArgs, https: bool, errs: &mut Vec<String>) -> Option<EngineFlags> {
    let n = errs.len();
    let engine = match a.engine.trim() {
        "native" => Engine::Native,
        "ffmpeg" => Engine::Ffmpeg,
        other => {
            errs.push(format!("-engine: '{other}' is not native or ffmpeg"));
            Engine::Native
        }
    };
    let mut ffmpeg = FfmpegConfig::default();
    if engine != Engine::Ffmpeg {
        for (given, flag) in [
            (a.ffmpeg.is_some(), "-ffmpeg"),
            (a.probe_failure_policy.is_some(), "-probe-failure-policy"),
            (a.stats_loglevel.is_some(), "-stats-loglevel"),
            (a.stats_buffer.is_some(), "-stats-buffer"),
            (a.print_cmd, "--print-cmd"),
        ] {
            if given {
                errs.push(format!("{flag} only applies to -engine ffmpeg"));
            }
        }
    }
    if let Some(p) = &a.ffmpeg {
        if p.trim().is_empty() {
            errs.push("-ffmpeg: the path is empty (e.g. -ffmpeg /usr/bin/ffmpeg)".into());
        }
        ffmpeg.binary = p.trim().to_string();
    }
    match a.probe_failure_policy.as_deref().map(str::trim) {
        None | Some("fallback") => {}
        Some("fail") => ffmpeg.probe_failure_policy = ProbeFailurePolicy::Fail,
        Some(other) => errs.push(format!(
            "-probe-failure-policy: '{other}' is not fallback or fail"
        )),
    }
    if let Some(l) = &a.stats_loglevel {
        let l = l.trim().to_ascii_lowercase();
        if !FFMPEG_LOG_LEVELS.contains(&l.as_str()) {
            errs.push(format!(
                "-stats-loglevel: '{l}' is not one of {}",
                FFMPEG_LOG_LEVELS.join(", ")
            ));
        } else if https && level_rank(&l) < level_rank("debug") {
            errs.push(format!(
                "-stats-loglevel: '{l}' is too quiet for an https:// stream; its request \
                 figures come from FFmpeg's debug log (use debug or trace)"
            ));
        }
        ffmpeg.loglevel = Some(l);
    }
    if let Some(b) = &a.stats_buffer {
        if let Ok(n) = parse_count("-stats-buffer", b, 1, 1_000_000) {
            ffmpeg.stderr_buffer = n as usize;
        } else {
            errs.push(format!(
                "-stats-buffer: '{b}' is not a number of lines in 1..=1000000 (e.g. -stats-buffer 1000)"
            ));
        }
    }
    let mut stall_threshold = None;
    if let Some(s) = &a.stall_threshold {
        match dur("-stall-threshold", s) {
            Ok(d) if d.is_zero() => errs
                .push("-stall-threshold: must be greater than 0 (e.g. -stall-threshold 4s)".into()),
            Ok(d) => stall_threshold = Some(d),
            Err(e) => errs.push(e),
        }
        if engine == Engine::Native && !a.restart_on_stall {
            errs.push(
                "-stall-threshold with the native engine only sets when -restart-on-stall \
                 replaces a stalled viewer; add -restart-on-stall (native stalls themselves \
                 come from the player model)"
                    .into(),
            );
        }
    }
    (errs.len() == n).then_some(EngineFlags {
        engine,
        ffmpeg,
        stall_threshold,
    })
}

/// Rank of an FFmpeg log level name (0 = quiet); unknown names rank lowest.
pub fn level_rank(level: &str) -> usize {
    FFMPEG_LOG_LEVELS
        .iter()
        .position(|l| *l == level)
        .unwrap_or(0)
}

/// All problems found in the flags, one message each.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Parse a Go-style duration: `0`, `250ms`, `1.5s`, `30s`, `5m`, `1h30m` (units ns, us, µs,
/// ms, s, m, h; several may be concatenated).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("'{s}' is not a duration"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("'{s}' is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "'{s}' has no unit (use e.g. 500ms, 30s, 5m, 1h30m)"
                ));
            }
            u => return Err(format!("'{s}' has an unknown unit '{u}'")),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Header names whose values are credentials even when given with -header.
fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || ["token", "secret", "key", "auth", "password", "signature"]
            .iter()
            .any(|w| n.contains(w))
}

/// Parse a "Name: value" header line.
pub fn parse_header_line(line: &str, secret: bool) -> Result<Header, String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("'{}' is not \"Name: value\"", redact_line(line)));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a valid header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header '{name}' has invalid characters"))?;
    let secret = secret || is_secret_name(name.as_str());
    Ok(Header {
        name,
        value,
        secret,
    })
}

fn redact_line(line: &str) -> String {
    match line.split_once(':') {
        Some((n, _)) => format!("{n}: <redacted>"),
        None if line.len() > 40 => format!("{}…", &line[..line.floor_char_boundary(40)]),
        None => line.to_string(),
    }
}

/// A URL safe to print: no user info, no query, no fragment.
pub fn redact_url(u: &Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Config {
    /// Validate the flags of a run. Reports every problem at once.
    pub fn from_args(a: &RunArgs) -> Result<Config, ConfigErrors> {
        let mut errs = Vec::new();
        macro_rules! check {
            ($e:expr) => {
                match $e {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errs.push(e);
                        None
                    }
                }
            };
        }

        let target = match (a.url.as_deref(), &a.url_file) {
            (Some(s), _) => check!(parse_stream_url(s)),
            (None, Some(path)) => check!(read_url_file(path)),
            (None, None) => Some(Target::Builtin),
        };
        let https = matches!(&target, Some(Target::Url(u)) if u.scheme() == "https");
        let clients = check!(parse_count("-clients", &a.clients, 1, 10_000_000));
        let ramp_rate = check!(
            a.ramp_rate
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1_000_000.0)
                .ok_or_else(|| format!(
                    "-ramp-rate: '{}' is not a positive number of viewers per second (e.g. -ramp-rate 5 or 0.5)",
                    a.ramp_rate
                ))
        );
        let ramp_jitter = check!(dur("-ramp-jitter", &a.ramp_jitter));
        let duration = check!(dur("-duration", &a.duration)).map(|d| (!d.is_zero()).then_some(d));
        let variant = check!(a.variant.parse::<VariantChoice>().map_err(|_| format!(
            "-variant: '{}' is not one of all, highest, lowest, first",
            a.variant
        )));
        let resolve = match a.resolve.as_deref() {
            None => Some(None),
            Some(ip) => check!(
                ip.trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .map(Some)
                    .map_err(|_| format!("-resolve: '{ip}' is not an IP address (e.g. -resolve 10.0.0.5 or -resolve ::1)"))
            ),
        };
        if a.resolve.is_some() && !a.dangerous {
            errs.push(
                "-resolve requires --dangerous (it also disables TLS certificate verification)"
                    .into(),
            );
        }
        if a.resolve.is_some() && matches!(target, Some(Target::Builtin)) {
            errs.push("-resolve needs a stream URL whose host it replaces".into());
        }
        let mut headers = Vec::new();
        for h in &a.header {
            if let Some(h) =
                check!(parse_header_line(h, false).map_err(|e| format!("-header: {e}")))
            {
                headers.push(h);
            }
        }
        if let Some(path) = &a.header_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (i, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        if let Some(h) = check!(parse_header_line(line, true).map_err(|e| format!(
                            "-header-file {}: line {}: {e}",
                            path.display(),
                            i + 1
                        ))) {
                            headers.push(h);
                        }
                    }
                }
                Err(e) => errs.push(format!("-header-file: cannot read {}: {e}", path.display())),
            }
        }
        if a.no_cache {
            for (n, v) in [
                ("cache-control", "no-cache, no-store, must-revalidate"),
                ("pragma", "no-cache"),
            ] {
                headers.push(Header {
                    name: HeaderName::from_static(n),
                    value: HeaderValue::from_static(v),
                    secret: false,
                });
            }
        }
        let user_agent = a
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("hls-swarm/{}", env!("CARGO_PKG_VERSION")));
        if HeaderValue::from_str(&user_agent).is_err() {
            errs.push(format!(
                "-user-agent: '{user_agent}' has characters not allowed in a header"
            ));
        }
        let client_id_offset = check!(parse_count(
            "-client-id-offset",
            &a.client_id_offset,
            0,
            u64::MAX / 2
        ));
        let timeout = check!(dur("-timeout", &a.timeout).and_then(|d| {
            if d.is_zero() {
                Err("-timeout: must be greater than 0 (e.g. -timeout 15s)".to_string())
            } else {
                Ok(d)
            }
        }));
        let seg_retry = check!(parse_count("-seg-retry", &a.seg_retry, 0, 100)).map(|n| n as u32);
        let max_playlist_size = check!(parse_size("--max-playlist-size", &a.max_playlist_size));
        let max_tracks =
            check!(parse_count("--max-tracks", &a.max_tracks, 1, 10_000)).map(|n| n as usize);
        let log_format = match a.log_format.as_str() {
            "json" => Some(LogFormat::Json),
            "text" => Some(LogFormat::Text),
            other => {
                errs.push(format!("-log-format: '{other}' is not json or text"));
                None
            }
        };
        let seed = check!(parse_count("-seed", &a.seed, 0, u64::MAX));
        let metrics = check!(parse_metrics_addr(&a.metrics));
        if a.prom_client_metrics && matches!(metrics, Some(None)) {
            errs.push(
                "-prom-client-metrics needs the metrics endpoint; drop -metrics off or the flag"
                    .into(),
            );
        }
        let slo = Slo {
            min_active_ratio: opt(&mut errs, &a.slo_min_active_ratio, |s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("--slo-min-active-ratio: '{s}' is not a ratio between 0 and 1 (e.g. 1.0)"))
            }),
            max_stalled: opt(&mut errs, &a.slo_max_stalled, |s| {
                parse_count("--slo-max-stalled", s, 0, u64::MAX)
            }),
            max_error_rate: opt(&mut errs, &a.slo_max_error_rate, |s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        format!(
                            "--slo-max-error-rate: '{s}' is not a rate between 0 and 1 (e.g. 0.001)"
                        )
                    })
            }),
            p95_segment_ttfb: opt(&mut errs, &a.slo_p95_segment_ttfb, |s| {
                dur("--slo-p95-segment-ttfb", s)
            }),
        };
        let origin_metrics =
            crate::origin_metrics::config::from_args(&a.origin_metrics_args, &mut errs);
        let slo_abort = slo_abort(a, &slo, &mut errs);
        let startup_timeout = match a
            .startup_timeout
            .as_deref()
            .map(|s| dur("-startup-timeout", s))
        {
            None => crate::stats::viewer_state::DEFAULT_STARTUP_TIMEOUT,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                errs.push(
                    "-startup-timeout: must be greater than 0 (e.g. -startup-timeout 10s)".into(),
                );
                crate::stats::viewer_state::DEFAULT_STARTUP_TIMEOUT
            }
            Some(Err(e)) => {
                errs.push(e);
                crate::stats::viewer_state::DEFAULT_STARTUP_TIMEOUT
            }
        };

        // Every file the run writes is checked before it starts, so a long run does not
        // find a bad path at its end (the log file is opened, in append mode, right after).
        for (flag, path) in [
            ("--output", &a.output),
            ("--report", &a.report),
            ("--log-file", &a.log_file),
        ] {
            if let Some(e) = path
                .as_deref()
                .and_then(|p| crate::output::file::problem(flag, p))
            {
                errs.push(e);
            }
        }

        let engine_flags = parse_engine_flags(a, https, &mut errs);

        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        let Some(engine_flags) = engine_flags else {
            return Err(ConfigErrors(vec![
                "internal: incomplete engine configuration".into(),
            ]));
        };
        // Every `None` above pushed an error, so these are all present here.
        let (
            Some(target),
            Some(clients),
            Some(ramp_rate),
            Some(ramp_jitter),
            Some(duration),
            Some(variant),
            Some(resolve),
            Some(client_id_offset),
            Some(timeout),
            Some(seg_retry),
            Some(max_playlist_size),
            Some(max_tracks),
            Some(log_format),
            Some(seed),
            Some(metrics),
        ) = (
            target,
            clients,
            ramp_rate,
            ramp_jitter,
            duration,
            variant,
            resolve,
            client_id_offset,
            timeout,
            seg_retry,
            max_playlist_size,
            max_tracks,
            log_format,
            seed,
            metrics,
        )
        else {
            return Err(ConfigErrors(vec![
                "internal: incomplete configuration".into(),
            ]));
        };
        Ok(Config {
            target,
            clients,
            ramp_rate,
            ramp_jitter,
            duration,
            variant,
            resolve,
            dangerous: a.dangerous,
            no_cache: a.no_cache,
            headers,
            user_agent,
            client_id_offset,
            timeout,
            seg_retry,
            max_playlist_size,
            max_tracks,
            reconnect: a.reconnect,
            verbose: a.verbose,
            log_format,
            check: a.check,
            output: a.output.clone(),
            slo,
            slo_abort,
            seed,
            metrics,
            prom_client_metrics: a.prom_client_metrics,
            origin_metrics,
            tui: a.tui,
            log_file: a.log_file.clone(),
            report: a.report.clone(),
            engine: engine_flags.engine,
            ffmpeg: engine_flags.ffmpeg,
            stall_threshold: engine_flags.stall_threshold,
            startup_timeout,
            restart_on_stall: a.restart_on_stall,
            print_cmd: a.print_cmd,
        })
    }

    /// Whether the TUI runs, given whether stdout is a terminal.
    pub fn tui_enabled(&self, stdout_is_terminal: bool) -> bool {
        self.tui.unwrap_or(stdout_is_terminal)
    }

    /// The User-Agent of viewer `id`.
    pub fn viewer_user_agent(&self, id: u64) -> String {
        format!("{}/client-{}", self.user_agent, id)
    }
}

fn opt<T>(
    errs: &mut Vec<String>,
    v: &Option<String>,
    f: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match v.as_deref().map(|s| f(s.trim())) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            errs.push(e);
            None
        }
    }
}

/// `--slo-abort` and `--slo-abort-grace`, which need each other and an SLO to act on.
fn slo_abort(a: &RunArgs, slo: &Slo, errs: &mut Vec<String>) -> Option<Duration> {
    let grace = match a
        .slo_abort_grace
        .as_deref()
        .map(|s| dur("--slo-abort-grace", s))
    {
        None => crate::slo::DEFAULT_ABORT_GRACE,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            errs.push(e);
            return None;
        }
    };
    if !a.slo_abort {
        if a.slo_abort_grace.is_some() {
            errs.push("--slo-abort-grace has no effect without --slo-abort".into());
        }
        return None;
    }
    if !slo.any() {
        errs.push(
            "--slo-abort needs an SLO to watch (e.g. --slo-max-stalled 0 or --slo-max-error-rate 0.01)"
                .into(),
        );
        return None;
    }
    Some(grace)
}

fn dur(flag: &str, s: &str) -> Result<Duration, String> {
    parse_go_duration(s).map_err(|e| format!("{flag}: {e} (e.g. {flag} 500ms, 30s, 5m, 1h30m)"))
}

/// Smallest and largest `--max-playlist-size`.
const PLAYLIST_SIZE_RANGE: (u64, u64) = (1024, 1 << 30);

/// Parse a byte size: a whole number of bytes, or with a binary unit `KiB`, `MiB`, `GiB`
/// (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all meaning powers of 1024), 1 KiB..=1 GiB.
pub fn parse_size(flag: &str, s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(0),
        "k" | "kb" | "kib" => Some(10),
        "m" | "mb" | "mib" => Some(20),
        "g" | "gb" | "gib" => Some(30),
        _ => None,
    };
    let (min, max) = PLAYLIST_SIZE_RANGE;
    match (digits.parse::<u64>(), shift) {
        (Ok(n), Some(shift)) => match n.checked_mul(1 << shift) {
            Some(b) if (min..=max).contains(&b) => Ok(b),
            _ => Err(format!("{flag}: '{s}' is out of range (1KiB..=1GiB)")),
        },
        _ => Err(format!(
            "{flag}: '{s}' is not a size (e.g. {flag} 8MiB, 512KiB or 1048576)"
        )),
    }
}

fn parse_count(flag: &str, s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{flag}: {n} is out of range ({min}..={max})")),
        Err(_) => Err(format!(
            "{flag}: '{s}' is not a whole number (e.g. {flag} {})",
            min.max(1)
        )),
    }
}

/// Parse `-metrics`: `off`, `IP:PORT`, `[IPv6]:PORT`, `:PORT` (all interfaces, as Go
/// spells it) or `localhost:PORT`.
pub fn parse_metrics_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "-metrics: '{s}' is not a listen address (e.g. -metrics 0.0.0.0:17091, -metrics 127.0.0.1:0, -metrics off)"
        )
    };
    if let Some(port) = s.strip_prefix(':') {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port))));
    }
    s.parse::<SocketAddr>().map(Some).map_err(|_| bad())
}

/// The stream URL from `-url-file`: the first non-empty line. The file's text may be a
/// secret, so no message quotes it; a valid URL is shown redacted like any other.
fn read_url_file(path: &Path) -> Result<Target, String> {
    let flag = format!("-url-file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag}: cannot read it: {e}"))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| format!("{flag}: the file holds no URL"))?;
    let u = Url::parse(line).map_err(|e| {
        format!("{flag}: its first line is not a valid URL ({e}; the file's text is not shown)")
    })?;
    check_stream_url(u).map_err(|e| format!("{flag}: {e}"))
}

fn parse_stream_url(s: &str) -> Result<Target, String> {
    let u = Url::parse(s).map_err(|e| {
        format!("URL '{s}' is not valid: {e} (e.g. http://origin:17080/stream.m3u8)")
    })?;
    check_stream_url(u)
}

fn check_stream_url(u: Url) -> Result<Target, String> {
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "URL '{}' must be http:// or https://",
            redact_url(&u)
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL '{}' has no host", redact_url(&u)));
    }
    Ok(Target::Url(u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_from;

    fn cfg(args: &[&str]) -> Result<Config, ConfigErrors> {
        let mut v = vec!["hls-swarm"];
        v.extend_from_slice(args);
        let cli = parse_from(v).unwrap_or_else(|e| panic!("{e}"));
        Config::from_args(&cli.run)
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("-5s").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.target, Target::Builtin));
        assert_eq!(c.clients, 10);
        assert_eq!(c.ramp_rate, 5.0);
        assert_eq!(c.ramp_jitter, Duration::from_millis(200));
        assert_eq!(c.duration, None);
        assert_eq!(c.timeout, Duration::from_secs(15));
        assert_eq!(c.seg_retry, 3);
        assert!(c.reconnect);
        assert!(c.user_agent.starts_with("hls-swarm/"));
        assert_eq!(c.viewer_user_agent(4), format!("{}/client-4", c.user_agent));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = cfg(&[
            "-clients",
            "abc",
            "-ramp-rate",
            "0",
            "-duration",
            "5x",
            "-variant",
            "best",
            "-timeout",
            "0",
        ])
        .err()
        .unwrap_or_else(|| panic!("must fail"));
        let text = e.to_string();
        for flag in [
            "-clients",
            "-ramp-rate",
            "-duration",
            "-variant",
            "-timeout",
        ] {
            assert!(text.contains(flag), "{flag} missing in {text}");
        }
        assert_eq!(e.0.len(), 5);
    }

    #[test]
    fn resolve_needs_dangerous() {
        let e = cfg(&["http://h/x.m3u8", "-resolve", "127.0.0.1"])
            .err()
            .unwrap_or_else(|| panic!());
        assert!(e.to_string().contains("--dangerous"));
        let c = cfg(&["http://h/x.m3u8", "-resolve", "::1", "--dangerous"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.resolve,
            Some("::1".parse().unwrap_or_else(|_| unreachable!()))
        );
    }

    #[test]
    fn headers_and_secrets() {
        let c = cfg(&[
            "-header",
            "X-Test: 1",
            "-header",
            "Authorization: Bearer abc",
            "-no-cache",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let shown: Vec<String> = c.headers.iter().map(|h| h.to_string()).collect();
        assert_eq!(shown[0], "x-test: 1");
        assert_eq!(shown[1], "authorization: <redacted>");
        assert!(shown.iter().any(|s| s.starts_with("cache-control")));
        let e = cfg(&["-header", "nocolon"])
            .err()
            .unwrap_or_else(|| panic!());
        assert!(e.to_string().contains("-header"));
    }

    #[test]
    fn header_file_values_are_secret() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("h");
        std::fs::write(&p, "# creds\nX-Custom: s3cr3t\n\n").unwrap_or_else(|e| panic!("{e}"));
        let c = cfg(&["-header-file", p.to_str().unwrap_or_default()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.headers[0].to_string(), "x-custom: <redacted>");
    }

    #[test]
    fn urls_are_checked_and_redacted() {
        assert!(cfg(&["ftp://h/x"]).is_err());
        assert!(cfg(&["not a url"]).is_err());
        let u = Url::parse("https://user:pw@h:8443/a/b.m3u8?token=x#f")
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(redact_url(&u), "https://h:8443/a/b.m3u8");
    }

    #[test]
    fn metrics_addresses() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.metrics, Some(SocketAddr::from(([0, 0, 0, 0], 17091))));
        assert!(!c.prom_client_metrics);
        let c = cfg(&["-metrics", "off"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.metrics, None);
        assert_eq!(
            parse_metrics_addr(":9000"),
            Ok(Some(SocketAddr::from(([0, 0, 0, 0], 9000))))
        );
        assert_eq!(
            parse_metrics_addr("localhost:0"),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
        );
        assert_eq!(
            parse_metrics_addr("[::1]:17091"),
            Ok(Some(
                "[::1]:17091".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        for bad in ["17091", "host:1", "1.2.3.4:99999", ""] {
            let e = parse_metrics_addr(bad).err().unwrap_or_default();
            assert!(e.contains("-metrics"), "{bad}: {e}");
        }
        let c = cfg(&["-prom-client-metrics", "-metrics", "127.0.0.1:0"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.prom_client_metrics);
        let e = cfg(&["-prom-client-metrics", "-metrics", "off", "-clients", "x"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.0.len(), 2, "{e}");
        assert!(e.to_string().contains("-prom-client-metrics"));
    }

    #[test]
    fn engine_flags() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.engine, Engine::Native);
        assert_eq!(c.ffmpeg, FfmpegConfig::default());
        assert!(!c.restart_on_stall);
        let c = cfg(&[
            "-engine",
            "ffmpeg",
            "-ffmpeg",
            "/opt/ff/bin/ffmpeg",
            "-probe-failure-policy",
            "fail",
            "-stall-threshold",
            "5s",
            "-restart-on-stall",
            "-stats-loglevel",
            "Verbose",
            "-stats-buffer",
            "50",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.engine, Engine::Ffmpeg);
        assert_eq!(c.ffmpeg.binary, "/opt/ff/bin/ffmpeg");
        assert_eq!(c.ffmpeg.probe_failure_policy, ProbeFailurePolicy::Fail);
        assert_eq!(c.ffmpeg.loglevel.as_deref(), Some("verbose"));
        assert_eq!(c.ffmpeg.stderr_buffer, 50);
        assert_eq!(c.stall_threshold, Some(Duration::from_secs(5)));
        assert!(c.restart_on_stall);
    }

    #[test]
    fn ffmpeg_only_flags_are_rejected_with_native() {
        let e = cfg(&["-ffmpeg", "x", "-stats-buffer", "5", "--print-cmd"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.0.len(), 3, "{e}");
        assert!(e.to_string().contains("only applies to -engine ffmpeg"));
        // -stall-threshold alone would do nothing with native.
        assert!(cfg(&["-stall-threshold", "4s"]).is_err());
        assert!(cfg(&["-stall-threshold", "4s", "-restart-on-stall"]).is_ok());
        let e = cfg(&[
            "-engine",
            "vlc",
            "-stall-threshold",
            "0",
            "-probe-failure-policy",
            "maybe",
        ])
        .err()
        .unwrap_or_else(|| panic!("must fail"));
        assert!(e.to_string().contains("-engine"));
        assert!(e.to_string().contains("-stall-threshold"));
    }

    #[test]
    fn https_needs_a_debug_loglevel() {
        let e = cfg(&[
            "https://h/x.m3u8",
            "-engine",
            "ffmpeg",
            "-stats-loglevel",
            "warning",
        ])
        .err()
        .unwrap_or_else(|| panic!("must fail"));
        assert!(e.to_string().contains("too quiet"));
        assert!(
            cfg(&[
                "https://h/x.m3u8",
                "-engine",
                "ffmpeg",
                "-stats-loglevel",
                "trace"
            ])
            .is_ok()
        );
    }

    #[test]
    fn slo_flags() {
        let c = cfg(&[
            "--slo-max-error-rate",
            "0.001",
            "--slo-p95-segment-ttfb",
            "500ms",
            "--slo-min-active-ratio",
            "1.0",
            "--slo-max-stalled",
            "0",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slo.max_error_rate, Some(0.001));
        assert_eq!(c.slo.p95_segment_ttfb, Some(Duration::from_millis(500)));
        assert_eq!(c.slo.max_stalled, Some(0));
        assert!(cfg(&["--slo-max-error-rate", "2"]).is_err());
        assert_eq!(c.slo_abort, None);
        let c = cfg(&["--slo-max-stalled", "0", "--slo-abort"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slo_abort, Some(crate::slo::DEFAULT_ABORT_GRACE));
        let c = cfg(&[
            "--slo-max-stalled",
            "0",
            "--slo-abort",
            "--slo-abort-grace",
            "5s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slo_abort, Some(Duration::from_secs(5)));
        let e = cfg(&["--slo-abort"])
            .err()
            .unwrap_or_else(|| panic!("no SLO"));
        assert!(e.to_string().contains("--slo-abort needs an SLO"), "{e}");
        let e = cfg(&["--slo-abort-grace", "5s"])
            .err()
            .unwrap_or_else(|| panic!("alone"));
        assert!(e.to_string().contains("--slo-abort-grace"), "{e}");
    }

    #[test]
    fn report_path_is_checked_before_the_run() {
        let c = cfg(&["--report", "r.html"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.report, Some(PathBuf::from("r.html")));
        let e = cfg(&["--report", "/no/such/dir/r.html"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert!(e.to_string().contains("--report"), "{e}");
    }

    #[test]
    fn output_path_is_checked_before_the_run() {
        let e = cfg(&["--output", "/no/such/dir/r.json"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert!(e.to_string().contains("--output"), "{e}");
        let dir = std::env::temp_dir();
        let e = cfg(&["--output", &dir.to_string_lossy()])
            .err()
            .unwrap_or_else(|| panic!("a directory must fail"));
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn tui_and_log_file() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            c.tui_enabled(true) && !c.tui_enabled(false),
            "auto follows stdout"
        );
        let c = cfg(&["-tui=false", "--log-file", "x.log"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.tui_enabled(true));
        assert_eq!(c.log_file, Some(PathBuf::from("x.log")));
        let e = cfg(&["--log-file", "/no/such/l", "--report", "/no/such/r.html"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.0.len(), 2, "both reported at once: {e}");
        assert!(e.to_string().contains("--log-file"), "{e}");
    }
}

//! From the command line to the run's configuration, in two layers (as ripgrep's
//! low-level and high-level arguments):
//!
//! * [`cli`] — the low-level arguments: the clap definition of every flag, values kept as
//!   text, plus the Go-style spelling (`-clients 5`). The container's environment
//!   (`CLIENTS`, `STREAM_URL`, …) is mapped onto the same flags by its entrypoint
//!   (nix/swarm-client/entrypoint.sh), which also keeps `STREAM_URL` out of the
//!   process's argv and environment.
//! * [`Config`] — the high-level, validated and immutable configuration of a swarm run,
//!   built once by [`Config::from_args`] out of typed parts with one job each:
//!   [`StreamConfig`] (what is played), [`Audience`] (how many viewers, how fast),
//!   [`HttpConfig`] (how they talk HTTP), [`Limits`], [`EngineConfig`] and
//!   [`StallConfig`], [`Outputs`], [`Slo`], [`OriginMetricsConfig`] and the run's
//!   identity, [`RunIdentity`] (run id, [`Shard`], `--start-at`).
//!
//! Every flag's text is read by one parsing module, [`parse`] (durations, counts, rates,
//! sizes, addresses, headers, URL redaction), which the built-in origin uses as well; and
//! validated by one convention, [`problems`]: every problem is noted, all are reported
//! at once, each naming its flag, and the process exits 2.
//!
//! This module depends on no other part of the program but the HLS model's
//! [`VariantChoice`](crate::hls::VariantChoice) and date-time parser (for `--start-at`),
//! and the report-path check of
//! [`crate::file`]; everything else depends on it.

pub mod audience;
pub mod bandwidth;
pub mod cli;
mod dist_spec;
pub mod engine;
pub mod http;
pub mod limits;
pub mod merge;
pub mod origin_metrics;
pub mod outputs;
pub mod parse;
pub mod problems;
pub mod run;
pub mod session;
pub mod shard;
pub mod slo;
pub mod stream;
pub mod streams;

pub use audience::Audience;
pub use engine::{Engine, EngineConfig, FfmpegConfig, ProbeFailurePolicy, StallConfig};
pub use http::{Http2Mode, HttpConfig};
pub use limits::Limits;
pub use origin_metrics::{InterfaceFilter, OriginMetricsConfig};
pub use outputs::{JsonTarget, LogConfig, LogFormat, MetricsEndpoint, Outputs};
pub use parse::{Header, redact_url};
pub use problems::{ConfigErrors, Problems};
pub use run::RunIdentity;
pub use shard::Shard;
pub use slo::Slo;
pub use stream::{LlHlsMode, StreamConfig, StreamSource};

use cli::RunArgs;

/// What the process does with the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the swarm.
    Run,
    /// `--check`: check the stream and this host, print a verdict.
    Check,
    /// `--print-cmd` (FFmpeg engine only): print the per-viewer FFmpeg command.
    PrintCmd,
}

/// A validated swarm configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the process does.
    pub mode: Mode,
    /// The stream and the variants played.
    pub stream: StreamConfig,
    /// The viewers and their ramp.
    pub audience: Audience,
    /// HTTP client settings.
    pub http: HttpConfig,
    /// Per-viewer limits.
    pub limits: Limits,
    /// The engine and its options.
    pub engine: EngineConfig,
    /// When a viewer is stalled and what is done about it.
    pub stalls: StallConfig,
    /// Reports, terminal, logs, metrics endpoint.
    pub outputs: Outputs,
    /// Objectives.
    pub slo: Slo,
    /// Origin host metrics to scrape (`None` = none configured).
    pub origin_metrics: Option<OriginMetricsConfig>,
    /// Which test, which shard of it, and when its ramp begins.
    pub run: RunIdentity,
}

impl Config {
    /// Validate the flags of a run. Reports every problem at once.
    pub fn from_args(a: &RunArgs) -> Result<Config, ConfigErrors> {
        let mut p = Problems::new();
        let stream = StreamConfig::from_args(a, &mut p);
        let audience = Audience::from_args(a, &mut p);
        let start_at = a
            .start_at
            .as_deref()
            .and_then(|s| p.ok(run::start_at(s, std::time::SystemTime::now())));
        let run_id = a.run_id.as_deref().and_then(|s| p.ok(run::run_id(s)));
        let run = RunIdentity::new(run_id, start_at, &audience);
        let http = HttpConfig::from_args(a, &mut p);
        p.check(
            a.resolve.is_some() && a.urls.is_empty() && a.url_file.is_none() && a.streams.is_none(),
            || "-resolve needs a stream URL whose host it replaces".into(),
        );
        let limits = Limits::from_args(a, &mut p);
        let outputs = Outputs::from_args(a, &mut p);
        let slo = Slo::from_args(a, &mut p);
        let origin_metrics = origin_metrics::from_args(&a.origin_metrics_args, &mut p);
        let engine = EngineConfig::from_args(a, stream.source.is_https(), &mut p);
        let stalls = StallConfig::from_args(a, engine.kind, &mut p);
        p.check(
            engine.kind == Engine::Ffmpeg && audience.bandwidth.is_some(),
            || {
                "--viewer-bandwidth: the FFmpeg engine does not pace its viewers' links; \
                 use it with -engine native (the default)"
                    .into()
            },
        );
        p.check(
            engine.kind == Engine::Ffmpeg && stream.stream_count() > 1,
            || {
                format!(
                    "-engine ffmpeg plays one stream; {} streams (several URLs, --streams or -origin-channels) need -engine native (the default)",
                    stream.stream_count()
                )
            },
        );
        let mode = if a.print_cmd {
            Mode::PrintCmd
        } else if a.check {
            Mode::Check
        } else {
            Mode::Run
        };
        p.finish(Config {
            mode,
            stream,
            audience,
            http,
            limits,
            engine,
            stalls,
            outputs,
            slo,
            origin_metrics,
            run,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    use url::Url;

    use super::*;
    use crate::config::cli::parse_from;

    fn cfg(args: &[&str]) -> Result<Config, ConfigErrors> {
        let mut v = vec!["hls-swarm"];
        v.extend_from_slice(args);
        let cli = parse_from(v).unwrap_or_else(|e| panic!("{e}"));
        Config::from_args(&cli.run)
    }

    #[test]
    fn limits_have_sane_defaults() {
        let c = cfg(&["http://o/x.m3u8"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.limits.max_playlist_size, 8 << 20);
        assert_eq!(c.limits.max_tracks, 16);
        let c = cfg(&[
            "http://o/x.m3u8",
            "--max-playlist-size",
            "64KiB",
            "-max-tracks",
            "3",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.limits.max_playlist_size, c.limits.max_tracks),
            (64 << 10, 3)
        );
    }

    #[test]
    fn origin_part_duration_asks_the_builtin_origin_for_parts() {
        assert_eq!(cfg(&[]).unwrap().stream.builtin_part_duration, None);
        let c = cfg(&["-origin-part-duration", "200ms"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.stream.builtin_part_duration,
            Some(Duration::from_millis(200))
        );
        for (args, why) in [
            (
                vec!["http://o/x.m3u8", "-origin-part-duration", "200ms"],
                "only the built-in origin",
            ),
            (vec!["-origin-part-duration", "150ms"], "multiple of 100ms"),
            (vec!["-origin-part-duration", "300ms"], "does not divide"),
            (vec!["-origin-part-duration", "fast"], "expected e.g. 200ms"),
        ] {
            let errs = cfg(&args).unwrap_err();
            assert_eq!(errs.len(), 1, "{args:?}: {errs:?}");
            assert!(errs[0].starts_with("-origin-part-duration"), "{errs:?}");
            assert!(errs[0].contains(why), "{errs:?}");
        }
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.stream.source, StreamSource::Builtin));
        assert_eq!(c.audience.viewers, 10);
        assert_eq!(c.audience.ramp_rate, 5.0);
        assert_eq!(c.audience.ramp_jitter, Duration::from_millis(200));
        assert_eq!(c.audience.duration, None);
        assert_eq!(c.http.timeout, Duration::from_secs(15));
        assert_eq!(c.http.seg_retry, 3);
        assert!(c.http.reconnect);
        assert!(c.http.user_agent.starts_with("hls-swarm/"));
        assert_eq!(
            c.http.viewer_user_agent(4),
            format!("{}/client-4", c.http.user_agent)
        );
    }

    #[test]
    fn durations_take_the_grammar_every_flag_shares() {
        let c = cfg(&[
            "-duration",
            "1min 30s",
            "-ramp-jitter",
            ".5s",
            "-timeout",
            "1.5s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.audience.duration, Some(Duration::from_secs(90)));
        assert_eq!(c.audience.ramp_jitter, Duration::from_millis(500));
        assert_eq!(c.http.timeout, Duration::from_millis(1500));
        let e = cfg(&["-duration", "90"])
            .err()
            .unwrap_or_else(|| panic!("no unit"));
        assert!(e.to_string().contains("-duration: '90' has no unit"), "{e}");
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
            c.http.resolve,
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
        let shown: Vec<String> = c.http.headers.iter().map(|h| h.to_string()).collect();
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
        assert_eq!(c.http.headers[0].to_string(), "x-custom: <redacted>");
    }

    #[test]
    fn urls_are_checked_and_redacted() {
        assert!(cfg(&["ftp://h/x"]).is_err());
        assert!(cfg(&["not a url"]).is_err());
        let u = Url::parse("https://user:pw@h:8443/a/b.m3u8?token=x#f")
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(redact_url(&u), "https://h:8443/a/b.m3u8");
        assert!(
            cfg(&["-resolve", "::1", "--dangerous"]).is_err(),
            "no URL to resolve"
        );
    }

    #[test]
    fn metrics_linger_is_a_bounded_duration_that_needs_the_endpoint() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.outputs.metrics.map(|m| m.linger), Some(Duration::ZERO));
        let c = cfg(&["--metrics-linger", "15s"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.outputs.metrics.map(|m| m.linger),
            Some(Duration::from_secs(15))
        );
        for bad in ["15", "2h", "soon"] {
            let e = cfg(&["--metrics-linger", bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} must fail"));
            assert!(e.to_string().contains("--metrics-linger"), "{bad}: {e}");
        }
        let e = cfg(&["-metrics", "off", "--metrics-linger", "5s"])
            .err()
            .unwrap_or_else(|| panic!("linger without the endpoint must fail"));
        assert!(
            e.to_string()
                .contains("--metrics-linger needs the metrics endpoint"),
            "{e}"
        );
        assert!(cfg(&["-metrics", "off", "--metrics-linger", "0"]).is_ok());
    }

    #[test]
    fn metrics_addresses() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.outputs.metrics.map(|m| m.addr),
            Some(SocketAddr::from(([0, 0, 0, 0], 17091)))
        );
        assert!(c.outputs.metrics.is_some_and(|m| !m.per_viewer));
        let c = cfg(&["-metrics", "off"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.outputs.metrics.map(|m| m.addr), None);
        assert_eq!(
            parse::listen_addr("-metrics", ":9000"),
            Ok(Some(SocketAddr::from(([0, 0, 0, 0], 9000))))
        );
        assert_eq!(
            parse::listen_addr("-metrics", "localhost:0"),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
        );
        assert_eq!(
            parse::listen_addr("-metrics", "[::1]:17091"),
            Ok(Some(
                "[::1]:17091".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        for bad in ["17091", "host:1", "1.2.3.4:99999", ""] {
            let e = parse::listen_addr("-metrics", bad)
                .err()
                .unwrap_or_default();
            assert!(e.contains("-metrics"), "{bad}: {e}");
        }
        let c = cfg(&["-prom-client-metrics", "-metrics", "127.0.0.1:0"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.outputs.metrics.is_some_and(|m| m.per_viewer));
        let e = cfg(&["-prom-client-metrics", "-metrics", "off", "-clients", "x"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.0.len(), 2, "{e}");
        assert!(e.to_string().contains("-prom-client-metrics"));
    }

    #[test]
    fn engine_flags() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.engine.kind, Engine::Native);
        assert_eq!(c.engine.ffmpeg, FfmpegConfig::default());
        assert!(!c.stalls.restart);
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
        assert_eq!(c.engine.kind, Engine::Ffmpeg);
        assert_eq!(c.engine.ffmpeg.binary, "/opt/ff/bin/ffmpeg");
        assert_eq!(
            c.engine.ffmpeg.probe_failure_policy,
            ProbeFailurePolicy::Fail
        );
        assert_eq!(c.engine.ffmpeg.loglevel.as_deref(), Some("verbose"));
        assert_eq!(c.engine.ffmpeg.stderr_buffer, 50);
        assert_eq!(c.stalls.threshold, Some(Duration::from_secs(5)));
        assert!(c.stalls.restart);
    }

    #[test]
    fn arrival_mode_takes_a_rate_and_a_session_model_and_names_bad_flags() {
        use crate::config::session::SessionModel;
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.audience.arrivals());
        let c = cfg(&[
            "--arrival-rate",
            "2.5",
            "--session-duration",
            "exp:mean=10m",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.audience.arrival_rate, Some(2.5));
        assert_eq!(
            c.audience.session,
            Some(SessionModel::Exp {
                mean: Duration::from_secs(600)
            })
        );
        let err = |args: &[&str]| cfg(args).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err(&["--session-duration", "30m"]).contains("--session-duration: only arrival mode"),
            "without --arrival-rate"
        );
        for bad in ["0", "-1", "x", "1e9"] {
            let e = err(&["--arrival-rate", bad]);
            assert!(
                e.contains(&format!("--arrival-rate: '{bad}'")),
                "{bad}: {e}"
            );
        }
        let e = err(&["--arrival-rate", "1", "--session-duration", "exp:mean=x"]);
        assert!(e.contains("--session-duration: 'exp:mean=x'"), "{e}");
    }

    #[test]
    fn viewer_bandwidth_takes_a_model_for_the_native_engine_only() {
        use crate::config::bandwidth::BandwidthModel;
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.audience.bandwidth, None);
        let c = cfg(&["--viewer-bandwidth", "lognormal:median=8M,sigma=0.5"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.audience.bandwidth,
            Some(BandwidthModel::LogNormal {
                median: 8_000_000,
                sigma: 0.5
            })
        );
        let e = cfg(&["-engine", "ffmpeg", "--viewer-bandwidth", "8M"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--viewer-bandwidth: the FFmpeg engine"), "{e}");
        let e = cfg(&["--viewer-bandwidth", "0"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--viewer-bandwidth: '0'"), "{e}");
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
        assert_eq!(c.slo.abort, None);
        let c = cfg(&["--slo-max-stalled", "0", "--slo-abort"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slo.abort, Some(slo::DEFAULT_ABORT_GRACE));
        let c = cfg(&[
            "--slo-max-stalled",
            "0",
            "--slo-abort",
            "--slo-abort-grace",
            "5s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slo.abort, Some(Duration::from_secs(5)));
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
        assert_eq!(c.outputs.html_report, Some(PathBuf::from("r.html")));
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
            c.outputs.tui_enabled(true) && !c.outputs.tui_enabled(false),
            "auto follows stdout"
        );
        let c = cfg(&["-tui=false", "--log-file", "x.log"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.outputs.tui_enabled(true));
        assert_eq!(c.outputs.log.file, Some(PathBuf::from("x.log")));
        let e = cfg(&["--log-file", "/no/such/l", "--report", "/no/such/r.html"])
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.0.len(), 2, "both reported at once: {e}");
        assert!(e.to_string().contains("--log-file"), "{e}");
    }
}

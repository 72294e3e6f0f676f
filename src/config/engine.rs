//! Which engine plays the viewers, its options, and when a viewer counts as stalled.

use std::time::Duration;

use super::cli::RunArgs;
use super::parse::{count, flag_duration, positive_duration};
use super::problems::Problems;

/// Which engine plays the viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The built-in HLS player (one task per viewer).
    Native,
    /// One FFmpeg process per viewer, measured through the in-process proxy.
    Ffmpeg,
}

impl Engine {
    /// Every engine.
    pub const ALL: [Engine; 2] = [Engine::Native, Engine::Ffmpeg];

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

/// Rank of an FFmpeg log level name (0 = quiet); unknown names rank lowest.
pub fn level_rank(level: &str) -> usize {
    FFMPEG_LOG_LEVELS
        .iter()
        .position(|l| *l == level)
        .unwrap_or(0)
}

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

/// The engine and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// `-engine`.
    pub kind: Engine,
    /// Settings of the FFmpeg engine (defaults when the engine is native: every
    /// FFmpeg-only flag is refused with the native engine).
    pub ffmpeg: FfmpegConfig,
}

impl EngineConfig {
    /// Validate `-engine` and the FFmpeg-only flags; `https` = the stream is https://.
    pub fn from_args(a: &RunArgs, https: bool, p: &mut Problems) -> Self {
        let kind = match a.engine.trim() {
            "native" => Engine::Native,
            "ffmpeg" => Engine::Ffmpeg,
            other => {
                p.push(format!("-engine: '{other}' is not native or ffmpeg"));
                Engine::Native
            }
        };
        if kind != Engine::Ffmpeg {
            for (given, flag) in [
                (a.ffmpeg.is_some(), "-ffmpeg"),
                (a.probe_failure_policy.is_some(), "-probe-failure-policy"),
                (a.stats_loglevel.is_some(), "-stats-loglevel"),
                (a.stats_buffer.is_some(), "-stats-buffer"),
                (a.print_cmd, "--print-cmd"),
            ] {
                p.check(given, || format!("{flag} only applies to -engine ffmpeg"));
            }
        }
        if kind == Engine::Ffmpeg {
            p.check(a.variant.trim().eq_ignore_ascii_case("abr"), || {
                "-variant abr: FFmpeg does not adapt its bitrate; use the native engine \
                 (-engine native, the default) or -variant all|highest|lowest|first"
                    .into()
            });
            p.check(a.ll_hls.trim().eq_ignore_ascii_case("on"), || {
                "--ll-hls on: FFmpeg viewers play LL-HLS streams as classic HLS (FFmpeg ignores \
                 the LL-HLS tags); use the native engine, or --ll-hls auto|off"
                    .into()
            });
        }
        let mut ffmpeg = FfmpegConfig::default();
        if let Some(path) = &a.ffmpeg {
            p.check(path.trim().is_empty(), || {
                "-ffmpeg: the path is empty (e.g. -ffmpeg /usr/bin/ffmpeg)".into()
            });
            ffmpeg.binary = path.trim().to_string();
        }
        match a.probe_failure_policy.as_deref().map(str::trim) {
            None | Some("fallback") => {}
            Some("fail") => ffmpeg.probe_failure_policy = ProbeFailurePolicy::Fail,
            Some(other) => p.push(format!(
                "-probe-failure-policy: '{other}' is not fallback or fail"
            )),
        }
        if let Some(l) = &a.stats_loglevel {
            let l = l.trim().to_ascii_lowercase();
            if !FFMPEG_LOG_LEVELS.contains(&l.as_str()) {
                p.push(format!(
                    "-stats-loglevel: '{l}' is not one of {}",
                    FFMPEG_LOG_LEVELS.join(", ")
                ));
            } else if https && level_rank(&l) < level_rank("debug") {
                p.push(format!(
                    "-stats-loglevel: '{l}' is too quiet for an https:// stream; its request \
                     figures come from FFmpeg's debug log (use debug or trace)"
                ));
            }
            ffmpeg.loglevel = Some(l);
        }
        if let Some(b) = &a.stats_buffer {
            match count("-stats-buffer", b, 1, 1_000_000) {
                Ok(n) => ffmpeg.stderr_buffer = n as usize,
                Err(_) => p.push(format!(
                    "-stats-buffer: '{b}' is not a number of lines in 1..=1000000 (e.g. -stats-buffer 1000)"
                )),
            }
        }
        EngineConfig { kind, ffmpeg }
    }
}

/// Default `-startup-timeout`: a viewer without its first media this long after tuning in
/// is stalled.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// When a viewer counts as stalled, and what is done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallConfig {
    /// `-stall-threshold`; `None` = 2 × the stream's target duration.
    pub threshold: Option<Duration>,
    /// `-startup-timeout`: a viewer without first media this long after tune-in is stalled.
    pub startup_timeout: Duration,
    /// `-restart-on-stall`: replace viewers stalled longer than the threshold.
    pub restart: bool,
}

impl StallConfig {
    /// Validate the stall flags for `engine`.
    pub fn from_args(a: &RunArgs, engine: Engine, p: &mut Problems) -> Self {
        let threshold = p.optional(a.stall_threshold.as_deref(), |s| {
            match flag_duration("-stall-threshold", s)? {
                d if d.is_zero() => Err(
                    "-stall-threshold: must be greater than 0 (e.g. -stall-threshold 4s)".into(),
                ),
                d => Ok(d),
            }
        });
        p.check(
            a.stall_threshold.is_some() && engine == Engine::Native && !a.restart_on_stall,
            || {
                "-stall-threshold with the native engine only sets when -restart-on-stall \
                 replaces a stalled viewer; add -restart-on-stall (native stalls themselves \
                 come from the player model)"
                    .into()
            },
        );
        let startup_timeout = p
            .optional(a.startup_timeout.as_deref(), |s| {
                positive_duration("-startup-timeout", s, "10s")
            })
            .unwrap_or(DEFAULT_STARTUP_TIMEOUT);
        StallConfig {
            threshold,
            startup_timeout,
            restart: a.restart_on_stall,
        }
    }
}

//! What the installed FFmpeg can do, probed once at start (never assumed from a version
//! number): Debian 12's FFmpeg 5.1 has no `-seg_max_retry` and no `datetime` log flag,
//! newer builds have both.
//!
//! Three runs of the binary: `-version` (version line), `-h full` (every option name it
//! knows, global and per protocol/demuxer), and `-loglevel repeat+level+datetime+warning
//! -version` (rejected with exit 1 when the `datetime` flag is unknown).

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long one probe run of the binary may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Options the engine cannot work without.
pub const REQUIRED_OPTIONS: [&str; 5] = [
    "http_proxy",
    "progress",
    "stats_period",
    "user_agent",
    "headers",
];

/// The capabilities of one FFmpeg binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The binary as given (`-ffmpeg`).
    pub binary: String,
    /// Version string, e.g. `5.1.9-0+deb12u1`.
    pub version: String,
    /// Option names `-h full` lists, without the leading dash.
    pub options: HashSet<String>,
    /// `-loglevel` accepts the `datetime` flag.
    pub datetime_log: bool,
}

/// Why probing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The binary could not be started.
    #[error(
        "cannot run {binary}: {source} (install FFmpeg, e.g. `apt-get install ffmpeg`, or give its path with -ffmpeg)"
    )]
    NotFound {
        /// The binary.
        binary: String,
        /// The spawn error.
        source: std::io::Error,
    },
    /// It ran but did not answer like FFmpeg.
    #[error("{binary} does not look like FFmpeg: {detail}")]
    NotFfmpeg {
        /// The binary.
        binary: String,
        /// What was wrong.
        detail: String,
    },
    /// It did not answer in time.
    #[error("{binary} did not answer within {}s", PROBE_TIMEOUT.as_secs())]
    Timeout {
        /// The binary.
        binary: String,
    },
}

impl Capabilities {
    /// Build from the outputs of the three probe runs (pure; unit-tested with real outputs).
    pub fn from_outputs(
        binary: &str,
        version_out: &str,
        help_full: &str,
        datetime_ok: bool,
    ) -> Result<Self, ProbeError> {
        let version = parse_version(version_out).ok_or_else(|| ProbeError::NotFfmpeg {
            binary: binary.to_string(),
            detail: format!(
                "`-version` printed {:?}",
                version_out.lines().next().unwrap_or("")
            ),
        })?;
        Ok(Capabilities {
            binary: binary.to_string(),
            version,
            options: parse_option_names(help_full),
            datetime_log: datetime_ok,
        })
    }

    /// Whether `-h full` lists `-name`.
    pub fn has(&self, name: &str) -> bool {
        self.options.contains(name)
    }

    /// Required options this binary lacks.
    pub fn missing_required(&self) -> Vec<&'static str> {
        REQUIRED_OPTIONS
            .iter()
            .copied()
            .filter(|o| !self.has(o))
            .collect()
    }

    /// Capabilities of a modern FFmpeg with every option the engine may use (tests,
    /// golden argument lists).
    pub fn full(binary: &str, version: &str) -> Self {
        let options = [
            "http_proxy",
            "progress",
            "stats_period",
            "user_agent",
            "headers",
            "seg_max_retry",
            "rw_timeout",
            "reconnect",
            "reconnect_streamed",
            "reconnect_on_network_error",
            "reconnect_delay_max",
            "tls_verify",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Capabilities {
            binary: binary.into(),
            version: version.into(),
            options,
            datetime_log: true,
        }
    }
}

/// `ffmpeg version 5.1.9-0+deb12u1 Copyright …` → `5.1.9-0+deb12u1`.
pub fn parse_version(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.starts_with("ffmpeg version "))?;
    line.split_whitespace().nth(2).map(str::to_string)
}

/// Every `-name` at the start of a (possibly indented) line of `-h full`.
pub fn parse_option_names(help: &str) -> HashSet<String> {
    help.lines()
        .filter_map(|l| l.trim_start().strip_prefix('-'))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| {
            name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        })
        .map(|name| name.split(':').next().unwrap_or(name).to_string())
        .collect()
}

async fn run(binary: &str, args: &[&str]) -> Result<(bool, String, String), ProbeError> {
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|source| ProbeError::NotFound {
        binary: binary.to_string(),
        source,
    })?;
    match tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(ProbeError::Timeout {
            binary: binary.to_string(),
        }),
        Ok(Err(source)) => Err(ProbeError::NotFound {
            binary: binary.to_string(),
            source,
        }),
        Ok(Ok(out)) => Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )),
    }
}

/// Probe `binary` (three short runs, concurrently).
pub async fn probe(binary: &str) -> Result<Capabilities, ProbeError> {
    let (version, help, datetime) = tokio::join!(
        run(binary, &["-hide_banner", "-nostdin", "-version"]),
        run(binary, &["-hide_banner", "-nostdin", "-h", "full"]),
        run(
            binary,
            &[
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "repeat+level+datetime+warning",
                "-version"
            ]
        ),
    );
    let (_, version_out, _) = version?;
    let (_, help_out, _) = help?;
    let (datetime_ok, _, _) = datetime?;
    Capabilities::from_outputs(binary, &version_out, &help_out, datetime_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP_51: &str = "Hyper fast Audio and Video encoder\n\
        Getting help:\n\
        -progress url       write program-readable progress information\n\
        -stats_period time  set the period at which ffmpeg updates stats and -progress output\n\
        http AVOptions:\n\
        \x20 -http_proxy        <string>     ED......... set HTTP proxy to tunnel through\n\
        \x20 -headers           <string>     ED......... set custom HTTP headers\n\
        \x20 -user_agent        <string>     .D......... override User-Agent header\n\
        \x20 -rw_timeout        <int64>      ED......... Timeout for IO operations\n\
        \x20 -reconnect_delay_max <int>        .D......... max reconnect delay\n\
        \x20    auto            -1           .D.........\n";

    #[test]
    fn debian_51_has_no_seg_max_retry_and_no_datetime() {
        let c = Capabilities::from_outputs(
            "ffmpeg",
            "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers\nbuilt with gcc 12",
            HELP_51,
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.version, "5.1.9-0+deb12u1");
        assert!(c.has("http_proxy") && c.has("progress") && c.has("stats_period"));
        assert!(c.has("reconnect_delay_max") && c.has("rw_timeout"));
        assert!(!c.has("seg_max_retry"));
        assert!(!c.datetime_log);
        assert!(c.missing_required().is_empty());
        assert!(!c.has("auto"), "enum values are not options");
    }

    #[test]
    fn a_non_ffmpeg_binary_is_rejected() {
        let e = Capabilities::from_outputs("/bin/true", "", "", false);
        assert!(matches!(e, Err(ProbeError::NotFfmpeg { .. })));
    }

    #[test]
    fn missing_required_options_are_named() {
        let c = Capabilities::from_outputs("ff", "ffmpeg version 9.9\n", "-progress x\n", true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.missing_required(),
            vec!["http_proxy", "stats_period", "user_agent", "headers"]
        );
    }
}

//! The per-viewer FFmpeg command line: a pure function of the run's [`Plan`], the probed
//! [`Capabilities`], the viewer id and the proxy address. Nothing is shared or mutated
//! between viewers, so concurrent (re)spawns cannot mix up identities.
//!
//! ```text
//! ffmpeg -hide_banner -nostdin -nostats -loglevel repeat+level[+datetime]+<L>
//!        -progress pipe:3 -stats_period 1 -http_proxy http://127.0.0.1:<port>
//!        [-tls_verify 0|1]                                     (https:// only)
//!        [-reconnect 1 -reconnect_streamed 1 [-reconnect_on_network_error 1]
//!         [-reconnect_delay_max 5]]                            (-reconnect)
//!        [-rw_timeout <µs>] -user_agent <UA>/client-<id> [-headers "…\r\n"]
//!        [-seg_max_retry <N>] -i <URL> [<map>] -c copy -f null -
//! ```
//! Bracketed options appear only when the flag asks for them *and* the binary supports
//! them (probed, [`Capabilities`]).

use std::fmt::Write as _;
use std::time::Duration;

use url::Url;

use super::caps::Capabilities;

/// FFmpeg's `-progress` output goes to this file descriptor of the child.
pub const PROGRESS_FD: i32 = 3;

/// Upper bound FFmpeg waits between its own reconnect attempts (`-reconnect_delay_max`),
/// matching the swarm's backoff cap.
pub const RECONNECT_DELAY_MAX_SECS: u32 = 5;

/// Which streams FFmpeg maps to its (null) output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapChoice {
    /// `-map 0`: every stream of the input (every variant of a master, or the one media
    /// playlist given).
    All,
    /// `-map 0:p:<id>`: one program of a master playlist (FFmpeg numbers variants 0, 1, …
    /// in playlist order; the program includes the variant's audio rendition).
    Program(usize),
    /// No `-map`: FFmpeg's own default stream choice (the probe-failure fallback).
    FfmpegDefault,
}

/// One request header for `-headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderArg {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Redacted in `--print-cmd`.
    pub secret: bool,
}

/// Everything about the command that is the same for every viewer of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The URL FFmpeg opens (the entry URL or the chosen variant's media playlist).
    pub input: Url,
    /// Stream mapping.
    pub map: MapChoice,
    /// FFmpeg base log level (`warning`, `debug`, …).
    pub loglevel: String,
    /// User-Agent base; each viewer appends `/client-<id>`.
    pub user_agent: String,
    /// `-header`, `-header-file`, `-no-cache` headers.
    pub headers: Vec<HeaderArg>,
    /// `-timeout` → `-rw_timeout`.
    pub timeout: Duration,
    /// `-reconnect`.
    pub reconnect: bool,
    /// `-seg-retry` → `-seg_max_retry` (when supported).
    pub seg_retry: u32,
    /// `--dangerous`: `-tls_verify 0` instead of 1 for https:// inputs.
    pub dangerous: bool,
}

impl Plan {
    /// The input is an https:// URL (figures then come from stderr).
    pub fn https(&self) -> bool {
        self.input.scheme() == "https"
    }
}

/// The `-loglevel` value: `repeat` (no "last message repeated" folding, so every request
/// line reaches the parser), `level` (a `[warning]`-style tag on every message), and
/// `datetime` when this FFmpeg supports it.
pub fn loglevel_arg(plan: &Plan, caps: &Capabilities) -> String {
    let datetime = if caps.datetime_log { "datetime+" } else { "" };
    format!("repeat+level+{datetime}{}", plan.loglevel)
}

/// The `-headers` value: `Name: value\r\n` per header.
pub fn headers_arg(headers: &[HeaderArg], redact: bool) -> String {
    let mut s = String::new();
    for h in headers {
        let v = if redact && h.secret {
            "<redacted>"
        } else {
            &h.value
        };
        let _ = write!(s, "{}: {v}\r\n", h.name);
    }
    s
}

/// The User-Agent of viewer `id`.
pub fn viewer_user_agent(plan: &Plan, id: u64) -> String {
    format!("{}/client-{id}", plan.user_agent)
}

/// The argument list (without the program name) for viewer `id`, its FFmpeg sending every
/// request through the proxy at `proxy` (`http://127.0.0.1:PORT`).
pub fn build_args(plan: &Plan, caps: &Capabilities, id: u64, proxy: &str) -> Vec<String> {
    build(plan, caps, id, proxy, false)
}

fn build(plan: &Plan, caps: &Capabilities, id: u64, proxy: &str, redact: bool) -> Vec<String> {
    let mut a: Vec<String> = Vec::with_capacity(40);
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    push(&["-hide_banner", "-nostdin", "-nostats"]);
    push(&["-loglevel", &loglevel_arg(plan, caps)]);
    push(&[
        "-progress",
        &format!("pipe:{PROGRESS_FD}"),
        "-stats_period",
        "1",
    ]);
    push(&["-http_proxy", proxy]);
    if plan.https() && caps.has("tls_verify") {
        push(&["-tls_verify", if plan.dangerous { "0" } else { "1" }]);
    }
    if plan.reconnect && caps.has("reconnect") {
        push(&["-reconnect", "1"]);
        if caps.has("reconnect_streamed") {
            push(&["-reconnect_streamed", "1"]);
        }
        if caps.has("reconnect_on_network_error") {
            push(&["-reconnect_on_network_error", "1"]);
        }
        if caps.has("reconnect_delay_max") {
            push(&[
                "-reconnect_delay_max",
                &RECONNECT_DELAY_MAX_SECS.to_string(),
            ]);
        }
    }
    if caps.has("rw_timeout") {
        push(&["-rw_timeout", &plan.timeout.as_micros().to_string()]);
    }
    push(&["-user_agent", &viewer_user_agent(plan, id)]);
    if !plan.headers.is_empty() {
        push(&["-headers", &headers_arg(&plan.headers, redact)]);
    }
    if caps.has("seg_max_retry") {
        push(&["-seg_max_retry", &plan.seg_retry.to_string()]);
    }
    let input = if redact {
        redact_input(&plan.input)
    } else {
        plan.input.to_string()
    };
    push(&["-i", &input]);
    match plan.map {
        MapChoice::All => push(&["-map", "0"]),
        MapChoice::Program(p) => push(&["-map", &format!("0:p:{p}")]),
        MapChoice::FfmpegDefault => {}
    }
    push(&["-c", "copy", "-f", "null", "-"]);
    a
}

/// The URL with user info and query redacted (signed URLs carry credentials there).
pub fn redact_input(u: &Url) -> String {
    let mut u = u.clone();
    if !u.username().is_empty() {
        let _ = u.set_username("REDACTED");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query().is_some() {
        u.set_query(Some("REDACTED"));
    }
    u.to_string()
}

/// Quote one word for a POSIX shell (bash `$'…'` when it holds control characters).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    if s.chars().any(|c| c.is_control()) {
        let mut o = String::from("$'");
        for c in s.chars() {
            match c {
                '\r' => o.push_str("\\r"),
                '\n' => o.push_str("\\n"),
                '\t' => o.push_str("\\t"),
                '\\' => o.push_str("\\\\"),
                '\'' => o.push_str("\\'"),
                c if c.is_control() => {
                    let _ = write!(o, "\\x{:02x}", c as u32);
                }
                c => o.push(c),
            }
        }
        o.push('\'');
        return o;
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command line as `--print-cmd` shows it: program and arguments shell-quoted, header
/// secrets and URL credentials redacted.
pub fn printable(plan: &Plan, caps: &Capabilities, id: u64, proxy: &str) -> String {
    let mut words = vec![shell_quote(&caps.binary)];
    words.extend(
        build(plan, caps, id, proxy, true)
            .iter()
            .map(|a| shell_quote(a)),
    );
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str) -> Plan {
        Plan {
            input: Url::parse(url).unwrap_or_else(|e| panic!("{e}")),
            map: MapChoice::All,
            loglevel: "warning".into(),
            user_agent: "hls-swarm/0.1.0".into(),
            headers: vec![],
            timeout: Duration::from_secs(15),
            reconnect: true,
            seg_retry: 3,
            dangerous: false,
        }
    }

    fn deb51() -> Capabilities {
        let mut c = Capabilities::full("ffmpeg", "5.1.9-0+deb12u1");
        c.options.remove("seg_max_retry");
        c.datetime_log = false;
        c
    }

    const PROXY: &str = "http://127.0.0.1:40000";

    #[test]
    fn golden_debian_51_defaults() {
        let args = build_args(&plan("http://o:17080/master.m3u8"), &deb51(), 7, PROXY);
        assert_eq!(
            args.join(" "),
            "-hide_banner -nostdin -nostats -loglevel repeat+level+warning \
             -progress pipe:3 -stats_period 1 -http_proxy http://127.0.0.1:40000 \
             -reconnect 1 -reconnect_streamed 1 -reconnect_on_network_error 1 \
             -reconnect_delay_max 5 -rw_timeout 15000000 \
             -user_agent hls-swarm/0.1.0/client-7 \
             -i http://o:17080/master.m3u8 -map 0 -c copy -f null -"
        );
    }

    #[test]
    fn golden_modern_ffmpeg_adds_datetime_and_seg_max_retry() {
        let args = build_args(
            &plan("http://o/master.m3u8"),
            &Capabilities::full("ffmpeg", "7.1"),
            0,
            PROXY,
        );
        let s = args.join(" ");
        assert!(s.contains("-loglevel repeat+level+datetime+warning"), "{s}");
        assert!(
            s.contains("-user_agent hls-swarm/0.1.0/client-0 -seg_max_retry 3 -i "),
            "{s}"
        );
    }

    #[test]
    fn golden_each_flag() {
        let caps = deb51();
        // -reconnect=false: no reconnect options at all.
        let mut p = plan("http://o/m.m3u8");
        p.reconnect = false;
        let s = build_args(&p, &caps, 1, PROXY).join(" ");
        assert!(!s.contains("reconnect"), "{s}");
        assert!(s.contains("-rw_timeout 15000000 -user_agent"), "{s}");
        // -timeout 2.5s.
        p.timeout = Duration::from_millis(2500);
        assert!(
            build_args(&p, &caps, 1, PROXY)
                .join(" ")
                .contains("-rw_timeout 2500000 ")
        );
        // -variant highest with an audio rendition: a program of the master.
        p.map = MapChoice::Program(2);
        assert!(
            build_args(&p, &caps, 1, PROXY)
                .join(" ")
                .ends_with("-i http://o/m.m3u8 -map 0:p:2 -c copy -f null -")
        );
        // Probe failure fallback: no -map.
        p.map = MapChoice::FfmpegDefault;
        assert!(
            build_args(&p, &caps, 1, PROXY)
                .join(" ")
                .ends_with("-i http://o/m.m3u8 -c copy -f null -")
        );
        // Headers (including -no-cache's) become one -headers value, CRLF-terminated.
        p.headers = vec![
            HeaderArg {
                name: "cache-control".into(),
                value: "no-cache, no-store, must-revalidate".into(),
                secret: false,
            },
            HeaderArg {
                name: "authorization".into(),
                value: "Bearer s3cr3t".into(),
                secret: true,
            },
        ];
        let args = build_args(&p, &caps, 1, PROXY);
        let i = args.iter().position(|a| a == "-headers").unwrap_or(0);
        assert_eq!(
            args[i + 1],
            "cache-control: no-cache, no-store, must-revalidate\r\nauthorization: Bearer s3cr3t\r\n"
        );
        // -stats-loglevel debug.
        p.loglevel = "debug".into();
        assert!(
            build_args(&p, &caps, 1, PROXY)
                .join(" ")
                .contains("-loglevel repeat+level+debug ")
        );
    }

    #[test]
    fn golden_identity_and_retries() {
        // -user-agent, -client-id-offset (the id), -seg-retry with a binary that has it.
        let mut p = plan("http://o/m.m3u8");
        p.user_agent = "lab-swarm/2".into();
        p.seg_retry = 7;
        let s = build_args(&p, &Capabilities::full("ffmpeg", "7.1"), 100_042, PROXY).join(" ");
        assert!(
            s.contains("-user_agent lab-swarm/2/client-100042 -seg_max_retry 7 -i http://o/m.m3u8"),
            "{s}"
        );
        // Without -seg_max_retry support the flag has no FFmpeg counterpart.
        let s = build_args(&p, &deb51(), 1, PROXY).join(" ");
        assert!(!s.contains("seg_max_retry"), "{s}");
    }

    #[test]
    fn golden_https_verifies_tls_unless_dangerous() {
        let caps = deb51();
        let mut p = plan("https://cdn.example/live/master.m3u8");
        let s = build_args(&p, &caps, 3, PROXY).join(" ");
        assert!(
            s.contains("-http_proxy http://127.0.0.1:40000 -tls_verify 1 -reconnect 1"),
            "{s}"
        );
        p.dangerous = true;
        assert!(
            build_args(&p, &caps, 3, PROXY)
                .join(" ")
                .contains("-tls_verify 0")
        );
        // Plain http never gets -tls_verify.
        assert!(
            !build_args(&plan("http://o/m.m3u8"), &caps, 3, PROXY)
                .join(" ")
                .contains("tls_verify")
        );
    }

    #[test]
    fn golden_minimal_binary_only_gets_what_it_supports() {
        let mut caps = deb51();
        for o in [
            "reconnect_streamed",
            "reconnect_on_network_error",
            "reconnect_delay_max",
            "rw_timeout",
        ] {
            caps.options.remove(o);
        }
        let s = build_args(&plan("http://o/m.m3u8"), &caps, 1, PROXY).join(" ");
        assert!(
            s.contains("-http_proxy http://127.0.0.1:40000 -reconnect 1 -user_agent"),
            "{s}"
        );
    }

    #[test]
    fn each_viewer_gets_its_own_user_agent_concurrently() {
        let p = std::sync::Arc::new(plan("http://o/m.m3u8"));
        let caps = std::sync::Arc::new(deb51());
        let handles: Vec<_> = (0..16u64)
            .map(|id| {
                let (p, caps) = (p.clone(), caps.clone());
                std::thread::spawn(move || (id, build_args(&p, &caps, id, PROXY)))
            })
            .collect();
        for h in handles {
            let (id, args) = h.join().unwrap_or_else(|_| panic!("thread"));
            let i = args.iter().position(|a| a == "-user_agent").unwrap_or(0);
            assert_eq!(args[i + 1], format!("hls-swarm/0.1.0/client-{id}"));
        }
    }

    #[test]
    fn printable_is_shell_quoted_and_redacted() {
        let mut p = plan("http://user:pw@o/live/m.m3u8?token=abc");
        p.headers = vec![
            HeaderArg {
                name: "x-test".into(),
                value: "it's".into(),
                secret: false,
            },
            HeaderArg {
                name: "authorization".into(),
                value: "Bearer s3cr3t".into(),
                secret: true,
            },
        ];
        let s = printable(&p, &deb51(), 5, PROXY);
        assert!(!s.contains("s3cr3t") && !s.contains("abc") && !s.contains(":pw@"));
        assert!(
            s.contains("-headers $'x-test: it\\'s\\r\\nauthorization: <redacted>\\r\\n'"),
            "{s}"
        );
        assert!(
            s.contains("-i 'http://REDACTED:REDACTED@o/live/m.m3u8?REDACTED'"),
            "{s}"
        );
        assert!(s.starts_with("ffmpeg -hide_banner "));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("-map"), "-map");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a\r\n"), "$'a\\r\\n'");
    }
}

//! The fault API (`hls-swarm origin --fault-api`, off by default): switch faults on and off
//! while the origin runs, from outside the process (scripts/soak.sh does).
//!
//! `/control/faults` on the origin's own listener, answered only to loopback peers:
//!
//! | Method   | Does                                                                 |
//! |----------|----------------------------------------------------------------------|
//! | `GET`    | the current faults, one flag per line (the `PUT` syntax)             |
//! | `PUT`    | replaces every fault with the body's; `400` naming each bad line     |
//! | `DELETE` | removes every fault                                                  |
//!
//! A `PUT` body holds one `--fault-*` flag per line in the command line's syntax, the
//! leading `--` optional: `fault-error=segment:503:0.05`, `fault-reset=segment:0.01`, …
//! Blank lines and `#` comments are skipped; an empty body means no faults. Error windows
//! and freezes stay relative to the origin's start, as on the command line. The counters
//! behind the seeded decisions carry on across changes.
//!
//! Parsing and answering are pure ([`parse_spec`], [`render_spec`], [`respond`]); the
//! HTTP shell is in [`super::server`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use super::cli::FaultFlags;
use super::faults::{FaultConfig, FaultControl, FaultKind};
use crate::config::{ConfigErrors, Problems};

/// The path of the fault API.
pub const PATH: &str = "/control/faults";
/// Largest `PUT` body accepted (bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// Whether the fault API answers a client at `peer`: loopback only (IPv4, IPv6 and an
/// IPv4-mapped `::ffff:127.0.0.1`), whatever address the origin listens on.
pub fn allowed_peer(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// What a control request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlRequest {
    /// Show the current faults.
    Get,
    /// Replace them with these.
    Put(Box<FaultConfig>),
    /// Remove every fault.
    Delete,
}

/// A control answer: HTTP status and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlReply {
    /// HTTP status code.
    pub status: u16,
    /// Plain-text body (ends with a newline).
    pub body: String,
}

impl ControlReply {
    fn new(status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Self { status, body }
    }
}

/// Parses a control request from its method and body (`body` is ignored except for
/// `PUT`). `Err` is the answer to give instead: 405 for another method, 400 for a bad
/// body, 413 for an oversized one.
pub fn parse_request(method: &str, body: &[u8]) -> Result<ControlRequest, ControlReply> {
    match method {
        "GET" | "HEAD" => Ok(ControlRequest::Get),
        "DELETE" => Ok(ControlRequest::Delete),
        "PUT" => {
            if body.len() > MAX_BODY {
                return Err(ControlReply::new(
                    413,
                    format!("fault specification larger than {MAX_BODY} bytes"),
                ));
            }
            let text = std::str::from_utf8(body)
                .map_err(|_| ControlReply::new(400, "fault specification is not UTF-8"))?;
            parse_spec(text)
                .map(|c| ControlRequest::Put(Box::new(c)))
                .map_err(|errs| ControlReply::new(400, errs.join("\n")))
        }
        _ => Err(ControlReply::new(
            405,
            format!("{PATH} takes GET, PUT or DELETE"),
        )),
    }
}

/// Carries out `req` on `faults` and says what to answer.
pub fn respond(req: ControlRequest, faults: &FaultControl) -> ControlReply {
    match req {
        ControlRequest::Get => ControlReply::new(200, render_spec(&faults.snapshot())),
        ControlRequest::Put(cfg) => {
            faults.set(*cfg);
            ControlReply::new(200, render_spec(&faults.snapshot()))
        }
        ControlRequest::Delete => {
            faults.clear();
            ControlReply::new(200, "# no faults")
        }
    }
}

/// Parses a fault specification (one `--fault-*` flag per line, see the module docs)
/// into a configuration, or returns every problem, each naming its line and flag.
pub fn parse_spec(text: &str) -> Result<FaultConfig, ConfigErrors> {
    let mut flags = FaultFlags::default();
    let mut p = Problems::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let no = i + 1;
        let Some((name, value)) = line.split_once('=') else {
            p.push(format!(
                "line {no}: {line:?}: expected FLAG=VALUE, e.g. fault-error=segment:503:0.05"
            ));
            continue;
        };
        let name = name.trim();
        let value = value.trim().to_owned();
        let once = |slot: &mut Option<String>, p: &mut Problems| {
            if slot.is_some() {
                p.push(format!(
                    "line {no}: --{flag} given twice",
                    flag = flag(name)
                ));
            } else {
                *slot = Some(value.clone());
            }
        };
        match flag(name) {
            "fault-delay" => flags.delay.push(value),
            "fault-body-rate" => once(&mut flags.body_rate, &mut p),
            "fault-error" => flags.error.push(value),
            "fault-error-window" => flags.error_window.push(value),
            "fault-reset" => flags.reset.push(value),
            "fault-freeze" => once(&mut flags.freeze, &mut p),
            "fault-part-late" => once(&mut flags.part_late, &mut p),
            "fault-part-stuck" => once(&mut flags.part_stuck, &mut p),
            "fault-no-block" => once(&mut flags.no_block, &mut p),
            _ => p.push(format!(
                "line {no}: unknown flag {name:?}; expected one of fault-delay, \
                 fault-body-rate, fault-error, fault-error-window, fault-reset, fault-freeze, \
                 fault-part-late, fault-part-stuck, fault-no-block"
            )),
        }
    }
    let cfg = p.absorb(flags.to_config());
    p.finish(cfg.unwrap_or_default())
}

/// A flag name without its leading `--`.
fn flag(name: &str) -> &str {
    name.strip_prefix("--").unwrap_or(name)
}

/// Renders `cfg` in the [`parse_spec`] syntax: `parse_spec(&render_spec(c)) == Ok(c)` for
/// every configuration [`parse_spec`] can produce. No faults renders as a comment line.
pub fn render_spec(cfg: &FaultConfig) -> String {
    let mut out = String::new();
    for kind in FaultKind::ALL {
        let d = *cfg.delay.get(kind);
        if !d.is_zero() {
            let _ = writeln!(out, "fault-delay={}={}", kind.name(), dur(d));
        }
    }
    if let Some(r) = cfg.segment_body_rate {
        let _ = writeln!(out, "fault-body-rate={r}");
    }
    for kind in FaultKind::ALL {
        if let Some(e) = cfg.error.get(kind) {
            let _ = writeln!(
                out,
                "fault-error={}:{}:{}",
                kind.name(),
                e.status,
                e.probability
            );
        }
    }
    for w in &cfg.error_windows {
        let _ = writeln!(
            out,
            "fault-error-window={}:{}:{}+{}",
            w.kind.name(),
            w.status,
            dur(w.from),
            dur(w.duration)
        );
    }
    for kind in FaultKind::ALL {
        let p = *cfg.reset.get(kind);
        if p != 0.0 {
            let _ = writeln!(out, "fault-reset={}:{p}", kind.name());
        }
    }
    if let Some(f) = cfg.freeze {
        let _ = writeln!(out, "fault-freeze={}+{}", dur(f.from), dur(f.duration));
    }
    if let Some(l) = cfg.late_parts {
        let _ = writeln!(
            out,
            "fault-part-late={}+{}:{}",
            dur(l.from),
            dur(l.duration),
            dur(l.late)
        );
    }
    if let Some(f) = cfg.stuck_parts {
        let _ = writeln!(out, "fault-part-stuck={}+{}", dur(f.from), dur(f.duration));
    }
    if let Some(f) = cfg.no_block {
        let _ = writeln!(out, "fault-no-block={}+{}", dur(f.from), dur(f.duration));
    }
    if out.is_empty() {
        out.push_str("# no faults\n");
    }
    out
}

/// A duration exactly as `humantime` parses it back (`1s 500ms`, `0s`).
fn dur(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::faults::{ErrorRate, ErrorWindow, Freeze, PerKind};

    fn full() -> FaultConfig {
        FaultConfig {
            delay: PerKind {
                master: Duration::from_millis(1500),
                segment: Duration::from_nanos(1_000_000_007),
                ..Default::default()
            },
            segment_body_rate: Some(50_000),
            error: PerKind {
                segment: Some(ErrorRate {
                    status: 503,
                    probability: 0.05,
                }),
                ..Default::default()
            },
            error_windows: vec![ErrorWindow {
                kind: FaultKind::Playlist,
                status: 404,
                from: Duration::from_secs(30),
                duration: Duration::from_secs(3600 * 25),
            }],
            reset: PerKind {
                segment: 0.01,
                ..Default::default()
            },
            freeze: Some(Freeze {
                from: Duration::from_secs(20),
                duration: Duration::from_secs(8),
            }),
            late_parts: Some(crate::origin::LateParts {
                from: Duration::from_secs(10),
                duration: Duration::from_secs(5),
                late: Duration::from_millis(300),
            }),
            stuck_parts: Some(Freeze {
                from: Duration::from_secs(40),
                duration: Duration::from_secs(9),
            }),
            no_block: Some(Freeze {
                from: Duration::ZERO,
                duration: Duration::from_secs(3600),
            }),
        }
    }

    #[test]
    fn spec_round_trips() {
        let c = full();
        let text = render_spec(&c);
        assert_eq!(parse_spec(&text), Ok(c), "{text}");
        assert_eq!(render_spec(&FaultConfig::default()), "# no faults\n");
        assert_eq!(parse_spec("# no faults\n"), Ok(FaultConfig::default()));
    }

    #[test]
    fn spec_takes_the_flag_syntax() {
        let c = parse_spec(
            "# soak: errors and resets\n\n--fault-error=all:503:0.25\r\n  fault-reset = segment:0.5\n\
             fault-error-window=playlist:404:30s+10s\nfault-error-window=master:500:1m+1s\n",
        )
        .unwrap();
        for k in FaultKind::ALL {
            assert_eq!(c.error.get(k).unwrap().status, 503);
        }
        assert_eq!(c.reset.segment, 0.5);
        assert_eq!(c.error_windows.len(), 2);
        assert_eq!(c.error_windows[1].from, Duration::from_secs(60));
    }

    #[test]
    fn spec_errors_name_line_and_flag() {
        let errs = parse_spec(
            "fault-errors=segment:503:0.1\nnonsense\nfault-freeze=1s+1s\nfault-freeze=2s+1s\n\
             fault-reset=segment:2\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(
            errs[0].starts_with("line 1: unknown flag \"fault-errors\""),
            "{errs:?}"
        );
        assert!(errs[1].starts_with("line 2: \"nonsense\": expected FLAG=VALUE"));
        assert!(errs[2].starts_with("line 4: --fault-freeze given twice"));
        assert!(
            errs[3].starts_with("--fault-reset \"segment:2\""),
            "{errs:?}"
        );
    }

    #[test]
    fn only_loopback_peers() {
        for (peer, ok) in [
            ("127.0.0.1:5", true),
            ("127.8.9.1:5", true),
            ("[::1]:5", true),
            ("[::ffff:127.0.0.1]:5", true),
            ("10.0.0.1:5", false),
            ("[::ffff:10.0.0.1]:5", false),
            ("[2001:db8::1]:5", false),
            ("0.0.0.0:5", false),
        ] {
            assert_eq!(allowed_peer(peer.parse().unwrap()), ok, "{peer}");
        }
    }

    #[test]
    fn requests_and_answers() {
        let fc = FaultControl::new(1, FaultConfig::default());
        let put = parse_request("PUT", b"fault-error=segment:503:1\n").unwrap();
        let r = respond(put, &fc);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "fault-error=segment:503:1\n");
        assert_eq!(
            fc.decide(FaultKind::Segment, Duration::ZERO).error,
            Some(503)
        );
        assert_eq!(
            respond(parse_request("GET", b"ignored").unwrap(), &fc).body,
            "fault-error=segment:503:1\n"
        );
        let r = respond(parse_request("DELETE", b"").unwrap(), &fc);
        assert_eq!((r.status, r.body.as_str()), (200, "# no faults\n"));
        assert_eq!(fc.snapshot(), FaultConfig::default());

        assert_eq!(parse_request("POST", b"").unwrap_err().status, 405);
        assert_eq!(parse_request("PUT", b"\xff").unwrap_err().status, 400);
        let bad = parse_request("PUT", b"fault-reset=segment:x").unwrap_err();
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("--fault-reset"), "{}", bad.body);
        let big = vec![b'#'; MAX_BODY + 1];
        assert_eq!(parse_request("PUT", &big).unwrap_err().status, 413);
        // A rejected PUT changes nothing.
        fc.set_reset(FaultKind::Segment, 0.5);
        let _ = parse_request("PUT", b"fault-reset=segment:x");
        assert_eq!(fc.snapshot().reset.segment, 0.5);
    }
}

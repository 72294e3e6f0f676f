//! Validation of the `hls-swarm origin` flags (defined with every other flag in
//! [`crate::config::cli`]; all errors at once, by the convention of
//! [`crate::config::problems`], values read by [`crate::config::parse`]) and the command
//! itself.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use super::faults::{ErrorRate, ErrorWindow, FaultConfig, FaultKind, Freeze, LateParts};
use super::{OriginConfig, asset, check_variants, check_window};
pub use crate::config::cli::OriginArgs;
use crate::config::parse;
use crate::config::{ConfigErrors, Problems};

const KINDS: &str = "master|playlist|segment|part|blocking|all";

impl OriginArgs {
    /// Validates every flag and builds the configuration, or returns all problems found.
    pub fn to_config(&self) -> Result<OriginConfig, ConfigErrors> {
        let mut p = Problems::new();
        let mut cfg = OriginConfig::default();
        let mut err =
            |flag: &str, value: &str, msg: String| p.push(format!("--{flag} {value:?}: {msg}"));

        match self.listen.parse::<SocketAddr>() {
            Ok(a) => cfg.listen = a,
            Err(_) => err(
                "listen",
                &self.listen,
                "expected IP:PORT, e.g. 127.0.0.1:17080 or [::1]:17080".into(),
            ),
        }
        match parse_list(&self.variants) {
            Ok(v) => match check_variants(&v) {
                Ok(()) => cfg.variants_bps = v,
                Err(e) => err("variants", &self.variants, e),
            },
            Err(e) => err(
                "variants",
                &self.variants,
                format!("{e}; expected a comma list like 200k,800k,2M"),
            ),
        }
        match parse_duration(&self.segment_duration)
            .and_then(|d| asset::whole_seconds(d).map(|_| d))
        {
            Ok(d) => cfg.segment_duration = d,
            Err(e) => err(
                "segment-duration",
                &self.segment_duration,
                format!("{e}; expected e.g. 2s"),
            ),
        }
        match self.window.parse::<usize>() {
            Ok(w) => match check_window(w) {
                Ok(()) => cfg.window = w,
                Err(e) => err("window", &self.window, e),
            },
            Err(_) => err(
                "window",
                &self.window,
                "expected a whole number of segments, e.g. 10".into(),
            ),
        }
        match self.seed.parse::<u64>() {
            Ok(s) => cfg.seed = s,
            Err(_) => err(
                "seed",
                &self.seed,
                "expected an unsigned integer, e.g. 42".into(),
            ),
        }
        if let Some(v) = &self.part_duration {
            match parse_duration(v) {
                Ok(d) => cfg.part_duration = Some(d),
                Err(e) => err("part-duration", v, format!("{e}; expected e.g. 200ms")),
            }
        }
        if let Some(part) = cfg.part_duration
            && let Err(e) = super::check_part_duration(part, cfg.segment_duration)
        {
            err(
                "part-duration",
                self.part_duration.as_deref().unwrap_or(""),
                e,
            );
        }
        if cfg.part_duration.is_some() && self.audio_rendition {
            err(
                "part-duration",
                self.part_duration.as_deref().unwrap_or(""),
                "LL-HLS parts are not offered with --audio-rendition (the audio-only \
                 stream has no frame every part duration); expected one of the two"
                    .into(),
            );
        }
        cfg.audio_rendition = self.audio_rendition;
        cfg.access_log = self.access_log.clone();
        cfg.fault_api = self.fault_api;
        match self.channels.trim().parse::<u32>() {
            Ok(n) if (1..=super::MAX_CHANNELS).contains(&n) => cfg.channels = n,
            _ => err(
                "channels",
                &self.channels,
                format!(
                    "expected a whole number of channels from 1 to {}",
                    super::MAX_CHANNELS
                ),
            ),
        }

        let fault_flags = FaultFlags {
            delay: self.fault_delay.clone(),
            body_rate: self.fault_body_rate.clone(),
            error: self.fault_error.clone(),
            error_window: self.fault_error_window.clone(),
            reset: self.fault_reset.clone(),
            freeze: self.fault_freeze.clone(),
            part_late: self.fault_part_late.clone(),
            part_stuck: self.fault_part_stuck.clone(),
            no_block: self.fault_no_block.clone(),
        };
        if let Some(f) = p.absorb(fault_flags.to_config()) {
            cfg.faults = f;
        }
        p.finish(cfg)
    }
}

/// The values of the `--fault-*` flags as given (also the lines of a `PUT /control/faults`
/// body, see [`super::control`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultFlags {
    /// `--fault-delay` values (`KIND=DUR`).
    pub delay: Vec<String>,
    /// `--fault-body-rate` value (`BYTES_PER_S`).
    pub body_rate: Option<String>,
    /// `--fault-error` values (`KIND:STATUS:PROB`).
    pub error: Vec<String>,
    /// `--fault-error-window` values (`KIND:STATUS:FROM+DUR`).
    pub error_window: Vec<String>,
    /// `--fault-reset` values (`KIND:PROB`).
    pub reset: Vec<String>,
    /// `--fault-freeze` value (`FROM+DUR`).
    pub freeze: Option<String>,
    /// `--fault-part-late` value (`FROM+DUR:LATE`).
    pub part_late: Option<String>,
    /// `--fault-part-stuck` value (`FROM+DUR`).
    pub part_stuck: Option<String>,
    /// `--fault-no-block` value (`FROM+DUR`).
    pub no_block: Option<String>,
}

impl FaultFlags {
    /// Validates every value and builds the fault configuration, or returns all problems
    /// found, each naming its flag.
    pub fn to_config(&self) -> Result<FaultConfig, ConfigErrors> {
        let mut p = Problems::new();
        let mut err =
            |flag: &str, value: &str, msg: String| p.push(format!("--{flag} {value:?}: {msg}"));
        let mut cfg = FaultConfig::default();
        let f = &mut cfg;
        for v in &self.delay {
            match v
                .split_once('=')
                .ok_or_else(String::new)
                .and_then(|(k, d)| Ok((kinds(k)?, parse_duration(d)?)))
            {
                Ok((ks, d)) => ks.iter().for_each(|k| *f.delay.get_mut(*k) = d),
                Err(e) => err(
                    "fault-delay",
                    v,
                    with_syntax(e, "KIND=DUR, e.g. segment=200ms"),
                ),
            }
        }
        if let Some(v) = &self.body_rate {
            match parse::si_count(v) {
                Ok(r) if r > 0 => f.segment_body_rate = Some(r),
                Ok(_) => err(
                    "fault-body-rate",
                    v,
                    "must be > 0; expected BYTES_PER_S, e.g. 50k".into(),
                ),
                Err(e) => err(
                    "fault-body-rate",
                    v,
                    format!("{e}; expected BYTES_PER_S, e.g. 50k"),
                ),
            }
        }
        for v in &self.error {
            let parsed = match v.split(':').collect::<Vec<_>>()[..] {
                [k, s, p] => (|| Ok((kinds(k)?, parse_status(s)?, parse_prob(p)?)))(),
                _ => Err(String::new()),
            };
            match parsed {
                Ok((ks, status, probability)) => ks.iter().for_each(|k| {
                    *f.error.get_mut(*k) = Some(ErrorRate {
                        status,
                        probability,
                    })
                }),
                Err(e) => err(
                    "fault-error",
                    v,
                    with_syntax(e, "KIND:STATUS:PROB, e.g. segment:503:0.05"),
                ),
            }
        }
        for v in &self.error_window {
            let parsed = match v.split(':').collect::<Vec<_>>()[..] {
                [k, s, w] => (|| Ok((kinds(k)?, parse_status(s)?, parse_window(w)?)))(),
                _ => Err(String::new()),
            };
            match parsed {
                Ok((ks, status, (from, duration))) => ks.iter().for_each(|&kind| {
                    f.error_windows.push(ErrorWindow {
                        kind,
                        status,
                        from,
                        duration,
                    })
                }),
                Err(e) => err(
                    "fault-error-window",
                    v,
                    with_syntax(e, "KIND:STATUS:FROM+DUR, e.g. playlist:503:30s+10s"),
                ),
            }
        }
        for v in &self.reset {
            let parsed = v
                .split_once(':')
                .ok_or_else(String::new)
                .and_then(|(k, p)| Ok((kinds(k)?, parse_prob(p)?)));
            match parsed {
                Ok((ks, p)) => ks.iter().for_each(|k| *f.reset.get_mut(*k) = p),
                Err(e) => err(
                    "fault-reset",
                    v,
                    with_syntax(e, "KIND:PROB, e.g. segment:0.01"),
                ),
            }
        }
        if let Some(v) = &self.freeze {
            match parse_window(v) {
                Ok((from, duration)) => f.freeze = Some(Freeze { from, duration }),
                Err(e) => err("fault-freeze", v, with_syntax(e, "FROM+DUR, e.g. 20s+8s")),
            }
        }
        if let Some(v) = &self.part_late {
            let parsed = v
                .rsplit_once(':')
                .ok_or_else(String::new)
                .and_then(|(w, l)| Ok((parse_window(w)?, parse_duration(l)?)));
            match parsed {
                Ok(((from, duration), late)) => {
                    f.late_parts = Some(LateParts {
                        from,
                        duration,
                        late,
                    })
                }
                Err(e) => err(
                    "fault-part-late",
                    v,
                    with_syntax(e, "FROM+DUR:LATE, e.g. 10s+5s:300ms"),
                ),
            }
        }
        if let Some(v) = &self.part_stuck {
            match parse_window(v) {
                Ok((from, duration)) => f.stuck_parts = Some(Freeze { from, duration }),
                Err(e) => err(
                    "fault-part-stuck",
                    v,
                    with_syntax(e, "FROM+DUR, e.g. 20s+8s"),
                ),
            }
        }
        if let Some(v) = &self.no_block {
            match parse_window(v) {
                Ok((from, duration)) => f.no_block = Some(Freeze { from, duration }),
                Err(e) => err("fault-no-block", v, with_syntax(e, "FROM+DUR, e.g. 0s+1h")),
            }
        }
        p.finish(cfg)
    }
}

/// Starts the origin, prints its master URL on stdout and serves until SIGINT/SIGTERM.
pub async fn run_cli(args: OriginArgs) -> anyhow::Result<()> {
    let cfg = args
        .to_config()
        .map_err(|errs| anyhow::anyhow!("invalid origin flags:\n  {}", errs.join("\n  ")))?;
    let channels = cfg.channels;
    let handle = super::start(cfg).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handle.master_url())?;
        out.flush()?;
    }
    if channels > 1 {
        crate::console::say!(
            "hls-swarm origin: {channels} channels at {} (c = 0..{})",
            handle.channel_url(0).replace("/ch0/", "/ch{c}/"),
            channels - 1
        );
    }
    let waited = wait_for_signal().await;
    handle.shutdown().await;
    waited.map_err(|e| anyhow::anyhow!("cannot wait for SIGINT/SIGTERM: {e}"))
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

fn with_syntax(e: String, syntax: &str) -> String {
    if e.is_empty() {
        format!("expected {syntax}")
    } else {
        format!("{e}; expected {syntax}")
    }
}

/// `master|playlist|segment|all` → kinds.
fn kinds(s: &str) -> Result<Vec<FaultKind>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "all" => Ok(FaultKind::ALL.to_vec()),
        "master" => Ok(vec![FaultKind::Master]),
        "playlist" => Ok(vec![FaultKind::Playlist]),
        "segment" => Ok(vec![FaultKind::Segment]),
        "part" => Ok(vec![FaultKind::Part]),
        "blocking" => Ok(vec![FaultKind::Blocking]),
        _ => Err(format!("unknown kind {s:?} (KIND = {KINDS})")),
    }
}

/// A duration in the grammar every flag shares ([`parse::duration`]).
fn parse_duration(s: &str) -> Result<Duration, String> {
    parse::duration(s).map_err(|e| format!("bad duration {s:?} ({e})"))
}

/// `FROM+DUR` → (from, duration).
fn parse_window(s: &str) -> Result<(Duration, Duration), String> {
    let (a, b) = s.split_once('+').ok_or_else(String::new)?;
    Ok((parse_duration(a)?, parse_duration(b)?))
}

fn parse_status(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(v) if (400..=599).contains(&v) => Ok(v),
        _ => Err(format!("status {s:?} is not in 400–599")),
    }
}

fn parse_prob(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("probability {s:?} is not in 0–1")),
    }
}

fn parse_list(s: &str) -> Result<Vec<u64>, String> {
    s.split(',').map(parse::si_count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::FaultConfig;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cmd {
        #[command(flatten)]
        args: OriginArgs,
    }

    fn args(flags: &[&str]) -> OriginArgs {
        let mut v = vec!["origin"];
        v.extend_from_slice(flags);
        Cmd::try_parse_from(v).expect("clap accepts flags").args
    }

    #[test]
    fn defaults_match_spec() {
        let c = args(&[]).to_config().unwrap();
        assert_eq!(c.listen, "127.0.0.1:17080".parse().unwrap());
        assert_eq!(c.variants_bps, vec![200_000, 800_000, 2_000_000]);
        assert_eq!(c.segment_duration, Duration::from_secs(2));
        assert_eq!(c.window, 10);
        assert_eq!(c.seed, 1);
        assert!(!c.audio_rendition);
        assert_eq!(c.faults, FaultConfig::default());
    }

    #[test]
    fn parses_all_fault_flags() {
        let c = args(&[
            "--variants=1.5M,300k,64000",
            "--segment-duration=1s",
            "--window=5",
            "--seed=9",
            "--audio-rendition",
            "--fault-delay",
            "segment=150ms",
            "--fault-delay=master=1s",
            "--fault-body-rate=50k",
            "--fault-error=all:503:0.25",
            "--fault-error-window=playlist:404:30s+10s",
            "--fault-reset=segment:0.1",
            "--fault-freeze=20s+8s",
        ])
        .to_config()
        .unwrap();
        assert_eq!(c.variants_bps, vec![1_500_000, 300_000, 64_000]);
        assert_eq!(
            (c.segment_duration, c.window, c.seed),
            (Duration::from_secs(1), 5, 9)
        );
        assert!(c.audio_rendition);
        let f = &c.faults;
        assert_eq!(f.delay.segment, Duration::from_millis(150));
        assert_eq!(f.delay.master, Duration::from_secs(1));
        assert_eq!(f.delay.playlist, Duration::ZERO);
        assert_eq!(f.segment_body_rate, Some(50_000));
        for k in FaultKind::ALL {
            assert_eq!(f.error.get(k).unwrap().status, 503);
        }
        assert_eq!(f.error_windows.len(), 1);
        assert_eq!(f.error_windows[0].from, Duration::from_secs(30));
        assert_eq!(f.reset.segment, 0.1);
        assert_eq!(f.freeze.unwrap().duration, Duration::from_secs(8));
    }

    #[test]
    fn ll_hls_flags() {
        let c = args(&[
            "--segment-duration=2s",
            "--part-duration=200ms",
            "--fault-part-late=10s+5s:300ms",
            "--fault-part-stuck=1m+8s",
            "--fault-no-block=30s+1h",
            "--fault-error=blocking:503:0.5",
            "--fault-delay=part=50ms",
        ])
        .to_config()
        .unwrap();
        assert_eq!(c.part_duration, Some(Duration::from_millis(200)));
        let l = c.faults.late_parts.unwrap();
        assert_eq!(
            (l.from, l.duration, l.late),
            (
                Duration::from_secs(10),
                Duration::from_secs(5),
                Duration::from_millis(300)
            )
        );
        assert_eq!(c.faults.stuck_parts.unwrap().from, Duration::from_secs(60));
        let n = c.faults.no_block.unwrap();
        assert_eq!(
            (n.from, n.duration),
            (Duration::from_secs(30), Duration::from_secs(3600))
        );
        assert_eq!(c.faults.error.blocking.unwrap().status, 503);
        assert_eq!(c.faults.delay.part, Duration::from_millis(50));
        assert_eq!(args(&[]).to_config().unwrap().part_duration, None);
        for bad in [
            vec!["--part-duration=150ms"],
            vec!["--part-duration=300ms"],
            vec!["--part-duration=3s"],
            vec!["--part-duration=0s"],
            vec!["--part-duration=soon"],
            vec!["--part-duration=200ms", "--audio-rendition"],
        ] {
            let errs = args(&bad).to_config().unwrap_err();
            assert_eq!(errs.len(), 1, "{bad:?}: {errs:?}");
            assert!(errs[0].starts_with("--part-duration"), "{errs:?}");
            assert!(
                errs[0].contains("expected")
                    || errs[0].contains("multiple")
                    || errs[0].contains("divide"),
                "{errs:?}"
            );
        }
        let errs = args(&[
            "--fault-part-late=10s+5s",
            "--fault-part-stuck=5s",
            "--fault-no-block=always",
        ])
        .to_config()
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("--fault-part-late") && errs[0].contains("FROM+DUR:LATE"));
        assert!(errs[1].starts_with("--fault-part-stuck"));
        assert!(errs[2].starts_with("--fault-no-block") && errs[2].contains("FROM+DUR"));
    }

    #[test]
    fn reports_every_error_at_once() {
        let errs = args(&[
            "--listen=nowhere",
            "--variants=200k,fast",
            "--segment-duration=1500ms",
            "--window=0",
            "--seed=-1",
            "--fault-delay=segments=1s",
            "--fault-body-rate=0",
            "--fault-error=segment:200:0.5",
            "--fault-error-window=segment:503:10s",
            "--fault-reset=segment:2",
            "--fault-freeze=soon",
        ])
        .to_config()
        .unwrap_err();
        let flags = [
            "--listen",
            "--variants",
            "--segment-duration",
            "--window",
            "--seed",
            "--fault-delay",
            "--fault-body-rate",
            "--fault-error ",
            "--fault-error-window",
            "--fault-reset",
            "--fault-freeze",
        ];
        assert_eq!(errs.len(), flags.len(), "{errs:#?}");
        for (e, f) in errs.iter().zip(flags) {
            assert!(e.starts_with(f), "{e} should name {f}");
            assert!(
                e.contains("expected") || e.contains("outside"),
                "{e} should show the syntax"
            );
        }
    }

    #[test]
    fn durations_take_the_grammar_every_flag_shares() {
        let c = args(&[
            "--segment-duration=2000ms",
            "--fault-delay=segment=.25s",
            "--fault-delay=master=1min 30s",
            "--fault-freeze=1h30m+1.5s",
        ])
        .to_config()
        .unwrap();
        assert_eq!(c.segment_duration, Duration::from_secs(2));
        assert_eq!(c.faults.delay.segment, Duration::from_millis(250));
        assert_eq!(c.faults.delay.master, Duration::from_secs(90));
        let f = c.faults.freeze.unwrap();
        assert_eq!(
            (f.from, f.duration),
            (Duration::from_secs(5400), Duration::from_millis(1500))
        );
        let errs = args(&["--fault-delay=segment=5", "--fault-freeze=-1s+1s"])
            .to_config()
            .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].contains("no unit"), "{errs:?}");
    }

    #[test]
    fn odd_inputs_never_panic() {
        for v in ["", ",", "k", "-1", "1e400", "NaN", "∞", "1.5k5", "0.0001"] {
            let _ = parse::si_count(v);
            let mut a = args(&[]);
            a.variants = v.into();
            a.fault_error = vec![v.into()];
            a.fault_freeze = Some(v.into());
            assert!(a.to_config().is_err(), "{v:?}");
        }
    }
}

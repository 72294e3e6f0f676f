//! The FFmpeg engine's part of `--check` (binary found, version, options, one FFmpeg
//! playing the stream for 5 s through the measuring proxy) and `--print-cmd`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::caps::{self, Capabilities};
use super::supervisor::{KillReason, run_process};
use super::{FfmpegEngine, choose, command, plan_for, probe_binary};
use crate::config::{Config, StreamSource};
use crate::engine::http::HttpSettings;
use crate::engine::{EngineInputs, Viewer};
use crate::stats::accumulator::Accumulator;
use crate::stats::event::RequestKind;
use crate::stats::gauges::LiveGauges;
use crate::stats::hub::StatsHub;
use crate::verdict::Check;

/// How long the check plays the stream.
pub const PLAY_FOR: Duration = Duration::from_secs(5);

/// Options used when present; their absence is reported but not a failure.
const OPTIONAL: [(&str, &str); 3] = [
    (
        "seg_max_retry",
        "-seg-retry is not passed (FFmpeg does not retry segments)",
    ),
    ("rw_timeout", "-timeout is not passed to FFmpeg"),
    (
        "reconnect_on_network_error",
        "FFmpeg does not reconnect after network errors",
    ),
];

fn check(name: &str, ok: bool, detail: String, fix: Option<&str>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail,
        fix: fix.map(str::to_string),
    }
}

/// The option check of a probed binary.
pub fn options_check(c: &Capabilities) -> Check {
    let missing = c.missing_required();
    if !missing.is_empty() {
        return check(
            "ffmpeg options",
            false,
            format!("missing -{}", missing.join(", -")),
            Some("install a full FFmpeg build (Debian's `ffmpeg` package has everything needed)"),
        );
    }
    let mut notes: Vec<&str> = OPTIONAL
        .iter()
        .filter(|(o, _)| !c.has(o))
        .map(|(_, note)| *note)
        .collect();
    if !c.datetime_log {
        notes.push("no datetime log flag (FFmpeg log lines carry no timestamp)");
    }
    let detail = if notes.is_empty() {
        "every option used is supported".to_string()
    } else {
        format!("required options supported; {}", notes.join("; "))
    };
    check("ffmpeg options", true, detail, None)
}

/// The engine's checks for `--check`.
pub async fn checks(cfg: &Config, url: &Url, settings: Arc<HttpSettings>) -> Vec<Check> {
    let mut out = Vec::new();
    let caps = match caps::probe(&cfg.engine.ffmpeg.binary).await {
        Ok(c) => c,
        Err(e) => {
            out.push(check(
                "ffmpeg",
                false,
                e.to_string(),
                Some("install FFmpeg (`apt-get install ffmpeg`) or give its path with -ffmpeg"),
            ));
            return out;
        }
    };
    out.push(check(
        "ffmpeg",
        true,
        format!("{} version {}", caps.binary, caps.version),
        None,
    ));
    let opts = options_check(&caps);
    let opts_ok = opts.ok;
    out.push(opts);
    if opts_ok {
        out.push(play_check(cfg, url, settings).await);
    }
    out
}

/// Play the stream with one FFmpeg for [`PLAY_FOR`] through the measuring proxy.
async fn play_check(cfg: &Config, url: &Url, settings: Arc<HttpSettings>) -> Check {
    const NAME: &str = "ffmpeg plays";
    let mut hub = StatsHub::start(1, 4096);
    let gauges = Arc::new(LiveGauges::default());
    let engine = match FfmpegEngine::start(EngineInputs {
        cfg,
        url,
        urls: std::slice::from_ref(url),
        settings,
        sinks: vec![hub.sink(0)],
        gauges: gauges.clone(),
        counters: hub.counters(),
    })
    .await
    {
        Ok(e) => e,
        Err(e) => {
            return check(
                NAME,
                false,
                format!("{e:#}"),
                Some(
                    "see the message; `hls-swarm --check URL` without -engine ffmpeg checks the stream itself",
                ),
            );
        }
    };
    let cancel = CancellationToken::new();
    let viewer = Viewer {
        id: cfg.audience.first_viewer_id,
        user_agent: cfg.http.viewer_user_agent(cfg.audience.first_viewer_id),
        sink: hub.sink(0),
        gauges,
        cancel: cancel.clone(),
        startup_timeout: cfg.stalls.startup_timeout,
        stream: 0,
    };
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PLAY_FOR).await;
            cancel.cancel();
        })
    };
    let end = run_process(&engine, &viewer).await;
    stopper.abort();
    engine.stop(Duration::from_secs(1)).await;
    drop(viewer);
    hub.close(Duration::from_secs(1)).await;
    let mut acc = Accumulator::default();
    hub.drain_into(&mut acc);
    let segments = acc.kind(RequestKind::Segment);
    let errors = acc.total_errors();
    let approx = engine.recipe.plan.https();
    let figures = format!(
        "{} requests ({} segments, {} errors){}, output {:.1} s",
        acc.total_requests(),
        segments.count,
        errors,
        if approx { " [approximate: https]" } else { "" },
        acc.played.as_secs_f64()
    );
    if end.killed == Some(KillReason::Shutdown) && !acc.startup.is_empty() && segments.count > 0 {
        let startup = acc.startup.max() as f64 / 1e6;
        check(
            NAME,
            true,
            format!(
                "{} s through the measuring proxy: startup {startup:.2} s, {figures}",
                PLAY_FOR.as_secs()
            ),
            None,
        )
    } else {
        let how = match end.exit {
            Some(e) if end.killed.is_none() => format!(
                "FFmpeg exited ({e}) after {:.1} s",
                end.uptime.as_secs_f64()
            ),
            Some(_) => "FFmpeg ran but played nothing".to_string(),
            None => "FFmpeg could not be started".to_string(),
        };
        let last: Vec<&str> = end.ring.lines().collect();
        check(
            NAME,
            false,
            format!(
                "{how}; {figures}{}",
                if last.is_empty() {
                    String::new()
                } else {
                    format!("; stderr: {}", last.join(" | "))
                }
            ),
            Some(super::crashloop::hint(&last)),
        )
    }
}

/// `--print-cmd`: the exact command of the first viewer, shell-quoted, secrets redacted.
pub async fn print_cmd(cfg: &Config) -> Result<String> {
    let StreamSource::Url(url) = &cfg.stream.source else {
        anyhow::bail!(
            "--print-cmd needs the stream URL: FFmpeg's input and -map depend on its playlists"
        );
    };
    let caps = probe_binary(cfg).await?;
    let settings = HttpSettings::for_run(cfg, url);
    let choice = choose(cfg, url, settings, None).await?;
    let plan = plan_for(cfg, &choice);
    let id = cfg.audience.first_viewer_id;
    Ok(format!(
        "# FFmpeg {} command of viewer {id}; viewer N differs only in /client-N.\n\
         # PORT: the swarm's measuring proxy listens on a free loopback port chosen at start.\n\
         {}\n",
        caps.version,
        command::printable(&plan, &caps, id, "http://127.0.0.1:PORT")
    ))
}

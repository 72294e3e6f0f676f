//! Built-in live HLS test origin with fault injection — the swarm's default target and
//! the ground truth of the truth tests.
//!
//! * Media: one embedded pre-encoded GOP (see [`asset`]) re-stamped into segment N
//!   ([`ts`]): PTS/DTS/PCR + N×D, continuity counters continued per PID, padded with
//!   null packets to the variant bitrate. Built once per (track, N), shared as `Bytes`.
//! * Timeline ([`timeline`]): epoch = start − W×D; live edge `L(t) = W + ⌊t/D⌋`; the
//!   playlist lists N ∈ [L−W, L−1]; segments stay downloadable W+1 durations after leaving.
//! * URLs ([`routes`]): `/master.m3u8`, `/v{i}/playlist.m3u8`, `/v{i}/seg{N}.ts`,
//!   `/a/playlist.m3u8`, `/a/seg{N}.ts` (with the audio rendition), `/health`; with
//!   `--channels N`, channel c's copy of each under `/ch{c}/` (the channels share the
//!   timeline and the media bytes; the access log names each request's channel).
//! * Faults ([`faults`]): delays, slow segment bodies, error statuses (random or
//!   scheduled), mid-body connection resets, playlist freezes; seeded and changeable at
//!   runtime through [`OriginHandle::faults`].
//! * Fault API ([`control`], `--fault-api`, off by default): `GET`/`PUT`/`DELETE`
//!   `/control/faults` on the origin's own listener switches faults from outside.
//! * Access log ([`access_log`]): JSON Lines, one record per request, exact byte counts,
//!   and `hold_ms`, the deliberate hold of a blocking reload or a preload-hinted part.
//! * LL-HLS (`part_duration`): parts cut from the re-stamped segments at frame
//!   boundaries ([`ts::build_part`]), LL playlists ([`playlist::render_ll_media`]) and the
//!   delivery directives of rfc8216bis §6.2.5 ([`ll`]).

#![warn(missing_docs)]

pub mod access_log;
pub mod asset;
pub mod body;
pub mod cache;
pub mod cli;
pub mod control;
pub mod faults;
pub mod ll;
pub mod playlist;
pub mod routes;
pub mod server;
pub mod timeline;
pub mod ts;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigErrors, Problems};

pub use cli::{OriginArgs, run_cli};
pub use faults::{
    Decision, ErrorRate, ErrorWindow, FaultConfig, FaultControl, FaultKind, Freeze, LateParts,
    PerKind,
};

/// Listen backlog of the origin socket.
pub const LISTEN_BACKLOG: u32 = 4096;
/// Largest accepted variant bitrate (bit/s).
pub const MAX_VARIANT_BPS: u64 = 200_000_000;
/// Largest accepted playlist window (segments).
pub const MAX_WINDOW: usize = 10_000;
/// Most channels one origin serves (`--channels`).
pub const MAX_CHANNELS: u32 = 100_000;

/// Origin configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Bitrate of each variant (bit/s); segments are padded up to it.
    pub variants_bps: Vec<u64>,
    /// Segment duration: a whole number of seconds, 1 s to 60 s.
    pub segment_duration: Duration,
    /// Segments per media playlist.
    pub window: usize,
    /// LL-HLS part duration (`None`: classic HLS); see [`check_part_duration`].
    pub part_duration: Option<Duration>,
    /// Serve audio as a separate `EXT-X-MEDIA` rendition (video-only variants).
    pub audio_rendition: bool,
    /// Seed of the fault decisions.
    pub seed: u64,
    /// JSON Lines access log file.
    pub access_log: Option<PathBuf>,
    /// Faults active from the start.
    pub faults: FaultConfig,
    /// Serve the fault API ([`control`]) at `/control/faults` to loopback peers.
    pub fault_api: bool,
    /// Channels served, each under `/ch{c}/` (`c` in `0..channels`); the plain paths
    /// stay channel 0's.
    pub channels: u32,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            variants_bps: vec![200_000, 800_000, 2_000_000],
            segment_duration: Duration::from_secs(2),
            window: 10,
            part_duration: None,
            audio_rendition: false,
            seed: 1,
            access_log: None,
            faults: FaultConfig::default(),
            fault_api: false,
            channels: 1,
        }
    }
}

impl OriginConfig {
    /// Every problem with this configuration.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut p = Problems::new();
        let _ = p.ok(check_variants(&self.variants_bps).map_err(|e| format!("variants_bps: {e}")));
        let _ = p.ok(asset::whole_seconds(self.segment_duration)
            .map_err(|e| format!("segment_duration: {e}")));
        let _ = p.ok(check_window(self.window).map_err(|e| format!("window: {e}")));
        p.check(!(1..=MAX_CHANNELS).contains(&self.channels), || {
            format!("channels: {} is outside 1..={MAX_CHANNELS}", self.channels)
        });
        if let Some(part) = self.part_duration {
            let _ = p.ok(check_part_duration(part, self.segment_duration)
                .map_err(|e| format!("part_duration: {e}")));
            if self.audio_rendition {
                p.push("part_duration: LL-HLS parts are not offered with the audio rendition");
            }
        }
        p.finish(())
    }
}

/// Checks a variant ladder.
pub(crate) fn check_variants(v: &[u64]) -> Result<(), String> {
    if v.is_empty() {
        return Err("at least one variant is needed".into());
    }
    match v.iter().find(|&&b| b == 0 || b > MAX_VARIANT_BPS) {
        Some(b) => Err(format!(
            "bitrate {b} is outside 1..={MAX_VARIANT_BPS} bit/s"
        )),
        None => Ok(()),
    }
}

/// Checks a playlist window.
pub(crate) fn check_window(w: usize) -> Result<(), String> {
    if (1..=MAX_WINDOW).contains(&w) {
        Ok(())
    } else {
        Err(format!("{w} is outside 1..={MAX_WINDOW} segments"))
    }
}

/// Frame interval of the embedded video (10 fps): parts start on frames.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// Checks an LL-HLS part duration: a multiple of [`FRAME_INTERVAL`] that divides the
/// segment duration.
pub fn check_part_duration(part: Duration, segment: Duration) -> Result<(), String> {
    let frame = FRAME_INTERVAL.as_nanos();
    if part.is_zero() || !part.as_nanos().is_multiple_of(frame) || part > segment {
        return Err(format!(
            "{} is not a multiple of 100ms between 100ms and the segment duration",
            humantime::format_duration(part)
        ));
    }
    if !segment.as_nanos().is_multiple_of(part.as_nanos()) {
        return Err(format!(
            "{} does not divide the segment duration {}",
            humantime::format_duration(part),
            humantime::format_duration(segment)
        ));
    }
    Ok(())
}

/// A running origin.
#[derive(Debug)]
pub struct OriginHandle {
    addr: SocketAddr,
    state: Arc<server::State>,
    cancel: CancellationToken,
    server: Option<JoinHandle<()>>,
    log: Option<access_log::AccessLog>,
}

/// Binds `cfg.listen`, spawns the server and returns once it accepts connections.
pub async fn start(cfg: OriginConfig) -> anyhow::Result<OriginHandle> {
    if let Err(errs) = cfg.validate() {
        anyhow::bail!("invalid origin configuration: {}", errs.join("; "));
    }
    let media = asset::Media::for_duration(cfg.segment_duration).map_err(anyhow::Error::msg)?;
    let listener = crate::listener::bind(cfg.listen, LISTEN_BACKLOG)
        .with_context(|| format!("origin cannot listen on {}", cfg.listen))?;
    let addr = listener
        .local_addr()
        .with_context(|| format!("origin socket on {}", cfg.listen))?;
    let log = match &cfg.access_log {
        Some(p) => Some(
            access_log::AccessLog::open(p)
                .with_context(|| format!("cannot create access log {}", p.display()))?,
        ),
        None => None,
    };
    let state = Arc::new(server::State::new(server::StateParams {
        timeline: match cfg.part_duration {
            Some(p) => timeline::Timeline::new(cfg.segment_duration, cfg.window).with_parts(p),
            None => timeline::Timeline::new(cfg.segment_duration, cfg.window),
        },
        media,
        variants_bps: cfg.variants_bps,
        audio_rendition: cfg.audio_rendition,
        faults: FaultControl::new(cfg.seed, cfg.faults),
        log: log.as_ref().map(access_log::AccessLog::sender),
        fault_api: cfg.fault_api,
        channels: cfg.channels,
        start: Instant::now(),
        start_wall: SystemTime::now(),
    }));
    let cancel = CancellationToken::new();
    let server = tokio::spawn(server::serve(listener, state.clone(), cancel.clone()));
    tracing::info!(%addr, "origin listening");
    Ok(OriginHandle {
        addr,
        state,
        cancel,
        server: Some(server),
        log,
    })
}

impl OriginHandle {
    /// The bound address (with the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/master.m3u8`; an unspecified listen address becomes loopback.
    pub fn master_url(&self) -> String {
        format!("http://{}/master.m3u8", self.reachable_addr())
    }

    /// Channel `c`'s master playlist, `http://ADDR/ch{c}/master.m3u8` (see
    /// [`OriginHandle::master_url`] for the address).
    pub fn channel_url(&self, c: u32) -> String {
        format!("http://{}/ch{c}/master.m3u8", self.reachable_addr())
    }

    /// The bound address, an unspecified IP replaced by loopback.
    fn reachable_addr(&self) -> SocketAddr {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(match a.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        a
    }

    /// TCP connections accepted since start (HTTP/1.1 and h2c alike): the ground truth
    /// for a client's connection count.
    pub fn connections_accepted(&self) -> u64 {
        self.state.connections_accepted()
    }

    /// TCP connections closed since start (either side closing): accepted − closed are
    /// open now.
    pub fn connections_closed(&self) -> u64 {
        self.state.connections_closed()
    }

    /// Runtime fault control.
    pub fn faults(&self) -> &FaultControl {
        &self.state.faults
    }

    /// Time since origin start (the `t` of the timeline and of fault windows).
    pub fn elapsed(&self) -> Duration {
        self.state.elapsed()
    }

    /// Stops accepting, lets in-flight responses finish (up to 2 s, then cuts them),
    /// and flushes the access log.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        if let Some(log) = self.log.take() {
            match tokio::task::spawn_blocking(move || log.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "origin access log write failed"),
                Err(e) => tracing::error!(error = %e, "origin access log thread failed"),
            }
        }
    }
}

impl Drop for OriginHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

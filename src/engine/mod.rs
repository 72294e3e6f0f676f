//! Viewer engines: how a viewer plays the stream. Both produce the same events
//! (DESIGN.md principle 1); everything downstream of [`crate::stats`] is engine-neutral.
//!
//! # The boundary
//! The swarm knows an engine only as an [`Engine`]: it ramps [`Viewer`]s (identity and
//! outlets, no engine in them) and hands each to [`slot::run_slot`], the one slot loop,
//! with the engine's [`SlotPlayer`] for it. The slot loop owns what every engine shares
//! (lifecycle events, the startup timeout, backoff between lives); a player only plays
//! one life after another and says how each ended ([`LifeEnd`]).
//!
//! * [`native`]: one task per viewer, an RFC 8216 client timing its own requests.
//! * [`ffmpeg`]: one FFmpeg process per viewer, measured through a proxy.
//!
//! **A new engine** goes in its own folder `src/engine/<name>/`, implements [`Engine`]
//! and [`SlotPlayer`], reports through the viewer's [`EventSink`] (a finished HTTP
//! request via [`http::Fetch::request_done`]), gets a variant of
//! [`crate::config::Engine`], and one arm in [`start`].

pub mod abandon_watch;
pub mod abr;
pub mod abr_viewer;
pub mod ffmpeg;
pub mod http;
pub mod link;
pub mod ll;
pub mod ll_track;
pub mod native;
pub mod progress;
pub mod reload;
pub mod request_meter;
pub mod runtimes;
pub mod sequence;
pub mod session;
pub mod slot;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::stats::gauges::LiveGauges;
use crate::stats::hub::{EventSink, PipelineCounters};

/// A boxed future an engine hands across the boundary.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One viewer as the swarm ramps it, the same for every engine.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Viewer id (includes `-client-id-offset`).
    pub id: u64,
    /// Full User-Agent.
    pub user_agent: String,
    /// Event outlet.
    pub sink: EventSink,
    /// Live state counts.
    pub gauges: Arc<LiveGauges>,
    /// Cancelled when the swarm stops.
    pub cancel: CancellationToken,
    /// `-startup-timeout`: no first media this long after tune-in counts as stalled.
    pub startup_timeout: Duration,
    /// The stream it plays: index in the run's order of streams (0 with one stream).
    pub stream: u32,
}

/// How one life of a viewer ended, which decides what its slot does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeEnd {
    /// The swarm stopped it; the slot ends.
    Stopped,
    /// A healthy end after which the slot tunes in a fresh viewer at once (a VOD played
    /// out, `-restart-on-stall`); the backoff starts over.
    Replaced,
    /// It ended on its own (`failure`: not cleanly); the slot tunes in again after a
    /// backoff delay.
    Ended {
        /// It failed (an error exit, a viewer that could not go on).
        failure: bool,
    },
}

/// Plays the lives of one viewer slot, one after another (see [`slot::run_slot`]).
pub trait SlotPlayer: Send {
    /// Seed of the slot's backoff jitter.
    fn backoff_seed(&self, viewer: &Viewer) -> u64;

    /// Play one life of `viewer`, from tune-in until it ends or the swarm stops it.
    fn play<'a>(&'a mut self, viewer: &'a Viewer) -> BoxFuture<'a, LifeEnd>;
}

/// One engine of a run, shared by every viewer slot.
pub trait Engine: Send + Sync {
    /// The player of the slot of viewer `id` (it may keep the engine).
    fn player(self: Arc<Self>, id: u64) -> Box<dyn SlotPlayer>;

    /// The runtime the slot of viewer `id` runs on; `None`: the swarm's own.
    fn runtime(&self, id: u64) -> Option<Handle> {
        let _ = id;
        None
    }

    /// Cancelled when the ramp must start no more viewers.
    fn ramp_halt(&self) -> CancellationToken {
        CancellationToken::new()
    }

    /// Cancelled when the run cannot measure anything and must end.
    fn abort(&self) -> CancellationToken {
        CancellationToken::new()
    }

    /// Why the engine aborted the run, for people (first line: the gist).
    fn abort_message(&self) -> Option<String> {
        None
    }

    /// Whether slots still running after the stop's grace are cut off by the swarm
    /// (their requests in flight report themselves as aborted). An engine that stops
    /// its viewers itself in [`shutdown`](Engine::shutdown) says false.
    fn cut_off_after_grace(&self) -> bool {
        true
    }

    /// The swarm is stopping (its viewers are cancelled): stop what is left, at once
    /// when `hurry` (a second signal), and settle the engine's own figures.
    fn shutdown(&self, hurry: bool) -> BoxFuture<'_, ()> {
        let _ = hurry;
        Box::pin(async {})
    }
}

/// What an engine needs from the run to start.
#[derive(Debug)]
pub struct EngineInputs<'a> {
    /// The run configuration.
    pub cfg: &'a Config,
    /// The stream URL (the first stream's with several).
    pub url: &'a Url,
    /// Every stream's URL, in the run's order (one for a single-stream run).
    pub urls: &'a [Url],
    /// HTTP settings every request of the run shares.
    pub settings: Arc<http::HttpSettings>,
    /// One sink per stats shard.
    pub sinks: Vec<EventSink>,
    /// Live gauges.
    pub gauges: Arc<LiveGauges>,
    /// Pipeline counters (events an engine drops itself are added here).
    pub counters: Arc<PipelineCounters>,
}

/// The engine the config asks for, started; native viewers run on `runtimes`.
pub async fn start(
    inp: EngineInputs<'_>,
    runtimes: Arc<runtimes::ViewerRuntimes>,
) -> Result<Started> {
    Ok(match inp.cfg.engine.kind {
        crate::config::Engine::Native => {
            let e = Arc::new(native::NativeEngine::new(
                inp.cfg,
                inp.urls,
                inp.settings,
                runtimes,
            ));
            Started {
                links: e.link_rates(),
                engine: e,
                ffmpeg: None,
            }
        }
        crate::config::Engine::Ffmpeg => {
            let e = ffmpeg::FfmpegEngine::start(inp).await?;
            Started {
                engine: e.clone(),
                ffmpeg: Some(e),
                links: None,
            }
        }
    })
}

/// A started engine, and the FFmpeg engine's own figures when it is the one.
pub struct Started {
    /// The engine.
    pub engine: Arc<dyn Engine>,
    /// The FFmpeg engine's per-tick figures (`None` for other engines).
    pub ffmpeg: Option<Arc<dyn crate::stats::ffmpeg::FfmpegStatsSource>>,
    /// The link rates drawn for the viewers (`--viewer-bandwidth`, native engine).
    pub links: Option<Arc<crate::stats::link_rates::LinkRates>>,
}

//! What every FFmpeg process of a run is started and watched with, fixed at start: the
//! probed binary, the command plan, the proxy to talk through, the stall rule and the
//! stderr handling.

use std::time::Duration;

use super::caps::Capabilities;
use super::classify::Classifier;
use super::command::{self, Plan};

/// The fixed per-run setup of the FFmpeg viewers (see the module docs).
#[derive(Debug)]
pub struct Recipe {
    /// Probed capabilities of the binary.
    pub caps: Capabilities,
    /// The command plan (same for every viewer).
    pub plan: Plan,
    /// `-http_proxy` value.
    pub proxy_url: String,
    /// Stall threshold in effect.
    pub stall_threshold: Duration,
    /// Media FFmpeg tunes in behind the live edge.
    pub tune_in_latency: Duration,
    /// `-restart-on-stall`.
    pub restart_on_stall: bool,
    /// `-stats-buffer`.
    pub stderr_buffer: usize,
    /// Path classifier for approximate (stderr) request figures.
    pub classifier: Classifier,
    /// Seed for backoff jitter.
    pub seed: u64,
}

impl Recipe {
    /// Viewer `id`'s argument list.
    pub fn args(&self, id: u64) -> Vec<String> {
        command::build_args(&self.plan, &self.caps, id, &self.proxy_url)
    }
}

//! The `prometheus` crate's custom-collector hook over the run's snapshot feed: each
//! collect builds the `hls_swarm_*` families from the latest Snapshot (or the starting
//! families before the first tick). Nothing is registered or updated between scrapes, so
//! a scrape stays a pure function of one Snapshot ([`render::families`]).

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use tokio::sync::watch;

use super::render::{self, Info};
use crate::stats::snapshot::Snapshot;

/// Collects the families of the latest snapshot on a feed.
#[derive(Debug)]
pub struct SnapshotCollector {
    snapshots: watch::Receiver<Option<Snapshot>>,
    info: Info,
}

impl SnapshotCollector {
    /// A collector over `snapshots`, with the run's constant `info` labels.
    pub fn new(snapshots: watch::Receiver<Option<Snapshot>>, info: Info) -> Self {
        SnapshotCollector { snapshots, info }
    }

    /// The latest snapshot (`None` before the first tick).
    pub fn latest(&self) -> Option<Snapshot> {
        self.snapshots.borrow().clone()
    }

    /// Whether the latest snapshot satisfies `f` (`f(None)` before the first tick),
    /// without copying it.
    pub fn with_latest<T>(&self, f: impl FnOnce(Option<&Snapshot>) -> T) -> T {
        f(self.snapshots.borrow().as_ref())
    }
}

impl Collector for SnapshotCollector {
    /// None: the family set follows the snapshot (origin, FFmpeg and per-viewer families
    /// come and go), so this is an unchecked collector in the crate's terms.
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Clone out of the watch so a slow render never holds up the next tick.
        match self.latest() {
            Some(s) => render::families(&s, &self.info),
            None => render::starting_families(&self.info),
        }
    }
}

//! The event pipeline: viewers send events into bounded per-shard channels; each shard
//! task folds them into its own accumulator; the collector takes the shards' deltas once
//! per tick. A full channel drops the event and counts the drop (DESIGN.md principle 4),
//! so a slow stats path never slows the viewers, and the loss is visible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::accumulator::Accumulator;
use super::event::{Event, RequestDone};
use super::request_log::RequestLog;
use super::viewer_state::{ViewerState, ViewerStatus};
use super::viewers::ViewerCell;

/// Counts of events offered to and dropped by the pipeline.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    offered: AtomicU64,
    dropped: AtomicU64,
}

impl PipelineCounters {
    /// Events offered so far.
    pub fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Count drops that happened outside the channels (e.g. a log reader's ring overflow).
    pub fn add_external(&self, offered: u64, dropped: u64) {
        self.offered.fetch_add(offered, Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
    }
}

/// A viewer's handle into the pipeline. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
    counters: Arc<PipelineCounters>,
    /// This viewer's `-prom-client-metrics` cell, updated before the lossy channel.
    viewer: Option<Arc<ViewerCell>>,
    /// This viewer's state, updated before the lossy channel.
    status: Option<Arc<ViewerStatus>>,
    /// `--request-log`, if on.
    request_log: Option<Arc<RequestLog>>,
    /// The global id of the viewer this sink reports for (`None`: the swarm's own).
    viewer_id: Option<u64>,
    /// The stream this sink's requests are for (`None`: leave them as they are).
    stream: Option<u32>,
}

impl EventSink {
    /// Offer an event; if the shard's channel is full, drop it and count the drop.
    pub fn send(&self, mut ev: Event) {
        if let (Some(stream), Event::Request(done)) = (self.stream, &mut ev) {
            done.stream = Some(stream);
        }
        if let Some(status) = &self.status {
            status.observe(&ev);
        }
        if let Some(cell) = &self.viewer {
            cell.observe(&ev);
        }
        self.counters.offered.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(ev).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Report a finished request fetched from `url` (also into `--request-log`, if on,
    /// as this sink's viewer's).
    pub fn send_request(&self, done: RequestDone, url: &url::Url) {
        self.send_request_of(done, self.viewer_id, url);
    }

    /// Report a finished request of `viewer` (global id) fetched from `url`: for a sink
    /// shared by many viewers (the FFmpeg engine's measuring proxy).
    pub fn send_request_of(&self, mut done: RequestDone, viewer: Option<u64>, url: &url::Url) {
        if let Some(stream) = self.stream {
            done.stream = Some(stream);
        }
        if let Some(log) = &self.request_log {
            log.offer(&done, viewer, url);
        }
        self.send(Event::Request(done));
    }

    /// This sink, reporting for the viewer of global id `id` (the request log's `viewer`).
    pub fn with_viewer_id(&self, id: u64) -> EventSink {
        EventSink {
            viewer_id: Some(id),
            ..self.clone()
        }
    }

    /// This sink, reporting its requests as stream `stream`'s (index in the run's order).
    pub fn with_stream(&self, stream: u32) -> EventSink {
        EventSink {
            stream: Some(stream),
            ..self.clone()
        }
    }

    /// This sink, also keeping one viewer's per-viewer figures (`None`: no cell).
    pub fn for_viewer(&self, cell: Option<Arc<ViewerCell>>) -> EventSink {
        EventSink {
            viewer: cell,
            ..self.clone()
        }
    }

    /// This sink, also keeping one viewer's state (the live gauges) from its events.
    pub fn with_status(&self, status: Arc<ViewerStatus>) -> EventSink {
        EventSink {
            status: Some(status),
            ..self.clone()
        }
    }

    /// The state of the viewer this sink reports for (`None` without a status).
    pub fn state(&self) -> Option<ViewerState> {
        self.status.as_ref().and_then(|s| s.state())
    }
}

struct Shard {
    tx: mpsc::Sender<Event>,
    acc: Arc<Mutex<Accumulator>>,
}

/// The set of shards.
pub struct StatsHub {
    shards: Vec<Shard>,
    tasks: Vec<JoinHandle<()>>,
    counters: Arc<PipelineCounters>,
    request_log: Option<Arc<RequestLog>>,
}

impl StatsHub {
    /// Start `n_shards` shard tasks on the current runtime, each with a channel of
    /// `capacity` events. Must be called inside a tokio runtime.
    pub fn start(n_shards: usize, capacity: usize) -> Self {
        let here = Handle::current();
        Self::start_on(&vec![here; n_shards.max(1)], capacity)
    }

    /// Start one shard per runtime handle (shard `i` on `runtimes[i]`), each with a
    /// channel of `capacity` events. Viewers running on runtime `i` and sending to shard
    /// `i` then record events without waking another thread.
    pub fn start_on(runtimes: &[Handle], capacity: usize) -> Self {
        let counters = Arc::new(PipelineCounters::default());
        let mut shards = Vec::new();
        let mut tasks = Vec::new();
        let current = (runtimes.is_empty()).then(Handle::current);
        for runtime in runtimes.iter().chain(current.as_ref()) {
            let (tx, mut rx) = mpsc::channel::<Event>(capacity.max(1));
            let acc = Arc::new(Mutex::new(Accumulator::default()));
            let shard_acc = acc.clone();
            tasks.push(runtime.spawn(async move {
                let mut batch = Vec::with_capacity(256);
                while rx.recv_many(&mut batch, 256).await > 0 {
                    if let Ok(mut a) = shard_acc.lock() {
                        for ev in &batch {
                            a.record(ev);
                        }
                    }
                    batch.clear();
                }
            }));
            shards.push(Shard { tx, acc });
        }
        StatsHub {
            shards,
            tasks,
            counters,
            request_log: None,
        }
    }

    /// A sink for viewer `id` (viewers are spread over the shards by id).
    pub fn sink(&self, id: u64) -> EventSink {
        let shard = &self.shards[(id as usize) % self.shards.len()];
        EventSink {
            tx: shard.tx.clone(),
            counters: self.counters.clone(),
            viewer: None,
            status: None,
            request_log: self.request_log.clone(),
            viewer_id: None,
            stream: None,
        }
    }

    /// Log every finished request into `log` (`--request-log`): sinks made after this
    /// call offer their requests' lines to it.
    pub fn set_request_log(&mut self, log: Option<Arc<RequestLog>>) {
        self.request_log = log;
    }

    /// The pipeline's offered/dropped counters.
    pub fn counters(&self) -> Arc<PipelineCounters> {
        self.counters.clone()
    }

    /// Take everything folded in since the last call, merged over the shards, into `into`.
    pub fn drain_into(&self, into: &mut Accumulator) {
        for s in &self.shards {
            if let Ok(mut a) = s.acc.lock() {
                into.merge(&a);
                a.reset();
            }
        }
    }

    /// Stop accepting events: once every sink is dropped the shard tasks fold what is left
    /// and end. Waits at most `grace` for that, then returns; call `drain_into` after.
    pub async fn close(&mut self, grace: Duration) {
        // Replace our senders by closed ones so only outstanding sinks keep channels open.
        for s in &mut self.shards {
            let (closed, _) = mpsc::channel(1);
            s.tx = closed;
        }
        let tasks = std::mem::take(&mut self.tasks);
        let _ = tokio::time::timeout(grace, async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::event::{LifecycleEvent, PlaybackEvent};

    #[tokio::test]
    async fn events_reach_the_accumulator_across_shards() {
        let mut hub = StatsHub::start(3, 1024);
        for id in 0..30 {
            hub.sink(id).send(Event::Lifecycle(LifecycleEvent::Started));
        }
        hub.close(Duration::from_secs(1)).await;
        let mut acc = Accumulator::default();
        hub.drain_into(&mut acc);
        assert_eq!(acc.viewers_started, 30);
        assert_eq!(hub.counters().offered(), 30);
        assert_eq!(hub.counters().dropped(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_channel_drops_and_counts() {
        let mut hub = StatsHub::start(1, 4);
        let sink = hub.sink(0);
        // On a current-thread runtime the shard task cannot run while we send.
        for _ in 0..10 {
            sink.send(Event::Playback(PlaybackEvent::SegmentSkipped));
        }
        drop(sink);
        hub.close(Duration::from_secs(1)).await;
        let mut acc = Accumulator::default();
        hub.drain_into(&mut acc);
        let c = hub.counters();
        assert_eq!(c.offered(), 10);
        assert_eq!(c.dropped(), 6);
        assert_eq!(acc.segments_skipped, 4);
    }
}

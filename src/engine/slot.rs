//! The one viewer slot loop, the same for every engine: keeps a viewer playing until the
//! swarm stops, tuning in a fresh one when a life ends — at once after a healthy end
//! ([`LifeEnd::Replaced`]), after a backoff when it ended on its own ([`LifeEnd::Ended`]:
//! 250 ms × 1.7ⁿ, ≤ 5 s, ±20 %, reset after 30 s healthy). Each life has its startup
//! timeout and its Started/Restarted and Exited events.

use std::time::Duration;

use tokio::time::Instant;

use super::{LifeEnd, SlotPlayer, Viewer};
use crate::backoff::Backoff;
use crate::stats::event::{Event, LifecycleEvent, PlaybackEvent};
use crate::stats::hub::EventSink;
use crate::stats::viewer_state::ViewerState;

/// Run the slot of `viewer` with `player` until the swarm stops.
pub async fn run_slot(viewer: Viewer, mut player: Box<dyn SlotPlayer>) {
    let sink = &viewer.sink;
    sink.send(Event::Lifecycle(LifecycleEvent::Started));
    viewer.gauges.add_ramped();
    let mut backoff = Backoff::standard(player.backoff_seed(&viewer));
    loop {
        let began = Instant::now();
        // Each life tunes in anew (Started/Restarted) and has its startup timeout.
        let end = tokio::select! {
            end = player.play(&viewer) => end,
            never = startup_timer(sink, viewer.startup_timeout) => match never {},
        };
        let failure = matches!(end, LifeEnd::Ended { failure: true });
        sink.send(Event::Lifecycle(LifecycleEvent::Exited { failure }));
        match end {
            LifeEnd::Stopped => return,
            LifeEnd::Replaced => backoff.reset(),
            LifeEnd::Ended { .. } => {
                if viewer.cancel.is_cancelled() {
                    return;
                }
                backoff.healthy_for(began.elapsed());
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = viewer.cancel.cancelled() => return,
                }
            }
        }
        if viewer.cancel.is_cancelled() {
            return;
        }
        sink.send(Event::Lifecycle(LifecycleEvent::Restarted));
    }
}

/// Wait out the startup timeout of the viewer run that has just tuned in on `sink`; if
/// it is still starting then, report [`PlaybackEvent::StartupTimedOut`] (it becomes
/// stalled). Never returns: engines select it against the run it times.
async fn startup_timer(sink: &EventSink, timeout: Duration) -> std::convert::Infallible {
    tokio::time::sleep(timeout).await;
    if sink.state() == Some(ViewerState::Starting) {
        sink.send(Event::Playback(PlaybackEvent::StartupTimedOut));
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::engine::BoxFuture;
    use crate::stats::accumulator::Accumulator;
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;

    /// Ends its lives as scripted, then waits for the stop.
    struct Scripted(Vec<LifeEnd>);

    impl SlotPlayer for Scripted {
        fn backoff_seed(&self, viewer: &Viewer) -> u64 {
            viewer.id
        }

        fn play<'a>(&'a mut self, viewer: &'a Viewer) -> BoxFuture<'a, LifeEnd> {
            Box::pin(async move {
                if self.0.is_empty() {
                    viewer.cancel.cancelled().await;
                    return LifeEnd::Stopped;
                }
                self.0.remove(0)
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_life_has_its_exit_and_restart_and_the_stop_ends_the_slot() {
        let mut hub = StatsHub::start(1, 64);
        let cancel = CancellationToken::new();
        let viewer = Viewer {
            id: 7,
            user_agent: "t".into(),
            sink: hub.sink(0),
            gauges: Arc::new(LiveGauges::default()),
            cancel: cancel.clone(),
            startup_timeout: Duration::from_secs(3600),
            stream: 0,
        };
        let script = Scripted(vec![
            LifeEnd::Ended { failure: true },
            LifeEnd::Replaced,
            LifeEnd::Ended { failure: false },
        ]);
        let slot = tokio::spawn(run_slot(viewer, Box::new(script)));
        // The two backoff delays are at most 5 s each (paused clock: no real wait).
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!slot.is_finished(), "the slot plays until the stop");
        cancel.cancel();
        slot.await.unwrap_or_else(|e| panic!("{e}"));
        hub.close(Duration::from_secs(1)).await;
        let mut acc = Accumulator::default();
        hub.drain_into(&mut acc);
        assert_eq!(acc.viewers_started, 1);
        assert_eq!(acc.restarts, 3, "after each of the three scripted lives");
        assert_eq!(acc.exits_failure, 1);
        assert_eq!(acc.exits_clean, 3, "two scripted, one at the stop");
    }
}

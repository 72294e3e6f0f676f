//! The one viewer slot loop, the same for every engine: keeps a viewer playing until the
//! swarm stops, tuning in a fresh one when a life ends — at once after a healthy end
//! ([`LifeEnd::Replaced`]), after a backoff when it ended on its own ([`LifeEnd::Ended`]:
//! 250 ms × 1.7ⁿ, ≤ 5 s, ±20 %, reset after 30 s healthy). Each life has its startup
//! timeout and its Started/Restarted and Exited events.

use tokio::time::Instant;

use super::{LifeEnd, SlotPlayer, Viewer};
use crate::backoff::Backoff;
use crate::stats::event::{Event, LifecycleEvent};
use crate::stats::viewer_state::startup_timer;

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

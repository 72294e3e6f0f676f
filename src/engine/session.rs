//! One session of arrival mode (`--arrival-rate`): a viewer slot ([`run_slot`]) that
//! leaves after its drawn length. Leaving is graceful: the viewer's own cancel token is
//! cancelled, so it issues no new request; requests in flight finish and are counted as
//! usual; its connections close as the viewer is dropped. An engine whose slots the
//! swarm may cut off (native) gets [`SESSION_GRACE`] for that, after which requests
//! still in flight are cut off and reported as *aborted* (never as errors); an engine
//! that stops its viewers itself (FFmpeg: SIGTERM, then SIGKILL after its grace, the
//! supervisor's normal stop path, counted as a kill by the swarm and never as a crash or
//! restart) is waited for.
//!
//! The session's fate is counted in [`SessionTally`] exactly once: *ended* when its
//! length ran out, *censored* when the swarm stopped first (or dropped the session).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::slot::run_slot;
use super::{SlotPlayer, Viewer};
use crate::stats::sessions::SessionTally;

/// How long a leaving native viewer's requests in flight may take to finish.
pub const SESSION_GRACE: Duration = Duration::from_secs(2);

/// How a session is to end.
#[derive(Debug, Clone, Copy)]
pub struct SessionPlan {
    /// Its drawn length (`None`: it stays until the run ends).
    pub length: Option<Duration>,
    /// Whether requests still in flight after [`SESSION_GRACE`] are cut off (the
    /// engine's [`super::Engine::cut_off_after_grace`]).
    pub cut_off: bool,
}

/// Play `viewer`'s session with `player`; `viewer.cancel` must be the session's own token
/// (a child of the swarm's). Counts the session's end in `tally`, which already counted
/// its start.
pub async fn run_session(
    viewer: Viewer,
    player: Box<dyn SlotPlayer>,
    plan: SessionPlan,
    tally: Arc<SessionTally>,
) {
    let began = Instant::now();
    let leave = viewer.cancel.clone();
    let mut fate = Fate { tally, ended: None };
    let slot = run_slot(viewer, player);
    tokio::pin!(slot);
    let Some(length) = plan.length else {
        slot.await;
        return;
    };
    tokio::select! {
        () = &mut slot => return,
        () = tokio::time::sleep(length) => {}
    }
    if leave.is_cancelled() {
        // The swarm stopped at the same instant: censored, like any session it stops.
        return;
    }
    leave.cancel();
    if plan.cut_off {
        // Past the grace the slot is dropped: requests in flight report themselves as
        // aborted.
        let _ = tokio::time::timeout(SESSION_GRACE, &mut slot).await;
    } else {
        slot.await;
    }
    fate.ended = Some((length, began.elapsed()));
}

/// Counts the session's end once, whichever way it goes (a dropped session is censored).
struct Fate {
    tally: Arc<SessionTally>,
    /// Drawn and realised length, once it ended on its own.
    ended: Option<(Duration, Duration)>,
}

impl Drop for Fate {
    fn drop(&mut self) {
        match self.ended {
            Some((drawn, lasted)) => self.tally.ended(drawn, lasted),
            None => self.tally.censored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::engine::{BoxFuture, LifeEnd};
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;

    /// Plays until cancelled, then takes `linger` to finish its requests in flight.
    struct Lingering(Duration);

    impl SlotPlayer for Lingering {
        fn backoff_seed(&self, viewer: &Viewer) -> u64 {
            viewer.id
        }

        fn play<'a>(&'a mut self, viewer: &'a Viewer) -> BoxFuture<'a, LifeEnd> {
            Box::pin(async move {
                viewer.cancel.cancelled().await;
                tokio::time::sleep(self.0).await;
                LifeEnd::Stopped
            })
        }
    }

    fn viewer(hub: &StatsHub, cancel: CancellationToken) -> Viewer {
        Viewer {
            id: 1,
            user_agent: "t".into(),
            sink: hub.sink(0),
            gauges: Arc::new(LiveGauges::default()),
            cancel,
            startup_timeout: Duration::from_secs(3600),
            stream: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_after_its_length_and_the_stop_censors_the_rest() {
        let hub = StatsHub::start(1, 64);
        let swarm = CancellationToken::new();
        let tally = Arc::new(SessionTally::new(None, 1.0, 10));
        let plan = |secs| SessionPlan {
            length: Some(Duration::from_secs(secs)),
            cut_off: true,
        };
        for (secs, linger) in [(5, 0), (7, 1), (8, 60), (100, 0)] {
            assert!(tally.try_open(Some(Duration::from_secs(secs))));
            tokio::spawn(run_session(
                viewer(&hub, swarm.child_token()),
                Box::new(Lingering(Duration::from_secs(linger))),
                plan(secs),
                tally.clone(),
            ));
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        let c = tally.counts();
        assert_eq!((c.ended, c.open), (3, 1), "three lengths ran out");
        let s = tally.summary(Duration::from_secs(30), false);
        // 5 s; 7 s + 1 s to finish; 8 s + the 2 s grace (its 60 s linger is cut off).
        assert_eq!(s.realised.count, 3);
        assert!(
            (s.realised.mean_seconds - (5.0 + 8.0 + 10.0) / 3.0).abs() < 0.05,
            "{:?}",
            s.realised
        );
        swarm.cancel();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c = tally.counts();
        assert_eq!((c.ended, c.censored, c.open), (3, 1, 0));
    }
}

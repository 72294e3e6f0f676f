//! Track 0 of an ABR viewer under hls.js's emergency abandon rule: each segment download
//! is raced against one timer that wakes for the rule's checks (every 100 ms, as hls.js's
//! `setInterval(this._abandonRulesCheck, 100)`, from the first tick at which the rule can
//! fire), each applying [`crate::engine::abr::abandon`] to the bytes counted so far. No
//! task, and no timer beyond the download's own future: the timer exists only while an
//! ABR segment download is in flight (never with ABR off).

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};
use url::Url;

use crate::engine::abr_viewer::AbrViewer;
use crate::engine::http::{Connections, Fetch};
use crate::engine::native::{Attempt, Shared};
use crate::engine::progress::{Progress, Tee};
use crate::engine::request_meter::RequestMeter;
use crate::player::PlayerState;
use crate::stats::event::{Event, PlaybackEvent, RequestKind};

/// How often the rule is checked (hls.js `setInterval(this._abandonRulesCheck, 100)`).
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// The first check of a download of a `fragment`-long segment, counted from its request:
/// the first 100 ms tick after half the fragment (the rule looks at nothing younger, so
/// the ticks before it would find nothing to do).
pub fn first_check(fragment: Duration) -> Duration {
    let half = fragment / 2;
    let ticks = half.as_nanos() / CHECK_EVERY.as_nanos() + 1;
    CHECK_EVERY * u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// The segment is to be loaded again, from the rung the abandon rule moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reload;

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Check again at this time.
    CheckAt(Instant),
    /// Abort the download now.
    Abort,
    /// The rule switched down and lets the download finish: no more checks.
    Finish,
}

/// The rule's state over one segment download (all its attempts).
#[derive(Debug)]
pub struct AbandonWatch<'a> {
    abr: &'a AbrViewer,
    rung: usize,
    fragment: Duration,
    live: bool,
    /// The rule fired: the rung it moved to and when to abort (`None`: let it finish).
    fired: Option<(usize, Option<Instant>)>,
}

impl<'a> AbandonWatch<'a> {
    /// Watch a download of a `fragment`-long segment of `rung`.
    pub fn new(abr: &'a AbrViewer, rung: usize, fragment: Duration, live: bool) -> Self {
        AbandonWatch {
            abr,
            rung,
            fragment,
            live,
            fired: None,
        }
    }

    /// A check at `now` of the attempt started at `started`. The rule is applied until
    /// it fires (then hls.js clears its timer); after that only the abort time counts.
    fn check(&mut self, shared: &Shared, progress: &Progress, started: Instant) -> Next {
        let now = Instant::now();
        let again = Next::CheckAt(now + CHECK_EVERY);
        let (buffer, state) = shared.buffer_and_state(0, now);
        // hls.js waits for media (`readyState`, a forward buffer) before judging.
        if state == PlayerState::Startup && buffer.is_zero() {
            return again;
        }
        let loading = progress.loading(now.saturating_duration_since(started));
        let Some((e, switch)) =
            self.abr
                .abandon_check(self.rung, &loading, buffer, self.fragment, self.live)
        else {
            return again;
        };
        if let Some(s) = switch {
            shared.emit_abr_switch(s);
        }
        let abort_at = e.abort_after.map(|d| now + d);
        self.fired = Some((e.next, abort_at));
        match abort_at {
            None => Next::Finish,
            Some(at) if at <= now => Next::Abort,
            Some(at) => Next::CheckAt(at),
        }
    }

    /// The download was aborted: count the abandon and drop to the lowest switch.
    fn aborted(&self, shared: &Shared) {
        let Some((next, _)) = self.fired else {
            return;
        };
        let (buffer, _) = shared.buffer_and_state(0, Instant::now());
        shared.emit(Event::Playback(PlaybackEvent::AbrAbandon));
        if let Some(s) = self.abr.abort(next, buffer, self.fragment, self.live) {
            shared.emit_abr_switch(s);
        }
    }

    /// One attempt (see [`Attempt::get`]): `Err` when the rule aborted it — the fetch is
    /// dropped mid-flight and its meter reports the request as aborted, with the bytes
    /// that had arrived (as when a run's stop cuts a request off).
    async fn watched<'s>(
        &mut self,
        shared: &'s Shared,
        conn: &mut Connections,
        url: &'s Url,
        range: Option<(u64, u64)>,
        kind: RequestKind,
        retry: bool,
    ) -> Result<(Fetch, RequestMeter<'s>), Reload> {
        let mut meter = RequestMeter::start(&shared.viewer.sink, url, kind, retry);
        let started = meter.started();
        let progress = Progress::default();
        let fetched = {
            let mut tee = Tee {
                inner: &mut meter,
                progress: &progress,
            };
            let mut fetch = std::pin::pin!(conn.get_observed(url, range, false, &mut tee));
            // (No retry follows a firing, see `before_retry`: the rule has not fired.)
            let mut next = Next::CheckAt(started + first_check(self.fragment));
            loop {
                let at = match next {
                    Next::CheckAt(at) => at,
                    Next::Finish => break Some(fetch.await),
                    Next::Abort => break None,
                };
                tokio::select! {
                    f = &mut fetch => break Some(f),
                    () = sleep_until(at) => {
                        next = match self.fired {
                            None => self.check(shared, &progress, started),
                            Some(_) => Next::Abort,
                        };
                    }
                }
            }
        };
        match fetched {
            Some(f) => Ok((f, meter)),
            None => {
                drop(meter);
                self.aborted(shared);
                Err(Reload)
            }
        }
    }
}

impl Attempt for AbandonWatch<'_> {
    type Reload = Reload;

    fn get<'s>(
        &mut self,
        shared: &'s Shared,
        conn: &mut Connections,
        url: &'s Url,
        range: Option<(u64, u64)>,
        kind: RequestKind,
        retry: bool,
    ) -> impl Future<Output = Result<(Fetch, RequestMeter<'s>), Reload>> + Send {
        // Boxed as in `Shared::fetch`: the request's state lives only while it runs.
        Box::pin(self.watched(shared, conn, url, range, kind, retry))
    }

    fn before_retry(&mut self) -> Result<(), Reload> {
        // The rule moved the rung: the segment comes from there, not from this rung again.
        match self.fired {
            Some(_) => Err(Reload),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_check_is_the_first_tick_past_half_the_fragment() {
        let ms = Duration::from_millis;
        assert_eq!(first_check(Duration::from_secs(1)), ms(600));
        assert_eq!(first_check(Duration::from_secs(6)), ms(3_100));
        assert_eq!(first_check(ms(1_150)), ms(600));
        assert_eq!(first_check(ms(1_250)), ms(700));
        assert_eq!(first_check(Duration::ZERO), ms(100));
    }

    #[test]
    fn once_the_rule_fired_a_failed_attempt_is_not_retried_on_the_old_rung() {
        let master = "#EXTM3U\n\
            #EXT-X-STREAM-INF:BANDWIDTH=200000\nlo.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000\nhi.m3u8\n";
        let base = url::Url::parse("http://h/m.m3u8").unwrap();
        let Ok(crate::hls::Playlist::Master(m)) = crate::hls::parse(master.as_bytes(), &base)
        else {
            panic!("a master playlist");
        };
        let abr = AbrViewer::new(&m, Default::default()).expect("a ladder");
        let mut w = AbandonWatch::new(&abr, 1, Duration::from_secs(1), true);
        assert_eq!(w.before_retry(), Ok(()));
        // Fired, letting the download finish: a retry would load the rung it left.
        w.fired = Some((0, None));
        assert_eq!(w.before_retry(), Err(Reload));
        w.fired = Some((0, Some(Instant::now())));
        assert_eq!(w.before_retry(), Err(Reload));
    }
}

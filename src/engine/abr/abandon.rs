//! The emergency abandon rule of a segment download, as pure logic (no I/O, no clock:
//! every time is passed in).
//!
//! hls.js checks a loading fragment every 100 ms (`AbrController._abandonRulesCheck` in
//! `src/controller/abr-controller.ts`, read at video-dev/hls.js `afe5b8bf`): once it has
//! loaded for longer than max(TTFB estimate, half the fragment's duration), if the rest
//! of it cannot arrive before the buffer runs dry but a lower rung's fragment could (and
//! sooner than the rest of this one), it switches down — and, unless that is already the
//! lowest rung, aborts the download and reloads the fragment from the lowest rung, at
//! once when the rest would take more than twice the lower fragment's time, else after
//! that time if the download is still running. The code is our own.

use std::time::Duration;

use super::{Rung, Situation, best_rung};

/// A segment download in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loading {
    /// Since the request was sent.
    pub elapsed: Duration,
    /// Request to response head, if the head arrived.
    pub ttfb: Option<Duration>,
    /// Body bytes arrived so far.
    pub loaded: u64,
    /// The body's `Content-Length`, if the head said.
    pub content_length: Option<u64>,
}

/// What the rule looks at besides the download.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context<'a> {
    /// The ladder, ascending `BANDWIDTH`.
    pub rungs: &'a [Rung],
    /// The rung the segment is loading from.
    pub rung: usize,
    /// The bandwidth estimate, bits per second.
    pub estimate_bps: f64,
    /// The time-to-first-byte estimate.
    pub ttfb_estimate: Duration,
    /// Media buffered ahead of the playhead (the time until the buffer runs dry).
    pub buffer: Duration,
    /// Duration of the segment loading.
    pub fragment: Duration,
    /// The stream is live (no `ENDLIST`).
    pub live: bool,
    /// How long the last media playlist load took (`lastLevelLoadSec`): a switch loads
    /// the new rung's playlist before its segment.
    pub playlist_load: Duration,
}

/// What the estimator is told when the rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partial {
    /// Bytes had arrived: a download sample of `bytes` in `time` (the time loading less
    /// min(TTFB, TTFB estimate)).
    Download {
        /// The sample's download time.
        time: Duration,
        /// Bytes loaded.
        bytes: u64,
    },
    /// Nothing had arrived: the time loading, as a TTFB sample.
    Ttfb(Duration),
}

/// The rule fired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emergency {
    /// The highest lower rung found whose fragment would arrive in time (the lowest rung
    /// if none): its bitrate is what the estimate is reset to if it was above it.
    pub below: usize,
    /// The rung the next load comes from (`nextLoadLevel`): the best rung up to `below`
    /// for an estimate at `below`'s bitrate.
    pub next: usize,
    /// When to abort the download, counted from now: `None` when `next` is the lowest
    /// rung (hls.js then lets the download finish), zero to abort at once.
    pub abort_after: Option<Duration>,
    /// The sample to fold into the estimator.
    pub partial: Partial,
    /// Estimated seconds to finish the current download.
    pub finish_secs: f64,
    /// Estimated seconds to load the fragment from the rung found below.
    pub lower_secs: f64,
}

/// hls.js `_abandonRulesCheck` (the module docs), for playback at rate 1: `Some` when the
/// download should give way to a lower rung.
pub fn check(c: &Context, l: &Loading) -> Option<Emergency> {
    let rung = c.rung.min(c.rungs.len().checked_sub(1)?);
    let complete = l.content_length.is_some_and(|t| l.loaded >= t);
    if rung == 0 || complete {
        return None;
    }
    let duration = c.fragment.as_secs_f64();
    let elapsed = l.elapsed.as_secs_f64();
    let ttfb_est = c.ttfb_estimate.as_secs_f64();
    // Only look once the load is older than half the fragment (and the TTFB estimate).
    if elapsed <= ttfb_est.max(duration / 2.0) {
        return None;
    }
    let starvation = c.buffer.as_secs_f64();
    let first_byte = l.ttfb.filter(|_| l.loaded > 0);
    let estimate = c.estimate_bps;
    let bitrate = c.rungs[rung]
        .average_bandwidth
        .unwrap_or(c.rungs[rung].bandwidth);
    let expected = l
        .content_length
        .unwrap_or((duration * bitrate as f64 / 8.0).round() as u64)
        .max(l.loaded);
    // Bytes per second since the head arrived.
    let load_rate = first_byte.map_or(0.0, |ttfb| {
        let mut streaming = elapsed - ttfb.as_secs_f64();
        if streaming < 0.001 {
            streaming = elapsed.min(l.loaded as f64 * 8.0 / estimate);
        }
        l.loaded as f64 / streaming
    });
    let finish = if load_rate > 0.0 {
        (expected - l.loaded) as f64 / load_rate
    } else {
        expected as f64 * 8.0 / estimate + ttfb_est
    };
    if finish <= starvation {
        return None;
    }
    let bwe = if load_rate > 0.0 {
        load_rate * 8.0
    } else {
        estimate
    };
    // The highest lower rung (above the lowest) whose fragment — after its playlist —
    // arrives before the buffer runs dry and within a fragment's duration.
    let playlist = ttfb_est + c.playlist_load.as_secs_f64();
    let mut lower = f64::INFINITY;
    let mut next = rung - 1;
    while next > 0 {
        lower = ttfb_est + duration * c.rungs[next].bandwidth as f64 / bwe + playlist;
        if lower < starvation.min(duration + ttfb_est) {
            break;
        }
        next -= 1;
    }
    if lower >= finish || lower > duration * 10.0 {
        return None;
    }
    let partial = match first_byte {
        Some(ttfb) => Partial::Download {
            time: l.elapsed.saturating_sub(ttfb.min(c.ttfb_estimate)),
            bytes: l.loaded,
        },
        None => Partial::Ttfb(l.elapsed),
    };
    // hls.js `findBestLevel` with the estimate at that rung's bitrate and factors of 1.
    let s = Situation {
        estimate_bps: c.rungs[next].bandwidth as f64,
        ttfb: c.ttfb_estimate,
        buffer: c.buffer,
        fragment: c.fragment,
        live: c.live,
    };
    let below = next;
    let next =
        best_rung(&c.rungs[..=below], below, &s, starvation, 0.0, (1.0, 1.0)).unwrap_or(below);
    let abort_after = (next > 0).then(|| {
        if finish > 2.0 * lower {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(lower)
        }
    });
    Some(Emergency {
        below,
        next,
        abort_after,
        partial,
        finish_secs: finish,
        lower_secs: lower,
    })
}

/// The rung an abort drops to (hls.js `abortAndSwitch`: `findBestLevel` from `next` down
/// with the estimate at the lowest rung's bitrate and factors of 1; the lowest rung if
/// none fits).
pub fn lowest_switch(
    rungs: &[Rung],
    next: usize,
    buffer: Duration,
    fragment: Duration,
    ttfb_estimate: Duration,
    live: bool,
) -> usize {
    let Some(first) = rungs.first() else {
        return 0;
    };
    let next = next.min(rungs.len() - 1);
    let s = Situation {
        estimate_bps: first.bandwidth as f64,
        ttfb: ttfb_estimate,
        buffer,
        fragment,
        live,
    };
    best_rung(
        &rungs[..=next],
        next,
        &s,
        buffer.as_secs_f64(),
        0.0,
        (1.0, 1.0),
    )
    .unwrap_or(0)
}

#[cfg(test)]
mod tests;

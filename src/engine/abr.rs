//! Adaptive bitrate (`-variant abr`): the bandwidth estimator and the rung decision of a
//! native viewer, as pure logic (no I/O, no clock: every time is passed in).
//!
//! The rules follow hls.js (docs/viewer.md lists each with its source): the estimate is
//! the smaller of a fast and a slow exponentially weighted moving average of segment
//! download rates, each sample weighted by its download time
//! (`src/utils/ewma.ts`, `src/utils/ewma-bandwidth-estimator.ts`); the next rung is the
//! highest whose bitrate fits the estimate times 0.95 (staying or going down) or 0.7
//! (going up), and, for a stream that has ended, whose next segment would arrive before
//! the buffer runs dry (`AbrController.getNextABRAutoLevel`, `findBestLevel` in
//! `src/controller/abr-controller.ts`). The code is our own.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `abrEwmaDefaultEstimate`: the estimate before any sample, bits per second.
pub const DEFAULT_ESTIMATE_BPS: f64 = 500_000.0;
/// `abrBandWidthFactor`: share of the estimate a rung at or below the current one may use.
pub const DOWN_FACTOR: f64 = 0.95;
/// `abrBandWidthUpFactor`: share of the estimate a rung above the current one may use.
pub const UP_FACTOR: f64 = 0.7;
/// `maxStarvationDelay`: seconds of rebuffering tolerated when no rung avoids it.
pub const MAX_STARVATION_DELAY: f64 = 4.0;
/// The TTFB estimate before any sample (`defaultTTFB`, 100 ms).
pub const DEFAULT_TTFB: Duration = Duration::from_millis(100);
/// Total weight below which the estimator has no estimate of its own (`minWeight_`).
const MIN_WEIGHT: f64 = 0.001;
/// Shortest download time a sample counts, ms (`minDelayMs_`).
const MIN_DELAY_MS: f64 = 50.0;

/// An exponentially weighted moving average whose samples carry a weight (seconds), with
/// the zero-start bias corrected (`EWMA` in hls.js `src/utils/ewma.ts`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    alpha: f64,
    estimate: f64,
    total_weight: f64,
}

impl Ewma {
    /// An average where about half the value comes from the last `half_life` of weight.
    pub fn new(half_life: f64) -> Self {
        let alpha = if half_life > 0.0 {
            (0.5f64.ln() / half_life).exp()
        } else {
            0.0
        };
        Ewma {
            alpha,
            estimate: 0.0,
            total_weight: 0.0,
        }
    }

    /// Fold in `value` with `weight`.
    pub fn sample(&mut self, weight: f64, value: f64) {
        let kept = self.alpha.powf(weight);
        self.estimate = value * (1.0 - kept) + kept * self.estimate;
        self.total_weight += weight;
    }

    /// The weight folded in so far.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The average, corrected for having started from zero.
    pub fn estimate(&self) -> f64 {
        if self.alpha > 0.0 {
            let zero_factor = 1.0 - self.alpha.powf(self.total_weight);
            if zero_factor > 0.0 {
                return self.estimate / zero_factor;
            }
        }
        self.estimate
    }
}

/// Half-lives of the estimator's two averages, seconds of download time
/// (`abrEwmaFastLive`, `abrEwmaSlowLive`: 3 and 9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HalfLives {
    /// The fast average's half-life.
    pub fast: f64,
    /// The slow average's half-life.
    pub slow: f64,
}

impl Default for HalfLives {
    fn default() -> Self {
        HalfLives {
            fast: 3.0,
            slow: 9.0,
        }
    }
}

impl FromStr for HalfLives {
    type Err = String;

    /// `FAST,SLOW` in seconds, each > 0 and at most 3600.
    fn from_str(s: &str) -> Result<Self, String> {
        let (f, sl) = s
            .split_once(',')
            .ok_or_else(|| format!("'{s}' is not FAST,SLOW (e.g. 3,9)"))?;
        let num = |v: &str| -> Result<f64, String> {
            let x: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("'{v}' is not a number of seconds"))?;
            if x.is_finite() && x > 0.0 && x <= 3600.0 {
                Ok(x)
            } else {
                Err(format!("{v} is not in (0, 3600] seconds"))
            }
        };
        Ok(HalfLives {
            fast: num(f)?,
            slow: num(sl)?,
        })
    }
}

impl fmt::Display for HalfLives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.fast, self.slow)
    }
}

/// The bandwidth estimator (`EwmaBandWidthEstimator` in hls.js): the smaller of a fast and
/// a slow average of download rates, plus an average of times to first byte.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandwidthEstimator {
    fast: Ewma,
    slow: Ewma,
    ttfb: Ewma,
    default_estimate: f64,
}

impl BandwidthEstimator {
    /// An estimator with these half-lives, starting at [`DEFAULT_ESTIMATE_BPS`].
    pub fn new(half_lives: HalfLives) -> Self {
        BandwidthEstimator {
            fast: Ewma::new(half_lives.fast),
            slow: Ewma::new(half_lives.slow),
            ttfb: Ewma::new(half_lives.slow),
            default_estimate: DEFAULT_ESTIMATE_BPS,
        }
    }

    /// An estimator with these half-lives starting at `default_bps` (hls.js
    /// `resetEstimator(bitrate)`).
    pub fn with_default(half_lives: HalfLives, default_bps: f64) -> Self {
        BandwidthEstimator {
            default_estimate: default_bps,
            ..Self::new(half_lives)
        }
    }

    /// Fold in a download of `bytes` that took `download` (no sample for 0 bytes). The
    /// weight is the download time in seconds, at least min(50 ms, bytes / 100 000 ms).
    pub fn sample(&mut self, download: Duration, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let min_delay = MIN_DELAY_MS.min(bytes as f64 / 100_000.0);
        let seconds = (download.as_secs_f64() * 1000.0).max(min_delay) / 1000.0;
        let bps = bytes as f64 * 8.0 / seconds;
        self.fast.sample(seconds, bps);
        self.slow.sample(seconds, bps);
    }

    /// Fold in a time to first byte (weight √2·e^(−s²/2), value at least 5 ms).
    pub fn sample_ttfb(&mut self, ttfb: Duration) {
        let s = ttfb.as_secs_f64();
        let weight = std::f64::consts::SQRT_2 * (-(s * s) / 2.0).exp();
        self.ttfb.sample(weight, (s * 1000.0).max(5.0));
    }

    /// Whether any download was folded in.
    pub fn can_estimate(&self) -> bool {
        self.fast.total_weight() >= MIN_WEIGHT
    }

    /// The estimate, bits per second: min(fast, slow), or the default before any sample.
    pub fn estimate(&self) -> f64 {
        if self.can_estimate() {
            self.fast.estimate().min(self.slow.estimate())
        } else {
            self.default_estimate
        }
    }

    /// The time-to-first-byte estimate ([`DEFAULT_TTFB`] before any sample).
    pub fn ttfb_estimate(&self) -> Duration {
        if self.ttfb.total_weight() >= MIN_WEIGHT {
            Duration::from_secs_f64(self.ttfb.estimate() / 1000.0)
        } else {
            DEFAULT_TTFB
        }
    }
}

/// One rung of the ladder: a variant's declared bit rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// `BANDWIDTH`, bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`, bits per second, if declared.
    pub average_bandwidth: Option<u64>,
}

/// What the decision looks at, at a segment boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Situation {
    /// The bandwidth estimate, bits per second.
    pub estimate_bps: f64,
    /// The time-to-first-byte estimate.
    pub ttfb: Duration,
    /// Media buffered ahead of the playhead (the time until the buffer runs dry).
    pub buffer: Duration,
    /// Duration of the segment about to be loaded.
    pub fragment: Duration,
    /// The stream is live (no `ENDLIST`): the fetch-time budget is not applied.
    pub live: bool,
}

/// The rung the next segment should come from, `current` being the rung of the last one;
/// `rungs` are in ascending order of `BANDWIDTH`. hls.js `getNextABRAutoLevel`: first a
/// rung that avoids rebuffering with the 0.95/0.7 factors; failing that, one that keeps
/// rebuffering under min(fragment, 4 s); failing that the lowest rung if it is lower
/// than the current one, else the current one.
pub fn next_rung(rungs: &[Rung], current: usize, s: &Situation) -> usize {
    if rungs.len() <= 1 {
        return 0;
    }
    let current = current.min(rungs.len() - 1);
    let starvation = s.buffer.as_secs_f64();
    if starvation > 0.0
        && let Some(best) = best_rung(rungs, current, s, starvation, 0.0, HLS_FACTORS)
    {
        return best;
    }
    let fragment = s.fragment.as_secs_f64();
    let max_starvation = if fragment > 0.0 {
        fragment.min(MAX_STARVATION_DELAY)
    } else {
        MAX_STARVATION_DELAY
    };
    best_rung(rungs, current, s, starvation, max_starvation, HLS_FACTORS).unwrap_or(0)
}

/// The (down, up) factors of the decision at a segment boundary.
const HLS_FACTORS: (f64, f64) = (DOWN_FACTOR, UP_FACTOR);

/// hls.js `findBestLevel`, for one codec family: the highest rung whose bitrate is at
/// most the estimate times `factors.1` (above `current`) or `factors.0` (at or below
/// it), and — unless live — whose segment arrives within `starvation +
/// max_starvation` seconds. The bitrate is `AVERAGE-BANDWIDTH` (when declared) while the
/// buffer holds two segments and no rebuffering is tolerated, else `BANDWIDTH`.
fn best_rung(
    rungs: &[Rung],
    current: usize,
    s: &Situation,
    starvation: f64,
    max_starvation: f64,
    factors: (f64, f64),
) -> Option<usize> {
    let fragment = s.fragment.as_secs_f64();
    let duration = if fragment > 0.0 { fragment } else { 1.0 };
    let ttfb = s.ttfb.as_secs_f64();
    let budget = starvation + max_starvation;
    (0..rungs.len()).rev().find(|&i| {
        let rung = rungs[i];
        let factor = if i > current { factors.1 } else { factors.0 };
        let usable = factor * s.estimate_bps;
        let use_average = fragment > 0.0 && starvation >= 2.0 * fragment && max_starvation == 0.0;
        let bitrate = if use_average {
            rung.average_bandwidth.unwrap_or(rung.bandwidth)
        } else {
            rung.bandwidth
        } as f64;
        let fetch = ttfb + bitrate * duration / usable;
        usable >= bitrate && (fetch <= ttfb || !fetch.is_finite() || s.live || fetch < budget)
    })
}

/// `--abr-start-rung`: where each ABR viewer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartRung {
    /// The lowest `BANDWIDTH`.
    #[default]
    Lowest,
    /// The highest `BANDWIDTH`.
    Highest,
    /// Rung N counted from 0 = lowest (the highest rung if the ladder is shorter).
    Index(usize),
}

impl StartRung {
    /// The rung index on a ladder of `len` rungs.
    pub fn index(self, len: usize) -> usize {
        let top = len.saturating_sub(1);
        match self {
            StartRung::Lowest => 0,
            StartRung::Highest => top,
            StartRung::Index(i) => i.min(top),
        }
    }
}

impl FromStr for StartRung {
    type Err = String;

    /// `lowest`, `highest` or a rung number (0 = lowest).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lowest" => Ok(StartRung::Lowest),
            "highest" => Ok(StartRung::Highest),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|&i| i < MAX_RUNGS)
                .map(StartRung::Index)
                .ok_or_else(|| {
                    format!(
                        "'{s}' is not lowest, highest or a rung number 0..{}",
                        MAX_RUNGS - 1
                    )
                }),
        }
    }
}

impl fmt::Display for StartRung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartRung::Lowest => f.write_str("lowest"),
            StartRung::Highest => f.write_str("highest"),
            StartRung::Index(i) => write!(f, "{i}"),
        }
    }
}

/// Most rungs the figures tell apart (rungs above share the last slot); also the bound
/// of the `rung` label on /metrics.
pub const MAX_RUNGS: usize = 16;

/// The ABR settings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AbrSettings {
    /// `--abr-start-rung`.
    pub start: StartRung,
    /// `--abr-ewma`.
    pub half_lives: HalfLives,
}

/// A rung change decided at a segment boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// The rung of the last segment.
    pub from: usize,
    /// The rung of the next one.
    pub to: usize,
}

/// One viewer's ABR controller: the estimator, the ladder and the current rung. The rung
/// changes only in [`Abr::at_boundary`], which the viewer calls before each segment.
#[derive(Debug, Clone)]
pub struct Abr {
    rungs: Vec<Rung>,
    current: usize,
    estimator: BandwidthEstimator,
    half_lives: HalfLives,
    /// How long the last media playlist load took.
    playlist_load: Duration,
}

impl Abr {
    /// A controller on `rungs` (ascending `BANDWIDTH`), starting at `settings.start`.
    pub fn new(rungs: Vec<Rung>, settings: AbrSettings) -> Self {
        let current = settings.start.index(rungs.len());
        Abr {
            rungs,
            current,
            estimator: BandwidthEstimator::new(settings.half_lives),
            half_lives: settings.half_lives,
            playlist_load: Duration::ZERO,
        }
    }

    /// A media playlist load took `took` (the abandon rule adds it to a switch's cost).
    pub fn playlist_loaded(&mut self, took: Duration) {
        self.playlist_load = took;
    }

    /// While a segment of `fragment` loads from `rung` (`buffer` ahead of the playhead):
    /// the abandon rule ([`abandon::check`]). When it fires the partial download is
    /// sampled, the estimator reset to the rung found below if the estimate × 0.7 was
    /// still above that rung's bitrate, and the current rung becomes `next`.
    pub fn abandon_check(
        &mut self,
        rung: usize,
        loading: &abandon::Loading,
        buffer: Duration,
        fragment: Duration,
        live: bool,
    ) -> Option<(abandon::Emergency, Option<Switch>)> {
        let c = abandon::Context {
            rungs: &self.rungs,
            rung,
            estimate_bps: self.estimator.estimate(),
            ttfb_estimate: self.estimator.ttfb_estimate(),
            buffer,
            fragment,
            live,
            playlist_load: self.playlist_load,
        };
        let e = abandon::check(&c, loading)?;
        match e.partial {
            abandon::Partial::Download { time, bytes } => self.estimator.sample(time, bytes),
            abandon::Partial::Ttfb(t) => self.estimator.sample_ttfb(t),
        }
        let below_bps = self.rungs[e.below].bandwidth as f64;
        if self.estimator.estimate() * UP_FACTOR > below_bps {
            self.estimator = BandwidthEstimator::with_default(self.half_lives, below_bps);
        }
        Some((e, self.move_to(e.next)))
    }

    /// Abort the download the abandon rule fired on (its `next` rung above the lowest):
    /// drop to the rung [`abandon::lowest_switch`] picks and reset the estimator to that
    /// rung's bitrate.
    pub fn abort(
        &mut self,
        next: usize,
        buffer: Duration,
        fragment: Duration,
        live: bool,
    ) -> Option<Switch> {
        let to = abandon::lowest_switch(
            &self.rungs,
            next,
            buffer,
            fragment,
            self.estimator.ttfb_estimate(),
            live,
        );
        let bps = self
            .rungs
            .get(to)
            .map_or(DEFAULT_ESTIMATE_BPS, |r| r.bandwidth as f64);
        self.estimator = BandwidthEstimator::with_default(self.half_lives, bps);
        self.move_to(to)
    }

    fn move_to(&mut self, to: usize) -> Option<Switch> {
        let from = self.current;
        self.current = to;
        (to != from).then_some(Switch { from, to })
    }

    /// The rung segments come from now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// The ladder.
    pub fn rungs(&self) -> &[Rung] {
        &self.rungs
    }

    /// The estimator.
    pub fn estimator(&self) -> &BandwidthEstimator {
        &self.estimator
    }

    /// A segment of `bytes` loaded in `total`, its first byte after `ttfb`: hls.js
    /// `onFragBuffered` samples the load time less min(TTFB, TTFB estimate).
    pub fn segment_loaded(&mut self, total: Duration, ttfb: Option<Duration>, bytes: u64) {
        let waited = ttfb.unwrap_or_default().min(self.estimator.ttfb_estimate());
        if let Some(t) = ttfb {
            self.estimator.sample_ttfb(t);
        }
        self.estimator.sample(total.saturating_sub(waited), bytes);
    }

    /// At a segment boundary: decide the rung of the next segment (of `fragment`, with
    /// `buffer` ahead of the playhead); `Some` when it changes. Before the first download
    /// the start rung stays (the rung was chosen, not estimated).
    pub fn at_boundary(
        &mut self,
        buffer: Duration,
        fragment: Duration,
        live: bool,
    ) -> Option<Switch> {
        if !self.estimator.can_estimate() {
            return None;
        }
        let s = Situation {
            estimate_bps: self.estimator.estimate(),
            ttfb: self.estimator.ttfb_estimate(),
            buffer,
            fragment,
            live,
        };
        let to = next_rung(&self.rungs, self.current, &s);
        let from = self.current;
        self.current = to;
        (to != from).then_some(Switch { from, to })
    }
}

/// Which rung the media ahead of the playhead came from, so played time is credited to
/// the right rung: a queue of (rung, media not yet played), bounded to
/// [`RungLedger::CAPACITY`] entries (the oldest are dropped).
#[derive(Debug, Clone, Default)]
pub struct RungLedger {
    queue: std::collections::VecDeque<(usize, Duration)>,
}

impl RungLedger {
    /// Most entries kept.
    pub const CAPACITY: usize = 64;

    /// `media` of `rung` was buffered.
    pub fn buffered(&mut self, rung: usize, media: Duration) {
        if self.queue.len() == Self::CAPACITY {
            self.queue.pop_front();
        }
        match self.queue.back_mut() {
            Some((r, m)) if *r == rung => *m += media,
            _ => self.queue.push_back((rung, media)),
        }
    }

    /// `played` media was played: the (rung, time) pieces it covers, oldest first. Played
    /// time beyond what was recorded is credited to the last rung recorded.
    pub fn played(&mut self, mut played: Duration) -> Vec<(usize, Duration)> {
        let mut out: Vec<(usize, Duration)> = Vec::new();
        while !played.is_zero() {
            let len = self.queue.len();
            let Some((rung, left)) = self.queue.front_mut() else {
                break;
            };
            let rung = *rung;
            if left.is_zero() && len == 1 {
                // Keep the last rung known, empty, and credit the excess to it.
                push_piece(&mut out, rung, played);
                break;
            }
            let take = played.min(*left);
            *left -= take;
            played -= take;
            if !take.is_zero() {
                push_piece(&mut out, rung, take);
            }
            if left.is_zero() && len > 1 {
                self.queue.pop_front();
            }
        }
        out
    }

    /// The buffer was dropped (a re-tune): nothing queued is going to be played, but the
    /// rung last recorded is kept.
    pub fn clear(&mut self) {
        if let Some(&(rung, _)) = self.queue.back() {
            self.queue.clear();
            self.queue.push_back((rung, Duration::ZERO));
        }
    }
}

fn push_piece(out: &mut Vec<(usize, Duration)>, rung: usize, media: Duration) {
    match out.last_mut() {
        Some((r, m)) if *r == rung => *m += media,
        _ => out.push((rung, media)),
    }
}

pub mod abandon;

#[cfg(test)]
mod tests;

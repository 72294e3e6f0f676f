//! Fault injection: configuration, reproducible per-request decisions, runtime control.
//!
//! Decisions are a pure function of (seed, request kind, per-kind request counter,
//! time since origin start, configuration): the n-th segment request of a run with the
//! same seed and faults always gets the same fate, whatever the other kinds do.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Request kinds faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `/master.m3u8`.
    Master,
    /// Media playlists.
    Playlist,
    /// Media segments.
    Segment,
    /// LL-HLS parts (including preload-hinted ones).
    Part,
    /// Blocking playlist reloads (media playlist requests with `_HLS_msn`).
    Blocking,
}

impl FaultKind {
    /// All kinds, in index order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Master,
        FaultKind::Playlist,
        FaultKind::Segment,
        FaultKind::Part,
        FaultKind::Blocking,
    ];

    /// Stable index 0..5.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name as used on the command line and in the access log.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Master => "master",
            FaultKind::Playlist => "playlist",
            FaultKind::Segment => "segment",
            FaultKind::Part => "part",
            FaultKind::Blocking => "blocking",
        }
    }
}

/// One value per request kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerKind<T> {
    /// For `/master.m3u8`.
    pub master: T,
    /// For media playlists.
    pub playlist: T,
    /// For segments.
    pub segment: T,
    /// For LL-HLS parts.
    pub part: T,
    /// For blocking playlist reloads.
    pub blocking: T,
}

impl<T> PerKind<T> {
    /// The value for `kind`.
    pub fn get(&self, kind: FaultKind) -> &T {
        match kind {
            FaultKind::Master => &self.master,
            FaultKind::Playlist => &self.playlist,
            FaultKind::Segment => &self.segment,
            FaultKind::Part => &self.part,
            FaultKind::Blocking => &self.blocking,
        }
    }

    /// The mutable value for `kind`.
    pub fn get_mut(&mut self, kind: FaultKind) -> &mut T {
        match kind {
            FaultKind::Master => &mut self.master,
            FaultKind::Playlist => &mut self.playlist,
            FaultKind::Segment => &mut self.segment,
            FaultKind::Part => &mut self.part,
            FaultKind::Blocking => &mut self.blocking,
        }
    }
}

/// Answer requests with `status` with probability `probability`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorRate {
    /// HTTP status (400–599; anything else is served as 500).
    pub status: u16,
    /// Probability in [0, 1] (clamped).
    pub probability: f64,
}

/// Fail every request of `kind` with `status` during [from, from + duration) after start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorWindow {
    /// Targeted kind.
    pub kind: FaultKind,
    /// HTTP status (400–599; anything else is served as 500).
    pub status: u16,
    /// Start, relative to origin start.
    pub from: Duration,
    /// Length of the window.
    pub duration: Duration,
}

/// Freeze media playlists during [from, from + duration) after origin start: they stay
/// byte-identical to the playlist at `from`, then jump to the current live window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freeze {
    /// Start, relative to origin start.
    pub from: Duration,
    /// Length of the freeze.
    pub duration: Duration,
}

/// Late media: every part (and segment) due in [from, from + duration) after origin
/// start is published `late` after its time; those due in the `late` that follows are
/// published together at from + duration + late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateParts {
    /// Start, relative to origin start.
    pub from: Duration,
    /// Length of the window.
    pub duration: Duration,
    /// How late each part is published.
    pub late: Duration,
}

/// Everything the origin can do wrong. `Default` is "no faults".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Delay before the response headers, per kind.
    pub delay: PerKind<Duration>,
    /// Segment bodies are sent at this many bytes per second (None = full speed).
    pub segment_body_rate: Option<u64>,
    /// Random error responses, per kind.
    pub error: PerKind<Option<ErrorRate>>,
    /// Scheduled error windows (checked before the random errors).
    pub error_windows: Vec<ErrorWindow>,
    /// Probability per kind of resetting the connection mid-body (clamped to [0, 1]).
    pub reset: PerKind<f64>,
    /// Media playlist freeze.
    pub freeze: Option<Freeze>,
    /// Parts (and segments) published late.
    pub late_parts: Option<LateParts>,
    /// Production stops: nothing is published during [from, from + duration), then the
    /// parts due meanwhile appear at once (a stuck part: blocking requests time out).
    pub stuck_parts: Option<Freeze>,
    /// Delivery directives ignored during [from, from + duration): blocking reloads are
    /// answered at once with the whole current playlist (a CDN dropping the query string).
    pub no_block: Option<Freeze>,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Wait this long before answering.
    pub delay: Duration,
    /// Answer with this error status instead of the resource.
    pub error: Option<u16>,
    /// Abort the connection after this fraction (0.25–0.75) of the body.
    pub reset_at: Option<f64>,
    /// Pace the body at this many bytes per second.
    pub body_rate: Option<u64>,
}

impl FaultConfig {
    /// The fate of the `seq`-th request (0-based, counted per kind) of `kind` arriving
    /// `elapsed` after origin start. Pure and deterministic.
    pub fn decide(&self, seed: u64, kind: FaultKind, seq: u64, elapsed: Duration) -> Decision {
        let mut rng = SmallRng::seed_from_u64(mix(seed, kind, seq));
        // Always draw the same three numbers so that changing one fault does not shift
        // the decisions of another.
        let (u_err, u_reset, u_cut): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
        let scheduled = self
            .error_windows
            .iter()
            .find(|w| {
                w.kind == kind && elapsed >= w.from && elapsed < w.from.saturating_add(w.duration)
            })
            .map(|w| w.status);
        let random = self
            .error
            .get(kind)
            .filter(|e| u_err < e.probability.clamp(0.0, 1.0))
            .map(|e| e.status);
        let error = scheduled.or(random).map(sanitize_status);
        let reset_p = self.reset.get(kind).clamp(0.0, 1.0);
        let reset_at = (error.is_none() && u_reset < reset_p).then_some(0.25 + 0.5 * u_cut);
        Decision {
            delay: *self.delay.get(kind),
            error,
            reset_at,
            body_rate: match kind {
                FaultKind::Segment => self.segment_body_rate.filter(|r| *r > 0),
                _ => None,
            },
        }
    }

    /// Whether a playlist request arriving at `elapsed` has its delivery directives
    /// ignored (`--fault-no-block`).
    pub fn ignores_directives(&self, elapsed: Duration) -> bool {
        self.no_block
            .is_some_and(|w| elapsed >= w.from && elapsed < w.from.saturating_add(w.duration))
    }

    /// The time at which media playlists are rendered for a request at `elapsed`: the
    /// production clock ([`Self::production_time`]), held still by a freeze.
    pub fn playlist_time(&self, elapsed: Duration) -> Duration {
        let t = self.production_time(elapsed);
        match self.freeze {
            Some(f) if t >= f.from && t < f.from.saturating_add(f.duration) => f.from,
            _ => t,
        }
    }

    /// The production clock at `elapsed`: media due at time c is published when this
    /// clock reaches c. Identity without late or stuck parts; never decreases.
    pub fn production_time(&self, elapsed: Duration) -> Duration {
        let mut t = elapsed;
        if let Some(l) = self.late_parts {
            let end = l.from.saturating_add(l.duration).saturating_add(l.late);
            if t >= l.from && t < end {
                t = l.from.max(t.saturating_sub(l.late));
            }
        }
        if let Some(s) = self.stuck_parts
            && t >= s.from
            && t < s.from.saturating_add(s.duration)
        {
            t = s.from;
        }
        t
    }

    /// The earliest `elapsed` at which [`Self::playlist_time`] reaches `v` (inverse of a
    /// non-decreasing clock; used to schedule a blocking request's wake-up).
    pub fn playlist_time_reaches(&self, v: Duration) -> Duration {
        let mut v = v;
        if let Some(f) = self.freeze
            && v > f.from
        {
            v = v.max(f.from.saturating_add(f.duration));
        }
        self.production_time_reaches(v)
    }

    /// The earliest `elapsed` at which [`Self::production_time`] reaches `v`.
    pub fn production_time_reaches(&self, v: Duration) -> Duration {
        let mut v = v;
        if let Some(s) = self.stuck_parts
            && v > s.from
        {
            v = v.max(s.from.saturating_add(s.duration));
        }
        if let Some(l) = self.late_parts
            && v > l.from
        {
            let end = l.from.saturating_add(l.duration);
            v = if v < end {
                v.saturating_add(l.late)
            } else {
                v.max(end.saturating_add(l.late))
            };
        }
        v
    }
}

/// Maps statuses outside 400–599 to 500.
fn sanitize_status(s: u16) -> u16 {
    if (400..=599).contains(&s) { s } else { 500 }
}

/// SplitMix64 finaliser.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-request RNG seed from (seed, kind, seq).
fn mix(seed: u64, kind: FaultKind, seq: u64) -> u64 {
    splitmix(splitmix(seed ^ ((kind.index() as u64 + 1) << 60)) ^ seq)
}

/// Live, shared fault configuration: read per request, changeable at runtime.
#[derive(Debug)]
pub struct FaultControl {
    seed: u64,
    cfg: RwLock<FaultConfig>,
    counters: [AtomicU64; 5],
}

impl FaultControl {
    /// Control starting from `cfg`, deciding with `seed`.
    pub fn new(seed: u64, cfg: FaultConfig) -> Self {
        Self {
            seed,
            cfg: RwLock::new(cfg),
            counters: Default::default(),
        }
    }

    /// The seed decisions derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A copy of the current configuration.
    pub fn snapshot(&self) -> FaultConfig {
        self.read(|c| c.clone())
    }

    /// Replaces the whole configuration.
    pub fn set(&self, cfg: FaultConfig) {
        self.write(|c| *c = cfg);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.set(FaultConfig::default());
    }

    /// Sets the delay before answering requests of `kind`.
    pub fn set_delay(&self, kind: FaultKind, delay: Duration) {
        self.write(|c| *c.delay.get_mut(kind) = delay);
    }

    /// Paces segment bodies at `bytes_per_sec` (`None` or 0 = full speed).
    pub fn set_segment_body_rate(&self, bytes_per_sec: Option<u64>) {
        self.write(|c| c.segment_body_rate = bytes_per_sec.filter(|r| *r > 0));
    }

    /// Fails requests of `kind` with `status` with `probability` (0 removes it).
    pub fn set_error(&self, kind: FaultKind, status: u16, probability: f64) {
        let e = (probability > 0.0).then_some(ErrorRate {
            status,
            probability,
        });
        self.write(|c| *c.error.get_mut(kind) = e);
    }

    /// Adds a scheduled error window.
    pub fn add_error_window(&self, window: ErrorWindow) {
        self.write(|c| c.error_windows.push(window));
    }

    /// Removes all scheduled error windows.
    pub fn clear_error_windows(&self) {
        self.write(|c| c.error_windows.clear());
    }

    /// Resets connections mid-body for requests of `kind` with `probability`.
    pub fn set_reset(&self, kind: FaultKind, probability: f64) {
        self.write(|c| *c.reset.get_mut(kind) = probability);
    }

    /// Sets (or with `None` removes) the playlist freeze.
    pub fn set_freeze(&self, freeze: Option<Freeze>) {
        self.write(|c| c.freeze = freeze);
    }

    /// Decides the fate of the next request of `kind` arriving at `elapsed`.
    pub fn decide(&self, kind: FaultKind, elapsed: Duration) -> Decision {
        let seq = self.counters[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.read(|c| c.decide(self.seed, kind, seq, elapsed))
    }

    /// Playlist render time for a request at `elapsed` (see [`FaultConfig::playlist_time`]).
    pub fn playlist_time(&self, elapsed: Duration) -> Duration {
        self.read(|c| c.playlist_time(elapsed))
    }

    /// Production clock at `elapsed` (see [`FaultConfig::production_time`]).
    pub fn production_time(&self, elapsed: Duration) -> Duration {
        self.read(|c| c.production_time(elapsed))
    }

    /// See [`FaultConfig::playlist_time_reaches`].
    pub fn playlist_time_reaches(&self, v: Duration) -> Duration {
        self.read(|c| c.playlist_time_reaches(v))
    }

    /// See [`FaultConfig::production_time_reaches`].
    pub fn production_time_reaches(&self, v: Duration) -> Duration {
        self.read(|c| c.production_time_reaches(v))
    }

    /// Sets (or with `None` removes) late parts.
    pub fn set_late_parts(&self, late: Option<LateParts>) {
        self.write(|c| c.late_parts = late);
    }

    /// See [`FaultConfig::ignores_directives`].
    pub fn ignores_directives(&self, elapsed: Duration) -> bool {
        self.read(|c| c.ignores_directives(elapsed))
    }

    /// Sets (or with `None` removes) stuck parts.
    pub fn set_stuck_parts(&self, stuck: Option<Freeze>) {
        self.write(|c| c.stuck_parts = stuck);
    }

    fn read<R>(&self, f: impl FnOnce(&FaultConfig) -> R) -> R {
        match self.cfg.read() {
            Ok(g) => f(&g),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write(&self, f: impl FnOnce(&mut FaultConfig)) {
        match self.cfg.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(seed: u64, p: f64, n: u64) -> Vec<bool> {
        let fc = FaultControl::new(seed, FaultConfig::default());
        fc.set_error(FaultKind::Segment, 503, p);
        (0..n)
            .map(|_| {
                fc.decide(FaultKind::Segment, Duration::ZERO)
                    .error
                    .is_some()
            })
            .collect()
    }

    #[test]
    fn reproducible_with_seed() {
        let a = errors(7, 0.3, 2000);
        assert_eq!(a, errors(7, 0.3, 2000));
        assert_ne!(a, errors(8, 0.3, 2000));
        let hits = a.iter().filter(|x| **x).count();
        assert!((500..700).contains(&hits), "{hits} of 2000 at p=0.3");
    }

    #[test]
    fn other_kinds_do_not_shift_decisions() {
        let a = errors(3, 0.5, 100);
        let fc = FaultControl::new(3, FaultConfig::default());
        fc.set_error(FaultKind::Segment, 503, 0.5);
        let b: Vec<bool> = (0..100)
            .map(|_| {
                fc.decide(FaultKind::Playlist, Duration::ZERO);
                fc.decide(FaultKind::Segment, Duration::ZERO)
                    .error
                    .is_some()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn windows_delays_resets_rates() {
        let cfg = FaultConfig {
            delay: PerKind {
                playlist: Duration::from_millis(300),
                ..Default::default()
            },
            segment_body_rate: Some(1000),
            error_windows: vec![ErrorWindow {
                kind: FaultKind::Master,
                status: 404,
                from: Duration::from_secs(5),
                duration: Duration::from_secs(2),
            }],
            reset: PerKind {
                segment: 1.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let d = |k, s| cfg.decide(1, k, 0, Duration::from_millis(s));
        assert_eq!(d(FaultKind::Playlist, 0).delay, Duration::from_millis(300));
        assert_eq!(d(FaultKind::Segment, 0).delay, Duration::ZERO);
        assert_eq!(d(FaultKind::Master, 4999).error, None);
        assert_eq!(d(FaultKind::Master, 5000).error, Some(404));
        assert_eq!(d(FaultKind::Master, 6999).error, Some(404));
        assert_eq!(d(FaultKind::Master, 7000).error, None);
        assert_eq!(d(FaultKind::Segment, 0).body_rate, Some(1000));
        assert_eq!(d(FaultKind::Playlist, 0).body_rate, None);
        let r = d(FaultKind::Segment, 0).reset_at.unwrap();
        assert!((0.25..0.75).contains(&r));
        assert_eq!(d(FaultKind::Playlist, 0).reset_at, None);
    }

    #[test]
    fn freeze_time() {
        let cfg = FaultConfig {
            freeze: Some(Freeze {
                from: Duration::from_secs(10),
                duration: Duration::from_secs(4),
            }),
            ..Default::default()
        };
        let t = |s| cfg.playlist_time(Duration::from_secs(s));
        assert_eq!(
            [t(9), t(10), t(13), t(14)],
            [9, 10, 10, 14].map(Duration::from_secs)
        );
    }

    #[test]
    fn directives_are_ignored_only_inside_the_no_block_window() {
        let cfg = FaultConfig {
            no_block: Some(Freeze {
                from: Duration::from_secs(10),
                duration: Duration::from_secs(4),
            }),
            ..Default::default()
        };
        let ignored = |s| cfg.ignores_directives(Duration::from_secs(s));
        assert_eq!(
            [ignored(9), ignored(10), ignored(13), ignored(14)],
            [false, true, true, false]
        );
        assert!(!FaultConfig::default().ignores_directives(Duration::from_secs(10)));
    }

    #[test]
    fn production_clock_and_its_inverse() {
        let ms = Duration::from_millis;
        let cfg = FaultConfig {
            late_parts: Some(LateParts {
                from: ms(1000),
                duration: ms(1000),
                late: ms(300),
            }),
            stuck_parts: Some(Freeze {
                from: ms(5000),
                duration: ms(2000),
            }),
            ..Default::default()
        };
        let c = |t| cfg.production_time(ms(t)).as_millis();
        assert_eq!(
            [c(999), c(1000), c(1200), c(1300), c(1500)],
            [999, 1000, 1000, 1000, 1200]
        );
        assert_eq!([c(2299), c(2300), c(4000)], [1999, 2300, 4000]);
        assert_eq!(
            [c(4999), c(5000), c(6999), c(7000)],
            [4999, 5000, 5000, 7000]
        );
        let inv = |v| cfg.production_time_reaches(ms(v)).as_millis();
        // Due at 1.2 s: published 300 ms late; due at 2.1 s: with the burst at 2.3 s.
        assert_eq!(
            [inv(900), inv(1000), inv(1200), inv(2100), inv(2500)],
            [900, 1000, 1500, 2300, 2500]
        );
        assert_eq!([inv(5000), inv(5001), inv(7500)], [5000, 7000, 7500]);
        for v in (0..8000).step_by(7) {
            let t = cfg.production_time_reaches(ms(v));
            assert!(cfg.production_time(t) >= ms(v), "{v}");
            if t > Duration::ZERO {
                assert!(cfg.production_time(t - ms(1)) < ms(v), "{v}: earliest");
            }
        }
    }

    #[test]
    fn odd_status_is_served_as_500() {
        let fc = FaultControl::new(1, FaultConfig::default());
        fc.set_error(FaultKind::Master, 42, 1.0);
        assert_eq!(
            fc.decide(FaultKind::Master, Duration::ZERO).error,
            Some(500)
        );
    }
}

//! Service-level objectives and whether a failing one stops the run early.

use std::time::Duration;

use super::cli::{MergeArgs, RunArgs, SloArgs};
use super::parse::{count, flag_duration, unit_interval};
use super::problems::Problems;

/// Default `--slo-abort-grace`.
pub const DEFAULT_ABORT_GRACE: Duration = Duration::from_secs(30);

/// Service-level objectives; any failure makes the run exit 3.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slo {
    /// Peak active (playing) viewers must reach this share of the target.
    pub min_active_ratio: Option<f64>,
    /// At most this many viewers stalled at once (peak).
    pub max_stalled: Option<u64>,
    /// Failed/finished requests at most this.
    pub max_error_rate: Option<f64>,
    /// p95 segment TTFB at most this.
    pub p95_segment_ttfb: Option<Duration>,
    /// `--slo-abort`: the grace (`--slo-abort-grace`) when on; `None` = run to the end.
    /// Only ever set when an objective is.
    pub abort: Option<Duration>,
}

impl Slo {
    /// Any objective set.
    pub fn any(&self) -> bool {
        self.min_active_ratio.is_some()
            || self.max_stalled.is_some()
            || self.max_error_rate.is_some()
            || self.p95_segment_ttfb.is_some()
    }

    /// Validate the `--slo-*` flags.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        let mut slo = Slo::objectives(&a.slo, p);
        slo.abort = abort(a, &slo, p);
        slo
    }

    /// Validate the objectives of `hls-swarm merge` (no `--slo-abort`: nothing runs).
    pub fn from_merge_args(a: &MergeArgs, p: &mut Problems) -> Self {
        Slo::objectives(&a.slo, p)
    }

    /// The objectives from `--slo-min-active-ratio`, `--slo-max-stalled`,
    /// `--slo-max-error-rate` and `--slo-p95-segment-ttfb`.
    fn objectives(a: &SloArgs, p: &mut Problems) -> Self {
        let ratio = a.slo_min_active_ratio.as_deref();
        let stalled = a.slo_max_stalled.as_deref();
        let rate = a.slo_max_error_rate.as_deref();
        let p95 = a.slo_p95_segment_ttfb.as_deref();
        Slo {
            min_active_ratio: p.optional(ratio, |s| {
                unit_interval("--slo-min-active-ratio", s, "ratio", "1.0")
            }),
            max_stalled: p.optional(stalled, |s| count("--slo-max-stalled", s, 0, u64::MAX)),
            max_error_rate: p.optional(rate, |s| {
                unit_interval("--slo-max-error-rate", s, "rate", "0.001")
            }),
            p95_segment_ttfb: p.optional(p95, |s| flag_duration("--slo-p95-segment-ttfb", s)),
            abort: None,
        }
    }
}

/// `--slo-abort` and `--slo-abort-grace`, which need each other and an SLO to act on.
fn abort(a: &RunArgs, slo: &Slo, p: &mut Problems) -> Option<Duration> {
    let grace = match a.slo_abort_grace.as_deref() {
        None => DEFAULT_ABORT_GRACE,
        Some(s) => p.ok(flag_duration("--slo-abort-grace", s))?,
    };
    if !a.slo_abort {
        p.check(a.slo_abort_grace.is_some(), || {
            "--slo-abort-grace has no effect without --slo-abort".into()
        });
        return None;
    }
    if !slo.any() {
        p.push(
            "--slo-abort needs an SLO to watch (e.g. --slo-max-stalled 0 or --slo-max-error-rate 0.01)",
        );
        return None;
    }
    Some(grace)
}

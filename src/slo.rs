//! Service-level objectives from the operations guide's success criteria, evaluated on the
//! final snapshot. Any failed check makes the run exit 3. With `--slo-abort`,
//! [`AbortWatch`] also judges them every tick and stops the run early once one has failed
//! for good.

use std::time::Duration;

use serde::Serialize;

use crate::config::Slo;
use crate::stats::event::RequestKind;
use crate::stats::snapshot::Snapshot;

/// One evaluated objective.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloCheck {
    /// Flag name of the objective.
    pub name: &'static str,
    /// What was required, human-readable.
    pub objective: String,
    /// What was measured, human-readable.
    pub actual: String,
    /// Whether it held.
    pub passed: bool,
}

/// All evaluated objectives.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloResult {
    /// Every check passed and the run was not aborted (true when there are none).
    pub passed: bool,
    /// The checks.
    pub checks: Vec<SloCheck>,
    /// Why `--slo-abort` stopped the run early, if it did (the run then fails whatever
    /// the final figures say).
    pub aborted: Option<String>,
}

impl SloResult {
    /// Mark the verdict as failed by an `--slo-abort` stop.
    pub fn abort(&mut self, why: String) {
        self.passed = false;
        self.aborted = Some(why);
    }
}

/// Evaluate `slo` against the final snapshot.
pub fn evaluate(slo: &Slo, s: &Snapshot) -> SloResult {
    let mut checks = Vec::new();
    if let Some(ratio) = slo.min_active_ratio {
        let need = (ratio * s.target as f64).ceil() as u64;
        checks.push(SloCheck {
            name: "slo-min-active-ratio",
            objective: format!(
                "peak active (playing) ≥ {need} ({ratio} × {} target)",
                s.target
            ),
            actual: format!("peak active {}", s.peak_active),
            passed: s.peak_active >= need,
        });
    }
    if let Some(max) = slo.max_stalled {
        checks.push(SloCheck {
            name: "slo-max-stalled",
            objective: format!("at most {max} viewers stalled at once"),
            actual: format!(
                "peak stalled {} ({} stalls in all, {} never started)",
                s.peak_stalled,
                s.stalls(),
                s.startup_timeouts()
            ),
            passed: s.peak_stalled <= max,
        });
    }
    if let Some(max) = slo.max_error_rate {
        let rate = s.error_rate();
        checks.push(SloCheck {
            name: "slo-max-error-rate",
            objective: format!("error rate ≤ {max}"),
            actual: format!(
                "error rate {rate:.6} ({} of {})",
                s.total_errors(),
                s.total_requests()
            ),
            passed: rate <= max,
        });
    }
    if let Some(max) = slo.p95_segment_ttfb {
        let p95 = s.kind(RequestKind::Segment).ttfb.p95;
        checks.push(SloCheck {
            name: "slo-p95-segment-ttfb",
            objective: format!("p95 segment TTFB ≤ {:.3}s", max.as_secs_f64()),
            actual: format!("p95 segment TTFB {p95:.4}s"),
            passed: p95 <= max.as_secs_f64(),
        });
    }
    SloResult {
        passed: checks.iter().all(|c| c.passed),
        checks,
        aborted: None,
    }
}

/// How a check may fail for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// A peak that only grows (`--slo-max-stalled`): failed once, failed for the run.
    Never,
    /// A whole-run rate, percentile or a peak still to be reached: judged from the end
    /// of the ramp plus the grace, and must fail without a break for the grace.
    AfterGrace,
}

fn recovery(name: &str) -> Recovery {
    match name {
        "slo-max-stalled" => Recovery::Never,
        _ => Recovery::AfterGrace,
    }
}

/// `--slo-abort`: watches the SLOs tick by tick and says when the run should stop because
/// one has failed in a way it cannot recover from. Pure: it reads only the snapshots it
/// is given (their `elapsed` is its clock).
///
/// * a peak that can only grow (`--slo-max-stalled`) aborts on the first tick it fails;
/// * the others (`--slo-max-error-rate`, `--slo-p95-segment-ttfb`, whole-run figures, and
///   `--slo-min-active-ratio`, a peak still to be reached) are judged only from `grace`
///   after the ramp started its last viewer, and abort once they have failed at every
///   tick for `grace`. A single passing tick restarts the count.
///
/// It judges the same figures as the final verdict, so a run it stops has an SLO that was
/// failing when it stopped.
#[derive(Debug, Clone)]
pub struct AbortWatch {
    slo: Slo,
    grace: Duration,
    ramp_done_at: Option<Duration>,
    failing_since: Vec<(&'static str, Duration)>,
}

impl AbortWatch {
    /// Watch `slo`, with `grace` after the ramp and as the time to fail without a break.
    pub fn new(slo: Slo, grace: Duration) -> Self {
        AbortWatch {
            slo,
            grace,
            ramp_done_at: None,
            failing_since: Vec::new(),
        }
    }

    /// Judge one tick's snapshot; `Some(why)` when the run should stop now.
    pub fn observe(&mut self, s: &Snapshot) -> Option<String> {
        let now = s.elapsed;
        if self.ramp_done_at.is_none() && s.ramped >= s.target {
            self.ramp_done_at = Some(now);
        }
        let judged_from = self.ramp_done_at.map(|r| r + self.grace);
        let result = evaluate(&self.slo, s);
        let mut verdict = None;
        for c in &result.checks {
            let since = self.failing_since.iter().position(|(n, _)| *n == c.name);
            if c.passed {
                if let Some(i) = since {
                    self.failing_since.swap_remove(i);
                }
                continue;
            }
            match recovery(c.name) {
                Recovery::Never => {
                    verdict.get_or_insert_with(|| {
                        format!("{} failed ({}; it cannot recover)", c.name, c.actual)
                    });
                }
                Recovery::AfterGrace => {
                    if judged_from.is_none_or(|from| now < from) {
                        continue;
                    }
                    let start = match since {
                        Some(i) => self.failing_since[i].1,
                        None => {
                            self.failing_since.push((c.name, now));
                            now
                        }
                    };
                    if now.saturating_sub(start) >= self.grace {
                        verdict.get_or_insert_with(|| {
                            format!(
                                "{} failed without a break for {} s ({})",
                                c.name,
                                self.grace.as_secs_f64(),
                                c.actual
                            )
                        });
                    }
                }
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::accumulator::Accumulator;
    use crate::stats::collector::Collector;
    use crate::stats::event::{ErrorClass, Event, RequestDone};
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;

    const S: Duration = Duration::from_secs(1);

    /// A snapshot at `t` s with `ramped` of 4 viewers started, `peak_stalled`, and
    /// `errors` failed of 100 requests.
    fn snap(t: u64, ramped: u64, peak_stalled: u64, errors: u64) -> Snapshot {
        let hub = StatsHub::start(1, 16);
        let mut s = Collector::new(4, None).tick(
            &hub,
            &LiveGauges::default(),
            Duration::from_secs(t),
            false,
        );
        s.ramped = ramped;
        s.peak_stalled = peak_stalled;
        s.peak_active = 4;
        let mut acc = Accumulator::default();
        for i in 0..100 {
            acc.record(&Event::Request(RequestDone {
                kind: RequestKind::Segment,
                status: Some(if i < errors { 503 } else { 200 }),
                ttfb: Some(Duration::from_millis(5)),
                total: Duration::from_millis(10),
                bytes: 100,
                streamed: 0,
                error: (i < errors).then_some(ErrorClass::Http5xx),
                redirects: 0,
                retry: false,
                aborted: false,
                protocol: None,
                connections: [0; 2],
                hold: None,
                lateness: None,
                stream: None,
            }));
        }
        s.totals = crate::stats::totals::Totals::of(&acc);
        s
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_peak_that_cannot_recover_aborts_at_once_even_during_the_ramp() {
        let slo = Slo {
            max_stalled: Some(0),
            ..Slo::default()
        };
        let mut w = AbortWatch::new(slo, 30 * S);
        assert_eq!(w.observe(&snap(1, 1, 0, 0)), None);
        let why = w.observe(&snap(2, 2, 1, 0)).unwrap_or_default();
        assert!(why.starts_with("slo-max-stalled failed"), "{why}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_rate_aborts_only_after_ramp_plus_grace_and_a_whole_grace_of_failing() {
        let slo = Slo {
            max_error_rate: Some(0.01),
            ..Slo::default()
        };
        let mut w = AbortWatch::new(slo, 10 * S);
        // Failing during the ramp and the grace after it: not judged yet.
        for t in 1..=4 {
            assert_eq!(w.observe(&snap(t, t, 0, 50)), None, "ramp, t={t}");
        }
        // Ramp done at 4 s: judged from 14 s; must fail until 24 s.
        for t in 5..24 {
            assert_eq!(w.observe(&snap(t, 4, 0, 50)), None, "t={t}");
        }
        let why = w.observe(&snap(24, 4, 0, 50)).unwrap_or_default();
        assert!(
            why.contains("slo-max-error-rate failed without a break for 10 s"),
            "{why}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_passing_tick_restarts_the_count() {
        let slo = Slo {
            max_error_rate: Some(0.01),
            ..Slo::default()
        };
        let mut w = AbortWatch::new(slo, 5 * S);
        w.observe(&snap(0, 4, 0, 0)); // ramp done at 0: judged from 5 s
        for t in 5..9 {
            assert_eq!(w.observe(&snap(t, 4, 0, 50)), None);
        }
        assert_eq!(w.observe(&snap(9, 4, 0, 0)), None, "recovered");
        for t in 10..15 {
            assert_eq!(w.observe(&snap(t, 4, 0, 50)), None, "t={t}");
        }
        assert!(w.observe(&snap(15, 4, 0, 50)).is_some());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn passing_slos_never_abort() {
        let slo = Slo {
            max_error_rate: Some(0.01),
            max_stalled: Some(0),
            min_active_ratio: Some(1.0),
            ..Slo::default()
        };
        let mut w = AbortWatch::new(slo, S);
        for t in 0..100 {
            assert_eq!(w.observe(&snap(t, 4, 0, 0)), None);
        }
    }
}

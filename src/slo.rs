//! Service-level objectives from the operations guide's success criteria, evaluated on the
//! final snapshot. Any failed check makes the run exit 3.

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
    /// Every check passed (true when there are none).
    pub passed: bool,
    /// The checks.
    pub checks: Vec<SloCheck>,
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
    }
}

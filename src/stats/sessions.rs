//! Arrival mode's sessions (`--arrival-rate`), counted by the swarm as it starts, refuses
//! and ends them: kept in atomics and two bounded histograms (not per viewer), so a run
//! of endless churn holds the same memory after a million sessions as after ten.
//!
//! * **started**: arrivals that got a viewer (each one session, one join);
//! * **refused**: arrivals at the `-clients` cap, never started;
//! * **ended**: sessions that ran their drawn length and left;
//! * **censored**: sessions still open when the run stopped (their length is unknown, so
//!   they are kept out of the realised distribution rather than counted as ended);
//! * **open**: sessions open now (the concurrency).
//!
//! [`SessionsState`] is what the tally holds, taken at once: the JSON report's
//! `merge.sessions`, so `hls-swarm merge` adds the shards' states up (counts summed,
//! histograms added) and computes the whole test's figures with the same code.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::session::{MAX_SESSION, SessionModel};

/// The session counts as of now (a tick's view, for /metrics and the TUI).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounts {
    /// Sessions started.
    pub started: u64,
    /// Sessions that ended after their drawn length.
    pub ended: u64,
    /// Sessions open when the run stopped (0 until then).
    pub censored: u64,
    /// Arrivals refused at the `-clients` cap.
    pub refused: u64,
    /// Sessions open now.
    pub open: u64,
    /// Most sessions open at once.
    pub peak_open: u64,
}

/// Percentiles and mean of a set of session lengths, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LengthFigures {
    /// How many lengths.
    pub count: u64,
    /// Mean, seconds.
    pub mean_seconds: f64,
    /// Median, seconds.
    pub p50_seconds: f64,
    /// 90th percentile, seconds.
    pub p90_seconds: f64,
}

/// The asked distribution's own figures (the model's, not a sample's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AskedLengths {
    /// The model as `--session-duration` spells it, lengths in ms.
    pub model: String,
    /// Mean, seconds.
    pub mean_seconds: f64,
    /// Median, seconds.
    pub p50_seconds: f64,
    /// 90th percentile, seconds.
    pub p90_seconds: f64,
}

/// Arrival mode's figures for the reports (`sessions` in the JSON report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionsSummary {
    /// Counts at the end of the run.
    #[serde(flatten)]
    pub counts: SessionCounts,
    /// The asked arrival rate of this process (the whole test's `--arrival-rate` divided
    /// by the shard count), per second.
    pub asked_arrival_rate: f64,
    /// Arrivals (started + refused) per second of the run.
    pub arrival_rate: f64,
    /// `-clients` share of this process: most sessions open at once.
    pub cap: u64,
    /// The asked length distribution (`None` without `--session-duration`: sessions last
    /// until the run ends, so all are censored).
    pub asked: Option<AskedLengths>,
    /// The lengths drawn for every started session.
    pub drawn: LengthFigures,
    /// The lengths the ended sessions actually lasted (start to the viewer gone).
    pub realised: LengthFigures,
    /// The lengths drawn for the same ended sessions (to compare with `realised`).
    pub realised_drawn: LengthFigures,
}

/// The session figures in mergeable form (the JSON report's `merge.sessions`): the
/// counts, the asked figures and the three length histograms (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsState {
    /// The counts (at the end of the run: the open ones censored).
    pub counts: SessionCounts,
    /// Arrivals per second asked of this process (summed in a merge).
    pub asked_arrival_rate: f64,
    /// Most sessions open at once (summed in a merge).
    pub cap: u64,
    /// The asked length distribution (`None` without `--session-duration`, and in a merge
    /// of shards that asked different ones).
    pub asked: Option<AskedLengths>,
    /// The lengths drawn for every started session, ms.
    #[serde(with = "length_codec")]
    pub drawn: Histogram<u64>,
    /// The lengths the ended sessions lasted, ms.
    #[serde(with = "length_codec")]
    pub realised: Histogram<u64>,
    /// The lengths drawn for the same ended sessions, ms.
    #[serde(with = "length_codec")]
    pub realised_drawn: Histogram<u64>,
}

impl SessionsState {
    /// Add another process's sessions into these: counts, asked rates and caps summed,
    /// histograms added (exact). `peak_open` is summed too: each process peaked at its own
    /// moment, so the sum is an upper bound of the whole test's peak. The asked
    /// distribution stays only if both asked the same one.
    pub fn merge(&mut self, o: &SessionsState) {
        let (a, b) = (&mut self.counts, o.counts);
        a.started += b.started;
        a.ended += b.ended;
        a.censored += b.censored;
        a.refused += b.refused;
        a.open += b.open;
        a.peak_open += b.peak_open;
        self.asked_arrival_rate += o.asked_arrival_rate;
        self.cap += o.cap;
        if self.asked != o.asked {
            self.asked = None;
        }
        // Same bounds on both sides (the codec decodes into them), so adding cannot fail.
        let _ = self.drawn.add(&o.drawn);
        let _ = self.realised.add(&o.realised);
        let _ = self.realised_drawn.add(&o.realised_drawn);
    }

    /// The report's figures, for a run that lasted `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> SessionsSummary {
        let counts = self.counts;
        let secs = elapsed.as_secs_f64();
        SessionsSummary {
            counts,
            asked_arrival_rate: self.asked_arrival_rate,
            arrival_rate: if secs > 0.0 {
                (counts.started + counts.refused) as f64 / secs
            } else {
                0.0
            },
            cap: self.cap,
            asked: self.asked.clone(),
            drawn: figures(&self.drawn),
            realised: figures(&self.realised),
            realised_drawn: figures(&self.realised_drawn),
        }
    }
}

/// Serde adapter for the length histograms: base64 V2 ([`crate::stats::histogram_codec`]),
/// read back into [`length_histogram`]'s bounds.
mod length_codec {
    use hdrhistogram::Histogram;
    use serde::Deserialize;
    use serde::de::Error as _;

    pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::stats::histogram_codec::encode(h))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        crate::stats::histogram_codec::decode_into(&text, super::length_histogram())
            .map_err(D::Error::custom)
    }
}

/// The swarm's session counters (see the module doc).
#[derive(Debug)]
pub struct SessionTally {
    model: Option<SessionModel>,
    asked_rate: f64,
    cap: u64,
    started: AtomicU64,
    ended: AtomicU64,
    censored: AtomicU64,
    refused: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
    lengths: Mutex<Lengths>,
}

#[derive(Debug)]
struct Lengths {
    drawn: Histogram<u64>,
    realised: Histogram<u64>,
    realised_drawn: Histogram<u64>,
}

/// A histogram of lengths in ms: 1 ms to the longest session, two significant digits (within 1 %).
fn length_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_SESSION.as_millis() as u64 * 2, 2)
        .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

fn figures(h: &Histogram<u64>) -> LengthFigures {
    if h.is_empty() {
        return LengthFigures::default();
    }
    LengthFigures {
        count: h.len(),
        mean_seconds: h.mean() / 1000.0,
        p50_seconds: h.value_at_quantile(0.5) as f64 / 1000.0,
        p90_seconds: h.value_at_quantile(0.9) as f64 / 1000.0,
    }
}

impl SessionTally {
    /// Counters for sessions of `model` arriving at `asked_rate` per second in this
    /// process, at most `cap` open at once.
    pub fn new(model: Option<SessionModel>, asked_rate: f64, cap: u64) -> Self {
        SessionTally {
            model,
            asked_rate,
            cap,
            started: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            censored: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            open: AtomicU64::new(0),
            peak_open: AtomicU64::new(0),
            lengths: Mutex::new(Lengths {
                drawn: length_histogram(),
                realised: length_histogram(),
                realised_drawn: length_histogram(),
            }),
        }
    }

    /// The most sessions open at once.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// An arrival: opens a session (true) unless `cap` are open, when it is refused and
    /// counted (false). `drawn` is the session's drawn length (`None`: until the end).
    pub fn try_open(&self, drawn: Option<Duration>) -> bool {
        let opened = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap).then_some(n + 1)
            });
        match opened {
            Ok(before) => {
                self.started.fetch_add(1, Ordering::Relaxed);
                self.peak_open.fetch_max(before + 1, Ordering::Relaxed);
                if let Some(d) = drawn {
                    self.lock().drawn.saturating_record(ms(d));
                }
                true
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// A session ran its drawn length and its viewer is gone after `lasted`.
    pub fn ended(&self, drawn: Duration, lasted: Duration) {
        {
            let mut l = self.lock();
            l.realised.saturating_record(ms(lasted));
            l.realised_drawn.saturating_record(ms(drawn));
        }
        self.ended.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// A session was still open when the run stopped.
    pub fn censored(&self) {
        self.censored.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// The counts as of now.
    pub fn counts(&self) -> SessionCounts {
        SessionCounts {
            started: self.started.load(Ordering::Relaxed),
            ended: self.ended.load(Ordering::Relaxed),
            censored: self.censored.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            peak_open: self.peak_open.load(Ordering::Relaxed),
        }
    }

    /// The counts at the run's end: sessions not yet gone are censored.
    pub fn counts_at_end(&self) -> SessionCounts {
        let c = self.counts();
        SessionCounts {
            censored: c.censored + c.open,
            open: 0,
            ..c
        }
    }

    /// The tally as it is now, in mergeable form (`at_end`: the run has stopped, see
    /// [`SessionTally::counts_at_end`]).
    pub fn state(&self, at_end: bool) -> SessionsState {
        let counts = if at_end {
            self.counts_at_end()
        } else {
            self.counts()
        };
        let l = self.lock();
        SessionsState {
            counts,
            asked_arrival_rate: self.asked_rate,
            cap: self.cap,
            asked: self.model.map(|m| AskedLengths {
                model: m.to_string(),
                mean_seconds: m.mean_secs(),
                p50_seconds: m.median_secs(),
                p90_seconds: m.p90_secs(),
            }),
            drawn: l.drawn.clone(),
            realised: l.realised.clone(),
            realised_drawn: l.realised_drawn.clone(),
        }
    }

    /// The figures for the reports, for a run that lasted `elapsed` (`at_end` as for
    /// [`SessionTally::state`]).
    pub fn summary(&self, elapsed: Duration, at_end: bool) -> SessionsSummary {
        self.state(at_end).summary(elapsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lengths> {
        self.lengths.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_and_counts_and_every_session_ends_once() {
        let t = SessionTally::new(Some(SessionModel::Fixed(Duration::from_secs(2))), 1.0, 2);
        let d = Some(Duration::from_secs(2));
        assert!(t.try_open(d));
        assert!(t.try_open(d));
        assert!(!t.try_open(d), "the third is over the cap");
        t.ended(Duration::from_secs(2), Duration::from_millis(2_050));
        assert!(t.try_open(d), "a place came free");
        t.censored();
        let c = t.counts();
        assert_eq!(
            (
                c.started,
                c.refused,
                c.ended,
                c.censored,
                c.open,
                c.peak_open
            ),
            (3, 1, 1, 1, 1, 2)
        );
        let s = t.summary(Duration::from_secs(4), false);
        assert_eq!(s.arrival_rate, 1.0, "four arrivals in four seconds");
        assert_eq!(s.realised.count, 1);
        assert!((s.realised.mean_seconds - 2.05).abs() < 0.01);
        assert_eq!(s.drawn.count, 3);
        assert_eq!(s.asked.map(|a| a.p50_seconds), Some(2.0));
        let end = t.summary(Duration::from_secs(4), true).counts;
        assert_eq!(
            (end.censored, end.open),
            (2, 0),
            "the open one is censored at the end"
        );
    }

    /// A tally with `lengths` (seconds) of ended sessions, one refusal and one open.
    fn shard(lengths: &[u64]) -> SessionTally {
        let t = SessionTally::new(Some(SessionModel::Fixed(Duration::from_secs(60))), 0.5, 100);
        for &s in lengths {
            let d = Duration::from_secs(s);
            assert!(t.try_open(Some(d)));
            t.ended(d, d);
        }
        assert!(t.try_open(Some(Duration::from_secs(60))));
        t
    }

    #[test]
    fn merged_states_are_the_sums_and_the_union_and_survive_json() {
        let a = shard(&[10, 20, 30]);
        let b = shard(&[40, 50]);
        let whole = shard(&[]);
        for s in [10, 20, 30, 40, 50] {
            let d = Duration::from_secs(s);
            assert!(whole.try_open(Some(d)));
            whole.ended(d, d);
        }
        assert!(whole.try_open(Some(Duration::from_secs(60))));
        let through_json = |s: SessionsState| -> SessionsState {
            serde_json::from_str(&serde_json::to_string(&s).expect("serialises")).expect("reads")
        };
        let mut merged = through_json(a.state(true));
        merged.merge(&through_json(b.state(true)));
        let m = merged.summary(Duration::from_secs(10));
        assert_eq!(
            (
                m.counts.started,
                m.counts.ended,
                m.counts.censored,
                m.counts.open,
                m.counts.refused
            ),
            (7, 5, 2, 0, 0)
        );
        assert_eq!((m.cap, m.asked_arrival_rate), (200, 1.0));
        assert_eq!(m.arrival_rate, 0.7, "7 arrivals in 10 s");
        assert_eq!(m.realised.count, 5);
        assert!((m.realised.mean_seconds - 30.0).abs() < 0.3, "{m:?}");
        assert_eq!(m.drawn.count, 7);
        // One process that saw every session reports the same lengths.
        let one = whole.summary(Duration::from_secs(10), true);
        assert_eq!(
            (m.drawn, m.realised, m.realised_drawn),
            (one.drawn, one.realised, one.realised_drawn)
        );
        assert_eq!(m.asked.as_ref().map(|x| x.p50_seconds), Some(60.0));
        // Different asked models: no asked figures rather than one shard's.
        let other = SessionTally::new(Some(SessionModel::Fixed(Duration::from_secs(5))), 0.5, 1);
        merged.merge(&other.state(true));
        assert_eq!(merged.summary(Duration::from_secs(10)).asked, None);
    }
}

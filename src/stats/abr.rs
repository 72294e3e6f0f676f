//! Adaptive-bitrate figures (`-variant abr`): switches up and down, media played per
//! rung, and per-viewer distributions of switches and of the mean played bitrate.
//! [`AbrTally`] is the mergeable part of the accumulator; [`AbrFigures`] what the sinks
//! show. Rungs are counted from 0 = lowest `BANDWIDTH`, at most
//! [`MAX_RUNGS`] of them (higher ones share the last).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::accumulator::duration_histogram;
use super::event::PlaybackEvent;
use crate::engine::abr::MAX_RUNGS;

/// The ABR counts of an accumulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbrTally {
    /// Switches to a higher rung.
    pub switches_up: u64,
    /// Switches to a lower rung.
    pub switches_down: u64,
    /// Segment downloads abandoned mid-body for a lower rung.
    #[serde(default)]
    pub abandons: u64,
    /// Media played per rung.
    pub rung_played: [Duration; MAX_RUNGS],
    /// ABR viewer lives that ended.
    pub viewers: u64,
    /// Switches (up + down) per ended viewer life.
    #[serde(with = "super::histogram_codec")]
    pub switches_per_viewer: Histogram<u64>,
    /// Mean played bitrate per ended viewer life that played media, bit/s.
    #[serde(with = "super::histogram_codec")]
    pub mean_bitrate: Histogram<u64>,
}

impl Default for AbrTally {
    fn default() -> Self {
        AbrTally {
            switches_up: 0,
            switches_down: 0,
            abandons: 0,
            rung_played: [Duration::ZERO; MAX_RUNGS],
            viewers: 0,
            switches_per_viewer: duration_histogram(),
            mean_bitrate: duration_histogram(),
        }
    }
}

impl AbrTally {
    /// Fold in an ABR event (others are ignored).
    pub fn record(&mut self, p: &PlaybackEvent) {
        match p {
            PlaybackEvent::AbrSwitch { from, to } => {
                if to > from {
                    self.switches_up += 1;
                } else {
                    self.switches_down += 1;
                }
            }
            PlaybackEvent::AbrAbandon => self.abandons += 1,
            PlaybackEvent::AbrPlayed { rung, media } => {
                let i = usize::from(*rung).min(MAX_RUNGS - 1);
                self.rung_played[i] += *media;
            }
            PlaybackEvent::AbrViewerDone {
                switches_up,
                switches_down,
                mean_bitrate,
            } => {
                self.viewers += 1;
                self.switches_per_viewer
                    .saturating_record(u64::from(*switches_up) + u64::from(*switches_down));
                if let Some(b) = mean_bitrate {
                    self.mean_bitrate.saturating_record(*b);
                }
            }
            _ => {}
        }
    }

    /// Add another tally into this one.
    pub fn merge(&mut self, o: &AbrTally) {
        self.switches_up += o.switches_up;
        self.switches_down += o.switches_down;
        self.abandons += o.abandons;
        for (a, b) in self.rung_played.iter_mut().zip(o.rung_played) {
            *a += b;
        }
        self.viewers += o.viewers;
        let _ = self.switches_per_viewer.add(&o.switches_per_viewer);
        let _ = self.mean_bitrate.add(&o.mean_bitrate);
    }

    /// Zero everything, keeping allocations.
    pub fn reset(&mut self) {
        self.switches_up = 0;
        self.switches_down = 0;
        self.abandons = 0;
        self.rung_played = [Duration::ZERO; MAX_RUNGS];
        self.viewers = 0;
        self.switches_per_viewer.reset();
        self.mean_bitrate.reset();
    }
}

/// A distribution of per-viewer values (counts or bit rates), as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ValuePercentiles {
    /// Viewers counted.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl ValuePercentiles {
    /// Summarise a histogram of plain values.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return ValuePercentiles::default();
        }
        let q = |x: f64| h.value_at_quantile(x) as f64;
        ValuePercentiles {
            count: h.len(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            min: h.min() as f64,
            max: h.max() as f64,
            mean: h.mean(),
        }
    }
}

/// The ABR figures every sink shows (docs/json-report.md `abr`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AbrFigures {
    /// Switches to a higher rung.
    pub switches_up: u64,
    /// Switches to a lower rung.
    pub switches_down: u64,
    /// Segment downloads abandoned mid-body for a lower rung (hls.js's emergency abandon
    /// rule; each also counts as a switch down).
    pub abandons: u64,
    /// Seconds of media played per rung, from rung 0 (lowest) up to the highest rung
    /// that played anything.
    pub rung_seconds: Vec<f64>,
    /// ABR viewer lives that ended (each reports its switches and mean played bitrate).
    pub viewers: u64,
    /// Per ended viewer life: switches (up + down).
    pub switches_per_viewer: ValuePercentiles,
    /// Per ended viewer life that played media: mean played bitrate, bit/s.
    pub mean_bitrate_per_viewer: ValuePercentiles,
}

impl AbrFigures {
    /// The figures of `t`.
    pub fn of(t: &AbrTally) -> Self {
        let last = t.rung_played.iter().rposition(|d| !d.is_zero());
        AbrFigures {
            switches_up: t.switches_up,
            switches_down: t.switches_down,
            abandons: t.abandons,
            rung_seconds: last
                .map(|l| {
                    t.rung_played[..=l]
                        .iter()
                        .map(Duration::as_secs_f64)
                        .collect()
                })
                .unwrap_or_default(),
            viewers: t.viewers,
            switches_per_viewer: ValuePercentiles::of(&t.switches_per_viewer),
            mean_bitrate_per_viewer: ValuePercentiles::of(&t.mean_bitrate),
        }
    }

    /// Whether the run had ABR viewers (any switch, rung time or finished viewer).
    pub fn any(&self) -> bool {
        self.viewers > 0
            || !self.rung_seconds.is_empty()
            || self.switches_up + self.switches_down > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fold_merge_and_summarise() {
        let mut a = AbrTally::default();
        a.record(&PlaybackEvent::AbrSwitch { from: 0, to: 2 });
        a.record(&PlaybackEvent::AbrSwitch { from: 2, to: 1 });
        a.record(&PlaybackEvent::AbrAbandon);
        a.record(&PlaybackEvent::AbrPlayed {
            rung: 1,
            media: Duration::from_secs(3),
        });
        a.record(&PlaybackEvent::AbrPlayed {
            rung: 40,
            media: Duration::from_secs(1),
        });
        a.record(&PlaybackEvent::AbrViewerDone {
            switches_up: 1,
            switches_down: 1,
            mean_bitrate: Some(800_000),
        });
        let mut b = AbrTally::default();
        b.record(&PlaybackEvent::AbrViewerDone {
            switches_up: 0,
            switches_down: 0,
            mean_bitrate: None,
        });
        b.merge(&a);
        let f = AbrFigures::of(&b);
        assert_eq!((f.switches_up, f.switches_down, f.viewers), (1, 1, 2));
        assert_eq!(f.abandons, 1);
        assert_eq!(f.rung_seconds.len(), MAX_RUNGS);
        assert_eq!(f.rung_seconds[1], 3.0);
        assert_eq!(f.rung_seconds[MAX_RUNGS - 1], 1.0);
        assert_eq!(f.switches_per_viewer.count, 2);
        assert_eq!(f.switches_per_viewer.max, 2.0);
        assert_eq!(f.switches_per_viewer.min, 0.0);
        assert_eq!(f.mean_bitrate_per_viewer.count, 1);
        let m = f.mean_bitrate_per_viewer.p50;
        assert!((m - 800_000.0).abs() / 800_000.0 < 0.001, "{m}");
        b.reset();
        assert!(!AbrFigures::of(&b).any());
    }
}

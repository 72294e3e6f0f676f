//! Playback of one FFmpeg process from its `-progress` output (pure, clock injected).
//!
//! FFmpeg writes `key=value` lines and ends each block with `progress=continue` (or
//! `progress=end`). With `-c copy -f null` the output time (`out_time_us`) is the media
//! time FFmpeg has demuxed and written: it races ahead at tune-in (FFmpeg starts three
//! segments from the live edge and reads them at once) and then advances one segment at a
//! time as the playlist grows. FFmpeg reports at most once per `-stats_period` and only
//! while packets flow, so a frozen stream simply goes quiet; the tracker is therefore also
//! polled on a timer.
//!
//! Per process (reset on every respawn):
//! * **startup** — spawn to the first block with output time > 0;
//! * **stall** — output time not advancing for longer than the threshold. The stall is
//!   reported when the threshold is crossed; its length, when output resumes, is the whole
//!   time output stood still (from the last advance);
//! * **live latency** — the tune-in distance behind the live edge (the media FFmpeg
//!   starts with) plus how far the output fell behind the wall clock since playback began
//!   (`wall − output time`, never below zero);
//! * **played** — output time gained;
//! * **speed** — output time gained / wall time over the last [`SPEED_WINDOW`] reports.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Number of reports the speed is measured over (≈ 10 s at `-stats_period 1`).
pub const SPEED_WINDOW: usize = 10;

/// One `-progress` block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    /// Output time, if FFmpeg knew it.
    pub out_time: Option<Duration>,
    /// `progress=end`: FFmpeg is finishing.
    pub end: bool,
}

/// Folds `key=value` lines into [`Block`]s.
#[derive(Debug, Default)]
pub struct BlockParser {
    out_time: Option<Duration>,
}

impl BlockParser {
    /// Feed one line; returns a block when the line ends one.
    pub fn line(&mut self, line: &str) -> Option<Block> {
        let (k, v) = line.trim().split_once('=')?;
        match k {
            "out_time_us" => self.out_time = parse_micros(v),
            "out_time" if self.out_time.is_none() => self.out_time = parse_clock(v),
            "progress" => {
                let b = Block {
                    out_time: self.out_time.take(),
                    end: v.trim() == "end",
                };
                return Some(b);
            }
            _ => {}
        }
        None
    }
}

fn parse_micros(v: &str) -> Option<Duration> {
    let n: i64 = v.trim().parse().ok()?;
    (n >= 0).then(|| Duration::from_micros(n as u64))
}

/// `HH:MM:SS.micro` (FFmpeg's `out_time`).
fn parse_clock(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v.starts_with('-') {
        return None;
    }
    let mut it = v.split(':');
    let h: u64 = it.next()?.parse().ok()?;
    let m: u64 = it.next()?.parse().ok()?;
    let s: f64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !s.is_finite() || s < 0.0 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::from_secs_f64(s))
}

/// What the tracker decided; the engine turns these into events and gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// First output: spawn to first frame.
    Started {
        /// Spawn to the first block with output.
        startup: Duration,
    },
    /// Output stood still for longer than the threshold.
    StallStarted,
    /// Output resumed after standing still this long (from the last advance).
    StallEnded {
        /// Time without output progress.
        stalled: Duration,
    },
    /// Distance behind the live edge.
    LiveLatency {
        /// Latency sample.
        latency: Duration,
    },
    /// Output time gained since the previous block.
    Played {
        /// Media time.
        media: Duration,
    },
}

/// One process's playback state.
#[derive(Debug, Clone)]
pub struct Tracker {
    spawned: Instant,
    threshold: Duration,
    tune_in_latency: Duration,
    started: Option<(Instant, Duration)>,
    last_out: Duration,
    last_advance: Instant,
    stalled: bool,
    window: VecDeque<(Instant, Duration)>,
}

impl Tracker {
    /// A process spawned at `spawned`; stalls are output standing still longer than
    /// `threshold`; it tunes in `tune_in_latency` behind the live edge.
    pub fn new(spawned: Instant, threshold: Duration, tune_in_latency: Duration) -> Self {
        Tracker {
            spawned,
            threshold,
            tune_in_latency,
            started: None,
            last_out: Duration::ZERO,
            last_advance: spawned,
            stalled: false,
            window: VecDeque::with_capacity(SPEED_WINDOW + 1),
        }
    }

    /// Whether output has started.
    pub fn started(&self) -> bool {
        self.started.is_some()
    }

    /// Whether the process is in a stall now.
    pub fn stalled(&self) -> bool {
        self.stalled
    }

    /// How long output has stood still at `now` (zero before it started).
    pub fn standing_still(&self, now: Instant) -> Duration {
        if self.started.is_some() {
            now.saturating_duration_since(self.last_advance)
        } else {
            Duration::ZERO
        }
    }

    /// When [`poll`](Self::poll) would next declare a stall (if output stays still).
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.started.is_some() && !self.stalled).then(|| self.last_advance + self.threshold)
    }

    /// Output speed over the recent window (None until two reports).
    pub fn speed(&self) -> Option<f64> {
        let (t0, o0) = *self.window.front()?;
        let (t1, o1) = *self.window.back()?;
        let dt = t1.saturating_duration_since(t0).as_secs_f64();
        (dt > 0.0).then(|| o1.saturating_sub(o0).as_secs_f64() / dt)
    }

    /// A progress block arrived at `now`.
    pub fn on_block(&mut self, now: Instant, block: Block) -> Vec<Update> {
        let mut out = Vec::new();
        let Some(t) = block.out_time else {
            return out;
        };
        if self.started.is_none() {
            if t.is_zero() {
                return out;
            }
            self.started = Some((now, t));
            self.last_out = t;
            self.last_advance = now;
            self.window.push_back((now, t));
            out.push(Update::Started {
                startup: now.saturating_duration_since(self.spawned),
            });
            out.push(Update::Played { media: t });
            out.push(Update::LiveLatency {
                latency: self.tune_in_latency,
            });
            return out;
        }
        self.window.push_back((now, t));
        while self.window.len() > SPEED_WINDOW {
            self.window.pop_front();
        }
        if t <= self.last_out {
            self.poll_into(now, &mut out);
            return out;
        }
        if self.stalled {
            self.stalled = false;
            out.push(Update::StallEnded {
                stalled: now.saturating_duration_since(self.last_advance),
            });
        }
        out.push(Update::Played {
            media: t - self.last_out,
        });
        self.last_out = t;
        self.last_advance = now;
        out.push(Update::LiveLatency {
            latency: self.latency(now),
        });
        out
    }

    fn latency(&self, now: Instant) -> Duration {
        let Some((at, first)) = self.started else {
            return self.tune_in_latency;
        };
        let wall = now.saturating_duration_since(at);
        let media = self.last_out.saturating_sub(first);
        self.tune_in_latency + wall.saturating_sub(media)
    }

    /// Check the clock: declares a stall once output stood still longer than the threshold.
    pub fn poll(&mut self, now: Instant) -> Vec<Update> {
        let mut out = Vec::new();
        self.poll_into(now, &mut out);
        out
    }

    fn poll_into(&mut self, now: Instant, out: &mut Vec<Update>) {
        if self.started.is_some()
            && !self.stalled
            && now.saturating_duration_since(self.last_advance) > self.threshold
        {
            self.stalled = true;
            out.push(Update::StallStarted);
        }
    }

    /// The process ended at `now`: an open stall ends here.
    pub fn finish(&mut self, now: Instant) -> Vec<Update> {
        let mut out = Vec::new();
        if self.stalled {
            self.stalled = false;
            out.push(Update::StallEnded {
                stalled: now.saturating_duration_since(self.last_advance),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn block(secs: f64) -> Block {
        Block {
            out_time: Some(Duration::from_secs_f64(secs)),
            end: false,
        }
    }

    #[test]
    fn parses_real_ffmpeg_51_blocks() {
        let text = "frame=1\nfps=0.00\nstream_0_0_q=-1.0\nbitrate=N/A\ntotal_size=N/A\n\
                    out_time_us=21344\nout_time_ms=21344\nout_time=00:00:00.021344\n\
                    dup_frames=0\ndrop_frames=0\nspeed=N/A\nprogress=continue\n\
                    frame=30\nout_time_us=N/A\nout_time=00:00:03.002667\nprogress=continue\n\
                    out_time_us=-9223372036854775807\nout_time=-577014:32:22.775808\nprogress=end\n";
        let mut p = BlockParser::default();
        let blocks: Vec<Block> = text.lines().filter_map(|l| p.line(l)).collect();
        assert_eq!(
            blocks,
            vec![
                Block {
                    out_time: Some(Duration::from_micros(21344)),
                    end: false
                },
                Block {
                    out_time: Some(Duration::from_micros(3_002_667)),
                    end: false
                },
                Block {
                    out_time: None,
                    end: true
                },
            ]
        );
    }

    #[test]
    fn startup_played_and_latency() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0, 2 * S, 3 * S);
        assert!(t.on_block(t0 + S / 2, block(0.0)).is_empty());
        let u = t.on_block(t0 + S, block(0.021));
        assert_eq!(u[0], Update::Started { startup: S });
        assert_eq!(
            u[2],
            Update::LiveLatency { latency: 3 * S },
            "tune-in distance"
        );
        // Burst of the first three segments, then one per second: latency stays put.
        let u = t.on_block(t0 + 2 * S, block(3.021));
        assert!(u.contains(&Update::Played { media: 3 * S }));
        let u = t.on_block(t0 + 3 * S, block(4.021));
        assert_eq!(u.last(), Some(&Update::LiveLatency { latency: 3 * S }));
        assert!(!t.stalled());
    }

    #[test]
    fn stall_declared_after_the_threshold_and_measured_from_the_last_advance() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0, 2 * S, 3 * S);
        t.on_block(t0, block(3.0));
        assert_eq!(t.next_deadline(), Some(t0 + 2 * S));
        assert!(
            t.poll(t0 + 2 * S).is_empty(),
            "not longer than the threshold yet"
        );
        assert_eq!(
            t.poll(t0 + 2 * S + Duration::from_millis(1)),
            vec![Update::StallStarted]
        );
        assert!(t.poll(t0 + 5 * S).is_empty(), "declared once");
        assert_eq!(t.standing_still(t0 + 5 * S), 5 * S);
        let u = t.on_block(t0 + 7 * S, block(4.0));
        assert_eq!(u[0], Update::StallEnded { stalled: 7 * S });
        // Fell 6 s behind the wall clock: latency grows by that much.
        assert_eq!(
            u.last(),
            Some(&Update::LiveLatency {
                latency: 3 * S + 6 * S
            })
        );
    }

    #[test]
    fn a_repeated_output_time_does_not_reset_the_stall_clock() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0, 2 * S, S);
        t.on_block(t0, block(1.0));
        t.on_block(t0 + S, block(1.0));
        assert_eq!(
            t.on_block(t0 + 3 * S, block(1.0)),
            vec![Update::StallStarted]
        );
        assert_eq!(
            t.finish(t0 + 4 * S),
            vec![Update::StallEnded { stalled: 4 * S }]
        );
    }

    #[test]
    fn no_stall_before_output_started() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0, S, S);
        assert!(t.poll(t0 + 10 * S).is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn speed_over_the_window() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0, 2 * S, S);
        for i in 0..20u32 {
            t.on_block(t0 + i * S, block(1.0 + f64::from(i) * 0.5));
        }
        let sp = t.speed().unwrap_or(0.0);
        assert!((sp - 0.5).abs() < 1e-9, "{sp}");
    }
}

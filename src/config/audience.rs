//! Who watches: how many viewers, how fast they arrive, for how long, and their ids.

use std::time::Duration;

use super::bandwidth::BandwidthModel;
use super::cli::RunArgs;
use super::parse::{count, flag_duration, number};
use super::problems::Problems;
use super::session::SessionModel;
use super::shard::Shard;

/// The simulated audience and its ramp.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// `-clients`: concurrent viewers the ramp of the whole test aims for (all shards
    /// together; this process runs [`Audience::shard_viewers`] of them).
    pub viewers: u64,
    /// `-client-id-offset`: id of the whole test's first viewer (viewer ids are also in
    /// User-Agents).
    pub first_viewer_id: u64,
    /// `-ramp-rate`: viewers started per second by the whole test.
    pub ramp_rate: f64,
    /// `-ramp-jitter`: symmetric start jitter bound.
    pub ramp_jitter: Duration,
    /// `-duration`: run length; `None` = until stopped.
    pub duration: Option<Duration>,
    /// `-seed`: seed of the ramp jitter and backoff.
    pub seed: u64,
    /// `--shard`: which of the whole test's viewers this process runs.
    pub shard: Shard,
    /// `--viewer-bandwidth`: the viewers' last-mile link rates; `None` = unpaced.
    pub bandwidth: Option<BandwidthModel>,
    /// `--arrival-rate`: arrival mode, viewers arriving per second in the whole test;
    /// `None` = the fixed crowd.
    pub arrival_rate: Option<f64>,
    /// `--session-duration`: how long each arrival stays; `None` = until the run ends.
    pub session: Option<SessionModel>,
}

impl Audience {
    /// Validate `-clients`, the ramp, `-duration`, `-client-id-offset`, `-seed` and
    /// `--viewer-bandwidth`.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        let viewers = p.or(count("-clients", &a.clients, 1, 10_000_000), 1);
        let ramp_rate = p.or(
            number(&a.ramp_rate, |r| r > 0.0 && r <= 1_000_000.0, || {
                format!(
                    "-ramp-rate: '{}' is not a positive number of viewers per second (e.g. -ramp-rate 5 or 0.5)",
                    a.ramp_rate
                )
            }),
            1.0,
        );
        let ramp_jitter = p.or_default(flag_duration("-ramp-jitter", &a.ramp_jitter));
        let duration = p.or_default(flag_duration("-duration", &a.duration));
        let first_viewer_id = p.or_default(count(
            "-client-id-offset",
            &a.client_id_offset,
            0,
            u64::MAX / 2,
        ));
        let seed = p.or_default(count("-seed", &a.seed, 0, u64::MAX));
        let shard = match &a.shard {
            Some(s) => p.or_default(Shard::parse(s)),
            None => Shard::WHOLE,
        };
        p.check(shard.viewers(viewers) == 0, || {
            format!("--shard: shard {shard} gets none of the {viewers} viewers of -clients (use at most {viewers} shards)")
        });
        let bandwidth = a
            .viewer_bandwidth
            .as_deref()
            .and_then(|b| p.ok(BandwidthModel::parse(b)));
        let arrival_rate = a.arrival_rate.as_deref().and_then(|r| {
            p.ok(number(r, |v| v > 0.0 && v <= 100_000.0, || {
                format!(
                    "--arrival-rate: '{r}' is not a positive number of viewers per second up to 100000 (e.g. --arrival-rate 5 or 0.2)"
                )
            }))
        });
        let session = a
            .session_duration
            .as_deref()
            .and_then(|s| p.ok(SessionModel::parse(s)));
        p.check(
            a.session_duration.is_some() && a.arrival_rate.is_none(),
            || {
                "--session-duration: only arrival mode has sessions; give --arrival-rate too (a fixed crowd's viewers stay until the run ends)".to_string()
            },
        );
        Audience {
            viewers,
            first_viewer_id,
            ramp_rate,
            ramp_jitter,
            duration: (!duration.is_zero()).then_some(duration),
            seed,
            shard,
            bandwidth,
            arrival_rate,
            session,
        }
    }

    /// How many viewers this process runs: its shard's share of `-clients`.
    pub fn shard_viewers(&self) -> u64 {
        self.shard.viewers(self.viewers)
    }

    /// The global indices (in the whole test, `0..-clients`) of the viewers this process
    /// runs, in start order. A viewer's index decides its ramp slot; its id is
    /// [`Audience::viewer_id`].
    pub fn viewer_indices(&self) -> impl Iterator<Item = u64> + Clone {
        self.shard.indices(self.viewers)
    }

    /// Whether viewers arrive and leave (`--arrival-rate`) rather than form a fixed crowd.
    pub fn arrivals(&self) -> bool {
        self.arrival_rate.is_some()
    }

    /// The id of the viewer of global index `index`: the same on every shard layout.
    pub fn viewer_id(&self, index: u64) -> u64 {
        self.first_viewer_id + index
    }
}

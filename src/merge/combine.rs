//! The merge itself, pure: checks that the reports are shards of one test, none twice,
//! and builds the whole test's [`RunReport`] from them (counts and histograms merged
//! exactly by [`crate::stats::merge`]). What the written reports and the summary then
//! show is computed by the same code as for a single run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::input::{Found, MergePart, ShardReport};
use crate::config::{Engine, RunIdentity, Shard};
use crate::stats::accumulator::{Accumulator, duration_histogram};
use crate::stats::histogram_codec;
use crate::stats::link_rates::RatesState;
use crate::stats::merge::{ShardFigures, snapshot};
use crate::stats::report::{MergedShards, RunReport, StopReason};
use crate::stats::series::Series;
use crate::stats::sessions::SessionsState;
use crate::stats::streams::StreamInfo;

/// The whole test, from its shards' reports; `Err` says why they do not merge.
pub fn combine(found: &[Found]) -> Result<RunReport, String> {
    let first = found
        .first()
        .ok_or("no reports found in the input (each shard's --output JSON report)")?;
    let f = &first.report;
    let count = shard_count(first)?;
    let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
    for x in found {
        let r = &x.report;
        if r.run.id != f.run.id {
            return Err(format!(
                "reports of different tests: run id `{}` ({}) and `{}` ({}); merge the shards \
                 of one test (one --run-id) at a time",
                f.run.id, first.source, r.run.id, x.source
            ));
        }
        let n = shard_count(x)?;
        if n != count {
            return Err(format!(
                "run `{}`: {} is a shard of {n} but {} of {count}: different shard counts",
                r.run.id, x.source, first.source
            ));
        }
        for i in shard_indices(r) {
            if i >= count {
                return Err(format!("{}: shard {i} of {count} does not exist", x.source));
            }
            if let Some(other) = owner.insert(i, &x.source) {
                return Err(format!(
                    "shard {i} of run `{}` is in both {other} and {}: overlapping shards \
                     would count its viewers twice",
                    r.run.id, x.source
                ));
            }
        }
        if r.engine != f.engine {
            return Err(format!(
                "{} ran the {} engine but {} the {}: not one test",
                first.source, f.engine, x.source, r.engine
            ));
        }
        if r.requests_approximate {
            return Err(format!(
                "{}: its request figures are approximate (FFmpeg engine, https:// stream, \
                 counted from FFmpeg's log): no exact merge",
                x.source
            ));
        }
    }
    let engine = Engine::ALL
        .into_iter()
        .find(|e| e.as_str() == f.engine)
        .ok_or_else(|| format!("{}: unknown engine `{}`", first.source, f.engine))?;
    let (streams, accumulators) = streams_by_url(found);
    let shards: Vec<(ShardFigures, &crate::stats::accumulator::Accumulator)> = found
        .iter()
        .zip(&accumulators)
        .map(|(x, acc)| (figures(&x.report), acc))
        .collect();
    let lag = client_lag(found)?;
    let (snap, acc) = snapshot(&shards, lag.as_ref());
    let started_at = found
        .iter()
        .map(|x| time(&x.source, "started_at", &x.report.started_at))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let start_at = f
        .run
        .start_at
        .as_deref()
        .map(|t| time(&first.source, "run.start_at", t))
        .transpose()?;
    let startup_timeout = found
        .iter()
        .map(|x| x.report.merge.startup_timeout_seconds)
        .fold(0.0, f64::max);
    Ok(RunReport {
        run: RunIdentity {
            id: f.run.id.clone(),
            shard: Shard::default(),
            start_at,
        },
        start_late: None,
        merged: Some(MergedShards {
            indices: owner.keys().copied().collect(),
            count,
        }),
        active_at_end: snap.active,
        stalled_at_end: snap.stalled,
        snapshot: snap,
        accumulator: Arc::new(acc),
        stream_url: f.stream_url.clone(),
        engine: engine.as_str(),
        started_at,
        stop_reason: StopReason::Merged,
        stop_detail: Some(endings(found)),
        startup_timeout: Duration::try_from_secs_f64(startup_timeout).unwrap_or_default(),
        series: Series::default(),
        host: crate::host::HostFacts::default(),
        bandwidth: merged_parts(found, |m| m.bandwidth.as_ref(), RatesState::merge),
        sessions: merged_parts(found, |m| m.sessions.as_ref(), SessionsState::merge),
        streams,
    })
}

/// The streams of the whole test, each URL once in the order first seen, and each
/// shard's accumulator with its per-stream figures moved to those positions (shards may
/// list their streams in different orders; a stream is known by its URL).
fn streams_by_url(found: &[Found]) -> (Vec<StreamInfo>, Vec<Accumulator>) {
    let mut streams: Vec<StreamInfo> = Vec::new();
    let mut accumulators = Vec::with_capacity(found.len());
    for x in found {
        let r = &x.report;
        let mut listed: Vec<(String, f64)> =
            r.streams.iter().map(|s| (s.url.clone(), s.share)).collect();
        if listed.is_empty() {
            listed.push((r.stream_url.clone(), 1.0));
        }
        let positions: Vec<usize> = listed
            .into_iter()
            .map(
                |(url, share)| match streams.iter().position(|s| s.url == url) {
                    Some(p) => p,
                    None => {
                        streams.push(StreamInfo { url, share });
                        streams.len() - 1
                    }
                },
            )
            .collect();
        let mut acc = r.merge.accumulator.clone();
        acc.streams = acc.streams.moved_to(&positions);
        accumulators.push(acc);
    }
    (streams, accumulators)
}

/// The shards' `part`s (`merge.sessions`, `merge.bandwidth`) merged by `merge`; `None`
/// unless every shard has one (a report without it ran without the feature, or was
/// written before schema 7: the figures of some shards only would not be the test's).
fn merged_parts<T: Clone>(
    found: &[Found],
    part: impl Fn(&MergePart) -> Option<&T>,
    merge: impl Fn(&mut T, &T),
) -> Option<T> {
    let mut parts = found.iter().map(|x| part(&x.report.merge));
    let mut whole = parts.next()??.clone();
    for p in parts {
        merge(&mut whole, p?);
    }
    Some(whole)
}

/// The shards' wake-up lag histograms added together; `None` unless every shard has one
/// (the FFmpeg engine measures none).
fn client_lag(found: &[Found]) -> Result<Option<Histogram<u64>>, String> {
    let mut union = duration_histogram();
    for x in found {
        let Some(text) = &x.report.merge.client_wakeup_lag else {
            return Ok(None);
        };
        let h = histogram_codec::decode(text)
            .map_err(|e| format!("{}: `merge.client_wakeup_lag`: {e}", x.source))?;
        union
            .add(&h)
            .map_err(|e| format!("{}: `merge.client_wakeup_lag`: {e:?}", x.source))?;
    }
    Ok(Some(union))
}

/// Shards of the test `x` is of.
fn shard_count(x: &Found) -> Result<u64, String> {
    let run = &x.report.run;
    match (&run.shard, &run.merged) {
        (Some(s), None) if s.index < s.count => Ok(s.count),
        (None, Some(m)) => Ok(m.count),
        _ => Err(format!("{}: `run` names no valid shard", x.source)),
    }
}

/// The shards `r` holds: its own, or a merged report's.
fn shard_indices(r: &ShardReport) -> Vec<u64> {
    match (&r.run.shard, &r.run.merged) {
        (Some(s), _) => vec![s.index],
        (None, Some(m)) => m.indices.clone(),
        (None, None) => Vec::new(),
    }
}

/// What a shard's report says beyond its accumulator.
fn figures(r: &ShardReport) -> ShardFigures {
    ShardFigures {
        elapsed: Duration::try_from_secs_f64(r.duration_seconds).unwrap_or_default(),
        target: r.viewers.target,
        peak_active: r.viewers.peak_active,
        peak_stalled: r.playback.peak_stalled,
        active_at_end: r.viewers.active_at_end,
        stalled_at_end: r.playback.stalled_at_end,
        starting_at_end: r.viewers.starting_at_end,
        failed_at_end: r.viewers.failed_at_end,
        events_offered: r.stats_pipeline.events,
        events_dropped: r.stats_pipeline.dropped,
        last_30s_bytes_per_second: r.throughput_bytes_per_second.last_30s,
        request_log: r.request_log.map(|l| l.counts()),
    }
}

/// An RFC 3339 time of a report.
fn time(source: &str, key: &str, text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{source}: `{key}` is not an RFC 3339 time ({text}): {e}"))
}

/// How each shard ended: `every shard: duration`, or `shard 0: duration; shard 1:
/// signal (SIGTERM)`.
fn endings(found: &[Found]) -> String {
    let ending = |r: &ShardReport| match &r.stop_detail {
        Some(d) => format!("{} ({d})", r.stop_reason),
        None => r.stop_reason.clone(),
    };
    let all: Vec<String> = found.iter().map(|x| ending(&x.report)).collect();
    if all.windows(2).all(|w| w[0] == w[1]) {
        return format!("every shard: {}", all[0]);
    }
    found
        .iter()
        .zip(&all)
        .map(|(x, e)| {
            let which = shard_indices(&x.report)
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("+");
            format!("shard {which}: {e}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

//! Per-stream figures of a many-stream run: for each stream, the viewer slots started on
//! it and, per request kind, the requests, errors, aborts, retries and body bytes (exact),
//! with time-to-first-byte and download-time histograms for the first
//! [`LATENCY_STREAMS`] streams (memory stays bounded with thousands of streams).
//!
//! Folded in by the [`super::accumulator::Accumulator`] from each request's
//! [`RequestDone::stream`] and the ramp's [`super::event::Event::StreamViewer`];
//! serialised with it, so shards' reports merge exactly.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::accumulator::record_duration;
use super::event::{RequestDone, RequestKind};
use super::percentiles::Percentiles;

/// Streams (the first, in the run's order) whose requests also get latency histograms.
pub const LATENCY_STREAMS: usize = 32;

/// Most streams tallied; requests of a stream index beyond are counted in the last.
pub const MAX_TALLIED_STREAMS: usize = crate::config::streams::MAX_STREAMS;

/// Largest value a per-stream histogram records, microseconds (1 hour).
const MAX_MICROS: u64 = 3_600_000_000;

/// A per-stream latency histogram (µs, 2 significant figures: about 26 KB each).
pub fn stream_histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid, so construction cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, 2).unwrap_or_else(|_| unreachable!())
}

/// A stream of the run as the reports name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Its URL, redacted (no credentials, query or fragment).
    pub url: String,
    /// Its configured share of the viewers (0 to 1).
    pub share: f64,
}

/// One request kind of one stream.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamKindTally {
    /// Requests finished (successful, failed or aborted).
    pub count: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests cut off in flight by the stop.
    pub aborted: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Time to first byte (µs); `None` for streams beyond [`LATENCY_STREAMS`] or before
    /// the first sample.
    #[serde(default, with = "optional_histogram")]
    pub ttfb: Option<Box<Histogram<u64>>>,
    /// Whole request time of successful requests (µs), as `ttfb`.
    #[serde(default, with = "optional_histogram")]
    pub total: Option<Box<Histogram<u64>>>,
}

impl StreamKindTally {
    fn merge(&mut self, o: &StreamKindTally) {
        self.count += o.count;
        self.errors += o.errors;
        self.aborted += o.aborted;
        self.retries += o.retries;
        self.bytes += o.bytes;
        add_histogram(&mut self.ttfb, o.ttfb.as_deref());
        add_histogram(&mut self.total, o.total.as_deref());
    }

    fn reset(&mut self) {
        self.count = 0;
        self.errors = 0;
        self.aborted = 0;
        self.retries = 0;
        self.bytes = 0;
        for h in [&mut self.ttfb, &mut self.total].into_iter().flatten() {
            h.reset();
        }
    }
}

fn add_histogram(into: &mut Option<Box<Histogram<u64>>>, from: Option<&Histogram<u64>>) {
    if let Some(from) = from.filter(|h| !h.is_empty()) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = into.get_or_insert_with(boxed_histogram).add(from);
    }
}

/// A [`stream_histogram`] on the heap: a stream without latency figures keeps only the
/// empty pointer.
fn boxed_histogram() -> Box<Histogram<u64>> {
    Box::new(stream_histogram())
}

/// One stream's tally.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamTally {
    /// Viewer slots the ramp started on it.
    pub viewers: u64,
    /// Per request kind, indexed by `RequestKind::index`.
    #[serde(with = "kinds_array")]
    pub kinds: [StreamKindTally; RequestKind::COUNT],
}

/// `kinds` as an array in `RequestKind::ALL` order; an array of five (a report written
/// before the LL-HLS kinds `blocking` and `hint`: master, playlist, segment, init,
/// part) is read into those kinds' places.
mod kinds_array {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{RequestKind, StreamKindTally};

    const N: usize = RequestKind::COUNT;

    pub fn serialize<S: Serializer>(kinds: &[StreamKindTally; N], s: S) -> Result<S::Ok, S::Error> {
        kinds.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[StreamKindTally; N], D::Error> {
        let given = Vec::<StreamKindTally>::deserialize(d)?;
        let mut kinds: [StreamKindTally; N] = Default::default();
        match given.len() {
            N => {
                for (slot, k) in kinds.iter_mut().zip(given) {
                    *slot = k;
                }
            }
            5 => {
                let places = [
                    RequestKind::Master,
                    RequestKind::Playlist,
                    RequestKind::Segment,
                    RequestKind::Init,
                    RequestKind::Part,
                ];
                for (kind, k) in places.into_iter().zip(given) {
                    kinds[kind.index()] = k;
                }
            }
            n => {
                return Err(D::Error::custom(format!(
                    "{n} request kinds, expected {N} (or 5)"
                )));
            }
        }
        Ok(kinds)
    }
}

impl StreamTally {
    /// Requests of one kind.
    pub fn kind(&self, kind: RequestKind) -> &StreamKindTally {
        &self.kinds[kind.index()]
    }

    /// Requests finished, all kinds.
    pub fn requests(&self) -> u64 {
        self.kinds.iter().map(|k| k.count).sum()
    }

    /// Body bytes, all kinds.
    pub fn bytes(&self) -> u64 {
        self.kinds.iter().map(|k| k.bytes).sum()
    }

    /// Failed requests, all kinds.
    pub fn errors(&self) -> u64 {
        self.kinds.iter().map(|k| k.errors).sum()
    }
}

/// Every stream's tally, indexed by stream (in the run's order); grows as streams are
/// seen. A single-stream run has at most one entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamTallies(pub Vec<StreamTally>);

impl StreamTallies {
    fn at(&mut self, stream: u32) -> &mut StreamTally {
        let i = (stream as usize).min(MAX_TALLIED_STREAMS - 1);
        if self.0.len() <= i {
            self.0.resize_with(i + 1, StreamTally::default);
        }
        &mut self.0[i]
    }

    /// Count a viewer slot started on `stream`.
    pub fn record_viewer(&mut self, stream: u32) {
        self.at(stream).viewers += 1;
    }

    /// Fold in a finished request of a many-stream run (its bytes all counted here,
    /// streamed or not); a request of no stream (a single-stream run) is left out.
    pub fn record_request(&mut self, r: &RequestDone) {
        let Some(stream) = r.stream else {
            return;
        };
        let latency = (stream as usize) < LATENCY_STREAMS;
        let k = &mut self.at(stream).kinds[r.kind.index()];
        k.count += 1;
        k.bytes += r.bytes;
        if r.retry {
            k.retries += 1;
        }
        if latency && let Some(ttfb) = r.ttfb {
            record_duration(k.ttfb.get_or_insert_with(boxed_histogram), ttfb);
        }
        if r.aborted {
            k.aborted += 1;
            return;
        }
        match r.error {
            None if r.total.is_zero() => {}
            None if latency => {
                record_duration(k.total.get_or_insert_with(boxed_histogram), r.total)
            }
            None => {}
            Some(_) => k.errors += 1,
        }
    }

    /// Add another tally into this one (stream by stream).
    pub fn merge(&mut self, o: &StreamTallies) {
        for (i, t) in o.0.iter().enumerate() {
            let mine = self.at(i as u32);
            mine.viewers += t.viewers;
            for (a, b) in mine.kinds.iter_mut().zip(t.kinds.iter()) {
                a.merge(b);
            }
        }
    }

    /// Zero everything, keeping allocations.
    pub fn reset(&mut self) {
        for t in &mut self.0 {
            t.viewers = 0;
            for k in &mut t.kinds {
                k.reset();
            }
        }
    }

    /// These tallies with stream `i`'s moved to position `to[i]` (streams without a
    /// position are dropped): one shard's streams in a merge's order.
    pub fn moved_to(&self, to: &[usize]) -> StreamTallies {
        let mut out = StreamTallies::default();
        for (i, t) in self.0.iter().enumerate() {
            if let Some(&p) = to.get(i) {
                let mine = out.at(p as u32);
                mine.viewers += t.viewers;
                for (a, b) in mine.kinds.iter_mut().zip(t.kinds.iter()) {
                    a.merge(b);
                }
            }
        }
        out
    }

    /// The tally of stream `i` (`None`: nothing seen of it).
    pub fn get(&self, i: usize) -> Option<&StreamTally> {
        self.0.get(i)
    }
}

/// One request kind of one stream, as the reports lay it out: the top level's
/// `requests` figures, latency percentiles `null` where not kept.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRequests {
    /// Finished requests.
    pub count: u64,
    /// Failed among them.
    pub errors: u64,
    /// Cut off in flight at the stop.
    pub aborted: u64,
    /// Retries among them.
    pub retries: u64,
    /// Body bytes.
    pub bytes: u64,
    /// Time to first byte; `null` beyond the first [`LATENCY_STREAMS`] streams.
    pub ttfb_seconds: Option<Percentiles>,
    /// Whole download time (successful requests); `null` as `ttfb_seconds`.
    pub download_seconds: Option<Percentiles>,
}

/// One stream's section of the reports.
#[derive(Debug, Clone, Serialize)]
pub struct StreamSection {
    /// The stream's URL, redacted.
    pub url: String,
    /// Its configured share of the viewers.
    pub share: f64,
    /// Viewer slots started on it.
    pub viewers: u64,
    /// Per request kind (every kind, as the top level's `requests`).
    pub requests: BTreeMap<&'static str, StreamRequests>,
    /// Body bytes, all kinds.
    pub total_bytes: u64,
}

impl StreamSection {
    /// Requests finished, all kinds.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().map(|r| r.count).sum()
    }

    /// Failed requests, all kinds.
    pub fn total_errors(&self) -> u64 {
        self.requests.values().map(|r| r.errors).sum()
    }

    /// The segments' TTFB p95, seconds, when the stream keeps latency figures and had a
    /// segment answered.
    pub fn segment_ttfb_p95(&self) -> Option<f64> {
        self.requests
            .get("segment")
            .and_then(|q| q.ttfb_seconds)
            .filter(|p| p.count > 0)
            .map(|p| p.p95)
    }
}

/// One `/metrics` stream group's running totals (a top-K stream, or `other`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Viewer slots started.
    pub viewers: u64,
    /// Requests finished, per kind (`RequestKind::index`).
    pub requests: [u64; RequestKind::COUNT],
    /// Requests failed, per kind.
    pub errors: [u64; RequestKind::COUNT],
    /// Body bytes of finished requests, per kind.
    pub bytes: [u64; RequestKind::COUNT],
}

impl StreamTallies {
    /// The totals of each group: stream `i` adds into `group_of[i]` (`groups` groups).
    pub fn grouped(&self, group_of: &[u32], groups: usize) -> Vec<GroupCounts> {
        let mut out = vec![GroupCounts::default(); groups];
        for (i, t) in self.0.iter().enumerate() {
            let Some(g) = group_of.get(i).and_then(|g| out.get_mut(*g as usize)) else {
                continue;
            };
            g.viewers += t.viewers;
            for (k, kt) in t.kinds.iter().enumerate() {
                g.requests[k] += kt.count;
                g.errors[k] += kt.errors;
                g.bytes[k] += kt.bytes;
            }
        }
        out
    }
}

/// What the streams left out of a top list add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestOfStreams {
    /// Streams left out.
    pub streams: usize,
    /// Their viewer slots.
    pub viewers: u64,
    /// Their requests.
    pub requests: u64,
    /// Their failed requests.
    pub errors: u64,
    /// Their body bytes.
    pub bytes: u64,
}

/// The `n` streams with the most viewers (then bytes; ties in the run's order) and what
/// the others add up to (`None` when none is left out).
pub fn top_and_rest(
    all: &[StreamSection],
    n: usize,
) -> (Vec<&StreamSection>, Option<RestOfStreams>) {
    let mut order: Vec<&StreamSection> = all.iter().collect();
    order.sort_by(|a, b| {
        b.viewers
            .cmp(&a.viewers)
            .then(b.total_bytes.cmp(&a.total_bytes))
    });
    let rest_list = order.split_off(n.min(order.len()));
    let rest = (!rest_list.is_empty()).then(|| {
        rest_list.iter().fold(RestOfStreams::default(), |mut r, s| {
            r.streams += 1;
            r.viewers += s.viewers;
            r.requests += s.total_requests();
            r.errors += s.total_errors();
            r.bytes += s.total_bytes;
            r
        })
    });
    (order, rest)
}

/// The sections of every stream of `streams`, from their tallies (in the run's order).
pub fn sections(streams: &[StreamInfo], tallies: &StreamTallies) -> Vec<StreamSection> {
    let empty = StreamTally::default();
    streams
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let t = tallies.get(i).unwrap_or(&empty);
            let with_latency = i < LATENCY_STREAMS;
            let pct = |h: &Option<Box<Histogram<u64>>>| {
                with_latency.then(|| h.as_deref().map(Percentiles::of).unwrap_or_default())
            };
            StreamSection {
                url: info.url.clone(),
                share: info.share,
                viewers: t.viewers,
                requests: RequestKind::ALL
                    .iter()
                    .map(|k| {
                        let ks = t.kind(*k);
                        let figures = StreamRequests {
                            count: ks.count,
                            errors: ks.errors,
                            aborted: ks.aborted,
                            retries: ks.retries,
                            bytes: ks.bytes,
                            ttfb_seconds: pct(&ks.ttfb),
                            download_seconds: pct(&ks.total),
                        };
                        (k.as_str(), figures)
                    })
                    .collect(),
                total_bytes: t.bytes(),
            }
        })
        .collect()
}

/// Serde for an optional histogram: `null`, or [`super::histogram_codec`] text read back
/// into [`stream_histogram`]'s bounds.
mod optional_histogram {
    use hdrhistogram::Histogram;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::stream_histogram;
    use crate::stats::histogram_codec::{decode, encode};

    pub fn serialize<S: Serializer>(
        h: &Option<Box<Histogram<u64>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_some(&encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Box<Histogram<u64>>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let read = decode(&text).map_err(D::Error::custom)?;
        let mut h = stream_histogram();
        h.add(&read)
            .map_err(|e| D::Error::custom(format!("histogram out of range: {e:?}")))?;
        Ok(Some(Box::new(h)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_tally_of_five_kinds_reads_into_their_places() {
        let mut t = StreamTally::default();
        t.kinds[RequestKind::Segment.index()].count = 7;
        t.kinds[RequestKind::Part.index()].count = 3;
        let mut v = serde_json::to_value(&t).expect("serialises");
        assert_eq!(
            v["kinds"].as_array().map(Vec::len),
            Some(RequestKind::COUNT)
        );
        assert_eq!(
            serde_json::from_value::<StreamTally>(v.clone()).ok(),
            Some(t.clone())
        );
        // Before the LL-HLS kinds: master, playlist, segment, init, part.
        let kinds = v["kinds"].as_array_mut().expect("an array");
        kinds.remove(RequestKind::Hint.index());
        kinds.remove(RequestKind::Blocking.index());
        let old: StreamTally = serde_json::from_value(v.clone()).expect("five kinds read");
        assert_eq!(old, t);
        v["kinds"].as_array_mut().expect("an array").pop();
        assert!(
            serde_json::from_value::<StreamTally>(v).is_err(),
            "four kinds are refused"
        );
    }

    fn req(stream: u32, kind: RequestKind, bytes: u64, error: bool) -> RequestDone {
        let mut r = RequestDone::new(kind);
        r.stream = Some(stream);
        r.bytes = bytes;
        r.ttfb = Some(Duration::from_millis(5));
        r.total = Duration::from_millis(9);
        r.error = error.then_some(super::super::event::ErrorClass::Http5xx);
        r
    }

    #[test]
    fn requests_land_on_their_stream_and_merge_and_round_trip() {
        let mut a = StreamTallies::default();
        a.record_viewer(2);
        a.record_request(&req(2, RequestKind::Segment, 100, false));
        a.record_request(&req(0, RequestKind::Master, 7, true));
        let mut b = StreamTallies::default();
        b.record_request(&req(2, RequestKind::Segment, 50, false));
        b.record_request(&req(40, RequestKind::Segment, 1, false));
        a.merge(&b);
        let seg = a.get(2).unwrap().kind(RequestKind::Segment);
        assert_eq!(
            (seg.count, seg.bytes, a.get(2).unwrap().viewers),
            (2, 150, 1)
        );
        assert_eq!(seg.total.as_ref().map(|h| h.len()), Some(2));
        assert_eq!(a.get(0).unwrap().kind(RequestKind::Master).errors, 1);
        let far = a.get(40).unwrap().kind(RequestKind::Segment);
        assert_eq!(
            (far.count, far.ttfb.is_none()),
            (1, true),
            "no latency past the limit"
        );
        let text = serde_json::to_string(&a).unwrap();
        let back: StreamTallies = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        a.reset();
        assert_eq!(a.get(2).unwrap().requests(), 0);
    }
}

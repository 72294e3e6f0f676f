//! Counters and histograms that events fold into; mergeable so per-worker shards can be
//! combined into one total each tick, and serialisable (the JSON report's `merge`
//! section) so the reports of a test's shards merge into the same totals afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::event::{ErrorClass, Event, LifecycleEvent, PlaybackEvent, RequestDone, RequestKind};

/// Largest value a histogram records, in microseconds (1 hour); larger values are clamped.
const MAX_MICROS: u64 = 3_600_000_000;

/// A histogram of durations in microseconds, 3 significant figures.
pub fn duration_histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid, so construction cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

/// Record `d` into `h`, clamped to the histogram's range.
pub fn record_duration(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros().min(MAX_MICROS as u128) as u64).max(1);
    h.saturating_record(us);
}

/// Per request kind totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// Requests finished (successful, failed or aborted).
    pub count: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests still in flight when the run stopped (cut off after the stop's grace).
    pub aborted: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Time to first byte of successful and HTTP-error responses (µs).
    #[serde(with = "super::histogram_codec")]
    pub ttfb: Histogram<u64>,
    /// Whole request time of successful requests (µs).
    #[serde(with = "super::histogram_codec")]
    pub total: Histogram<u64>,
    /// LL-HLS blocking reloads and hinted parts: wait before the content was due (µs).
    #[serde(with = "super::histogram_codec", default = "duration_histogram")]
    pub hold: Histogram<u64>,
    /// The same requests: wait past the moment the content was due (µs; 0 recorded as
    /// the histogram's 1 µs floor).
    #[serde(with = "super::histogram_codec", default = "duration_histogram")]
    pub lateness: Histogram<u64>,
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats {
            count: 0,
            errors: 0,
            aborted: 0,
            retries: 0,
            bytes: 0,
            ttfb: duration_histogram(),
            total: duration_histogram(),
            hold: duration_histogram(),
            lateness: duration_histogram(),
        }
    }
}

impl KindStats {
    fn merge(&mut self, o: &KindStats) {
        self.count += o.count;
        self.errors += o.errors;
        self.aborted += o.aborted;
        self.retries += o.retries;
        self.bytes += o.bytes;
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.total.add(&o.total);
        let _ = self.hold.add(&o.hold);
        let _ = self.lateness.add(&o.lateness);
    }

    fn reset(&mut self) {
        self.count = 0;
        self.errors = 0;
        self.aborted = 0;
        self.retries = 0;
        self.bytes = 0;
        self.ttfb.reset();
        self.total.reset();
        self.hold.reset();
        self.lateness.reset();
    }
}

/// Everything the events of a period (or of the whole run) add up to.
///
/// Serialised (docs/json-report.md, `merge.accumulator`) with the kinds and error classes
/// keyed by name, durations as `{secs, nanos}` and histograms as
/// [`super::histogram_codec`] text: exact, so deserialising and merging the shards'
/// accumulators gives what one process seeing all their events would have counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accumulator {
    /// Per request kind, indexed by `RequestKind::index`.
    #[serde(with = "by_kind")]
    pub kinds: [KindStats; RequestKind::COUNT],
    /// Failed requests by class, indexed by `ErrorClass::index`.
    #[serde(with = "by_class")]
    pub by_class: [u64; ErrorClass::ALL.len()],
    /// Failed requests by HTTP status (>= 400).
    pub by_status: BTreeMap<u16, u64>,
    /// Redirects followed.
    pub redirects: u64,
    /// Requests by the protocol they went out on, indexed by `Protocol::index` (requests
    /// that never had a connection, and FFmpeg's, are in neither).
    #[serde(default)]
    pub by_protocol: [u64; 2],
    /// Connections the client opened, by protocol (indexed by `Protocol::index`).
    #[serde(default)]
    pub connections: [u64; 2],
    /// Startup times (µs).
    #[serde(with = "super::histogram_codec")]
    pub startup: Histogram<u64>,
    /// Lengths of finished stalls (µs).
    #[serde(with = "super::histogram_codec")]
    pub stall_durations: Histogram<u64>,
    /// Live latency samples (µs).
    #[serde(with = "super::histogram_codec")]
    pub live_latency: Histogram<u64>,
    /// Stalls that began.
    pub stalls_started: u64,
    /// Total length of finished stalls.
    pub stall_time: Duration,
    /// Media time played.
    pub played: Duration,
    /// Segments that expired before they could be loaded.
    pub segments_expired: u64,
    /// Segments given up after retries.
    pub segments_skipped: u64,
    /// Media-sequence jumps handled as a stream reset.
    pub stream_resets: u64,
    /// Media playlist loads whose absurd timing was clamped.
    pub timing_clamped: u64,
    /// Tracks set to play LL-HLS that fell back to classic HLS.
    #[serde(default)]
    pub ll_fallbacks: u64,
    /// Viewer runs still without their first media at the startup timeout.
    pub startup_timeouts: u64,
    /// Viewer slots started by the ramp.
    pub viewers_started: u64,
    /// Viewers replaced or respawned.
    pub restarts: u64,
    /// Viewer exits that were failures.
    pub exits_failure: u64,
    /// Viewer exits that were clean (including swarm-initiated stops).
    pub exits_clean: u64,
    /// Reconnections after connection errors.
    pub reconnects: u64,
    /// Events folded in.
    pub events: u64,
    /// Per-stream figures (a many-stream run; one entry, or none, with one stream).
    #[serde(default)]
    pub streams: super::streams::StreamTallies,
    /// Adaptive-bitrate figures (`-variant abr`).
    #[serde(default)]
    pub abr: super::abr::AbrTally,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            kinds: std::array::from_fn(|_| KindStats::default()),
            by_class: [0; ErrorClass::ALL.len()],
            by_status: BTreeMap::new(),
            redirects: 0,
            by_protocol: [0; 2],
            connections: [0; 2],
            startup: duration_histogram(),
            stall_durations: duration_histogram(),
            live_latency: duration_histogram(),
            stalls_started: 0,
            stall_time: Duration::ZERO,
            played: Duration::ZERO,
            segments_expired: 0,
            segments_skipped: 0,
            stream_resets: 0,
            timing_clamped: 0,
            ll_fallbacks: 0,
            startup_timeouts: 0,
            viewers_started: 0,
            restarts: 0,
            exits_failure: 0,
            exits_clean: 0,
            reconnects: 0,
            events: 0,
            streams: Default::default(),
            abr: Default::default(),
        }
    }
}

impl Accumulator {
    /// Fold one event in.
    pub fn record(&mut self, ev: &Event) {
        self.events += 1;
        match ev {
            Event::Request(r) => {
                self.streams.record_request(r);
                self.record_request(r)
            }
            Event::StreamViewer { stream } => self.streams.record_viewer(*stream),
            Event::Progress { kind, bytes } => self.kinds[kind.index()].bytes += bytes,
            Event::Playback(p) => self.record_playback(p),
            Event::Lifecycle(l) => self.record_lifecycle(l),
        }
    }

    fn record_request(&mut self, r: &RequestDone) {
        let k = &mut self.kinds[r.kind.index()];
        k.count += 1;
        k.bytes += r.unstreamed();
        if r.retry {
            k.retries += 1;
        }
        if let Some(ttfb) = r.ttfb {
            record_duration(&mut k.ttfb, ttfb);
        }
        if let Some(hold) = r.hold {
            record_duration(&mut k.hold, hold);
        }
        if let Some(late) = r.lateness {
            record_duration(&mut k.lateness, late);
        }
        self.redirects += u64::from(r.redirects);
        if let Some(p) = r.protocol {
            self.by_protocol[p.index()] += 1;
        }
        for (a, b) in self.connections.iter_mut().zip(r.connections) {
            *a += u64::from(b);
        }
        if r.aborted {
            // Cut off by the stop: neither a download time nor an error.
            k.aborted += 1;
            return;
        }
        match r.error {
            // A zero total means "not measured" (approximate figures from FFmpeg's log).
            None if r.total.is_zero() => {}
            None => record_duration(&mut k.total, r.total),
            Some(class) => {
                k.errors += 1;
                self.by_class[class.index()] += 1;
                if let Some(s) = r.status.filter(|s| *s >= 400) {
                    *self.by_status.entry(s).or_default() += 1;
                }
            }
        }
    }

    fn record_playback(&mut self, p: &PlaybackEvent) {
        match p {
            PlaybackEvent::Started { startup } => record_duration(&mut self.startup, *startup),
            PlaybackEvent::StallStarted => self.stalls_started += 1,
            PlaybackEvent::StallEnded { stalled } => {
                self.stall_time += *stalled;
                record_duration(&mut self.stall_durations, *stalled);
            }
            PlaybackEvent::LiveLatency { latency } => {
                record_duration(&mut self.live_latency, *latency)
            }
            PlaybackEvent::Played { media } => self.played += *media,
            PlaybackEvent::SegmentsExpired { count } => {
                self.segments_expired = self.segments_expired.saturating_add(*count)
            }
            PlaybackEvent::SegmentSkipped => self.segments_skipped += 1,
            PlaybackEvent::StreamReset => self.stream_resets += 1,
            PlaybackEvent::TimingClamped => self.timing_clamped += 1,
            PlaybackEvent::LlFallback => self.ll_fallbacks += 1,
            PlaybackEvent::StartupTimedOut => self.startup_timeouts += 1,
            PlaybackEvent::AbrSwitch { .. }
            | PlaybackEvent::AbrAbandon
            | PlaybackEvent::AbrPlayed { .. }
            | PlaybackEvent::AbrViewerDone { .. } => self.abr.record(p),
        }
    }

    fn record_lifecycle(&mut self, l: &LifecycleEvent) {
        match l {
            LifecycleEvent::Started => self.viewers_started += 1,
            LifecycleEvent::Restarted => self.restarts += 1,
            LifecycleEvent::Exited { failure: true } => self.exits_failure += 1,
            LifecycleEvent::Exited { failure: false } => self.exits_clean += 1,
            LifecycleEvent::Reconnected => self.reconnects += 1,
        }
    }

    /// Add another accumulator's totals into this one.
    pub fn merge(&mut self, o: &Accumulator) {
        for (a, b) in self.kinds.iter_mut().zip(o.kinds.iter()) {
            a.merge(b);
        }
        for (a, b) in self.by_class.iter_mut().zip(o.by_class.iter()) {
            *a += b;
        }
        for (s, n) in &o.by_status {
            *self.by_status.entry(*s).or_default() += n;
        }
        self.redirects += o.redirects;
        for i in 0..2 {
            self.by_protocol[i] += o.by_protocol[i];
            self.connections[i] += o.connections[i];
        }
        let _ = self.startup.add(&o.startup);
        let _ = self.stall_durations.add(&o.stall_durations);
        let _ = self.live_latency.add(&o.live_latency);
        self.stalls_started += o.stalls_started;
        self.stall_time += o.stall_time;
        self.played += o.played;
        self.segments_expired = self.segments_expired.saturating_add(o.segments_expired);
        self.segments_skipped += o.segments_skipped;
        self.stream_resets += o.stream_resets;
        self.timing_clamped += o.timing_clamped;
        self.ll_fallbacks += o.ll_fallbacks;
        self.startup_timeouts += o.startup_timeouts;
        self.viewers_started += o.viewers_started;
        self.restarts += o.restarts;
        self.exits_failure += o.exits_failure;
        self.exits_clean += o.exits_clean;
        self.reconnects += o.reconnects;
        self.events += o.events;
        self.streams.merge(&o.streams);
        self.abr.merge(&o.abr);
    }

    /// Zero everything, keeping allocations.
    pub fn reset(&mut self) {
        for k in &mut self.kinds {
            k.reset();
        }
        self.by_class = [0; ErrorClass::ALL.len()];
        self.by_status.clear();
        self.redirects = 0;
        self.by_protocol = [0; 2];
        self.connections = [0; 2];
        self.startup.reset();
        self.stall_durations.reset();
        self.live_latency.reset();
        self.stalls_started = 0;
        self.stall_time = Duration::ZERO;
        self.played = Duration::ZERO;
        self.segments_expired = 0;
        self.segments_skipped = 0;
        self.stream_resets = 0;
        self.timing_clamped = 0;
        self.ll_fallbacks = 0;
        self.startup_timeouts = 0;
        self.viewers_started = 0;
        self.restarts = 0;
        self.exits_failure = 0;
        self.exits_clean = 0;
        self.reconnects = 0;
        self.events = 0;
        self.streams.reset();
        self.abr.reset();
    }

    /// Requests of one kind.
    pub fn kind(&self, kind: RequestKind) -> &KindStats {
        &self.kinds[kind.index()]
    }

    /// All requests finished.
    pub fn total_requests(&self) -> u64 {
        self.kinds.iter().map(|k| k.count).sum()
    }

    /// All failed requests.
    pub fn total_errors(&self) -> u64 {
        self.kinds.iter().map(|k| k.errors).sum()
    }

    /// All requests still in flight when the run stopped.
    pub fn total_aborted(&self) -> u64 {
        self.kinds.iter().map(|k| k.aborted).sum()
    }

    /// All body bytes.
    pub fn total_bytes(&self) -> u64 {
        self.kinds.iter().map(|k| k.bytes).sum()
    }

    /// Failed requests of one class.
    pub fn errors_of(&self, class: ErrorClass) -> u64 {
        self.by_class[class.index()]
    }
}

/// `kinds` as an object keyed by [`RequestKind::as_str`] (every kind present).
mod by_kind {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{KindStats, RequestKind};

    pub fn serialize<S: Serializer>(
        kinds: &[KindStats; RequestKind::COUNT],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let named: BTreeMap<&str, &KindStats> = RequestKind::ALL
            .iter()
            .map(|k| (k.as_str(), &kinds[k.index()]))
            .collect();
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[KindStats; RequestKind::COUNT], D::Error> {
        let mut named = BTreeMap::<String, KindStats>::deserialize(d)?;
        let mut kinds: [KindStats; RequestKind::COUNT] =
            std::array::from_fn(|_| KindStats::default());
        for k in RequestKind::ALL {
            kinds[k.index()] = match named.remove(k.as_str()) {
                Some(stats) => stats,
                // Reports before schema 6 had no LL-HLS kinds: none of those requests.
                None if matches!(k, RequestKind::Blocking | RequestKind::Hint) => {
                    KindStats::default()
                }
                None => {
                    return Err(D::Error::custom(format!(
                        "no request kind `{}`",
                        k.as_str()
                    )));
                }
            };
        }
        if let Some(unknown) = named.keys().next() {
            return Err(D::Error::custom(format!(
                "unknown request kind `{unknown}`"
            )));
        }
        Ok(kinds)
    }
}

/// `by_class` as an object keyed by [`ErrorClass::as_str`] (every class present).
mod by_class {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ErrorClass;

    const N: usize = ErrorClass::ALL.len();

    pub fn serialize<S: Serializer>(counts: &[u64; N], s: S) -> Result<S::Ok, S::Error> {
        let named: BTreeMap<&str, u64> = ErrorClass::ALL
            .iter()
            .map(|c| (c.as_str(), counts[c.index()]))
            .collect();
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u64; N], D::Error> {
        let mut named = BTreeMap::<String, u64>::deserialize(d)?;
        let mut counts = [0; N];
        for c in ErrorClass::ALL {
            counts[c.index()] = named
                .remove(c.as_str())
                .ok_or_else(|| D::Error::custom(format!("no error class `{}`", c.as_str())))?;
        }
        if let Some(unknown) = named.keys().next() {
            return Err(D::Error::custom(format!("unknown error class `{unknown}`")));
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: RequestKind, ms: u64, error: Option<ErrorClass>, status: u16) -> Event {
        Event::Request(RequestDone {
            kind,
            status: Some(status),
            ttfb: Some(Duration::from_millis(ms)),
            total: Duration::from_millis(ms * 2),
            bytes: 100,
            streamed: 0,
            error,
            redirects: 0,
            retry: false,
            aborted: false,
            protocol: None,
            connections: [0; 2],
            hold: None,
            lateness: None,
            stream: None,
        })
    }

    #[test]
    fn records_and_merges() {
        let mut a = Accumulator::default();
        let mut b = Accumulator::default();
        a.record(&req(RequestKind::Segment, 150, None, 200));
        b.record(&req(
            RequestKind::Segment,
            150,
            Some(ErrorClass::Http5xx),
            503,
        ));
        b.record(&req(RequestKind::Playlist, 10, None, 200));
        a.merge(&b);
        let s = a.kind(RequestKind::Segment);
        assert_eq!(s.count, 2);
        assert_eq!(s.errors, 1);
        assert_eq!(s.bytes, 200);
        assert_eq!(s.ttfb.len(), 2);
        assert_eq!(s.total.len(), 1, "failed requests have no download time");
        assert_eq!(a.by_status.get(&503), Some(&1));
        assert_eq!(a.errors_of(ErrorClass::Http5xx), 1);
        assert_eq!(a.total_requests(), 3);
        let p50 = s.ttfb.value_at_quantile(0.5);
        assert!((149_500..=150_500).contains(&p50), "{p50}");
        a.reset();
        assert_eq!(a.total_requests(), 0);
        assert!(a.by_status.is_empty());
    }

    #[test]
    fn streamed_bytes_count_once_and_aborted_requests_are_their_own_outcome() {
        let mut a = Accumulator::default();
        // A long body reported live, then finished: 300 + 200 streamed, 50 at the end.
        for bytes in [300, 200] {
            a.record(&Event::Progress {
                kind: RequestKind::Segment,
                bytes,
            });
        }
        assert_eq!(
            a.kind(RequestKind::Segment).bytes,
            500,
            "live before the end"
        );
        let mut done = RequestDone::new(RequestKind::Segment);
        done.bytes = 550;
        done.streamed = 500;
        done.total = Duration::from_secs(3);
        a.record(&Event::Request(done.clone()));
        // One cut off by the stop: its head and 70 bytes had arrived.
        let mut cut = RequestDone::new(RequestKind::Segment);
        cut.bytes = 70;
        cut.ttfb = Some(Duration::from_millis(5));
        cut.total = Duration::from_secs(1);
        cut.aborted = true;
        a.record(&Event::Request(cut));
        let s = a.kind(RequestKind::Segment);
        assert_eq!((s.count, s.errors, s.aborted), (2, 0, 1));
        assert_eq!(s.bytes, 620);
        assert_eq!(s.total.len(), 1, "no download time for the aborted one");
        assert_eq!(s.ttfb.len(), 1);
        assert_eq!(a.total_errors(), 0);
    }

    #[test]
    fn serialised_shards_merge_to_what_one_process_would_count() {
        // The same events split over three "shards", and all of them in one.
        let events: Vec<Event> = (0..300u64)
            .map(|i| match i % 5 {
                0 => req(RequestKind::Playlist, 5 + i % 7, None, 200),
                1 => req(
                    RequestKind::Segment,
                    100 + i,
                    Some(ErrorClass::Http5xx),
                    503,
                ),
                2 => Event::Playback(PlaybackEvent::StallEnded {
                    stalled: Duration::from_millis(i * 3),
                }),
                3 => Event::Lifecycle(LifecycleEvent::Started),
                _ => req(RequestKind::Segment, 40 + i * 11, None, 200),
            })
            .collect();
        let mut whole = Accumulator::default();
        let mut shards: [Accumulator; 3] = std::array::from_fn(|_| Accumulator::default());
        for (i, ev) in events.iter().enumerate() {
            whole.record(ev);
            shards[i % 3].record(ev);
        }
        let mut merged = Accumulator::default();
        for shard in &shards {
            let text = serde_json::to_string(shard).expect("serialises");
            let back: Accumulator = serde_json::from_str(&text).expect("deserialises");
            assert_eq!(&back, shard, "round trip");
            merged.merge(&back);
        }
        assert_eq!(merged, whole);
        let seg = merged.kind(RequestKind::Segment);
        assert_eq!(seg.count, 120);
        assert_eq!(
            seg.ttfb.value_at_quantile(0.95),
            whole
                .kind(RequestKind::Segment)
                .ttfb
                .value_at_quantile(0.95)
        );
        assert_eq!(merged.stall_time, whole.stall_time);
    }

    #[test]
    fn serialised_form_names_kinds_and_classes() {
        let mut a = Accumulator::default();
        a.record(&req(RequestKind::Init, 3, Some(ErrorClass::Timeout), 200));
        let v = serde_json::to_value(&a).expect("serialises");
        assert_eq!(v["kinds"]["init"]["count"], 1);
        assert_eq!(v["by_class"]["timeout"], 1);
        assert!(v["kinds"]["segment"]["ttfb"].is_string());
        let mut broken = v.clone();
        broken["kinds"]
            .as_object_mut()
            .expect("an object")
            .remove("part");
        let err = serde_json::from_value::<Accumulator>(broken).unwrap_err();
        assert!(err.to_string().contains("no request kind `part`"), "{err}");
        // A report before schema 6: no LL-HLS kinds, no hold/lateness, no fallbacks.
        let mut old = v.clone();
        let kinds = old["kinds"].as_object_mut().expect("an object");
        kinds.remove("blocking");
        kinds.remove("hint");
        for k in kinds.values_mut() {
            let k = k.as_object_mut().expect("an object");
            k.remove("hold");
            k.remove("lateness");
        }
        old.as_object_mut()
            .expect("an object")
            .remove("ll_fallbacks");
        let read = serde_json::from_value::<Accumulator>(old).expect("older accumulators read");
        assert_eq!(read, a);
    }
}

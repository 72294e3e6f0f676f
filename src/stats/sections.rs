//! The sections every written report lays out (viewers, requests per kind, errors by
//! class, playback, throughput, the stats pipeline, the client's own health), computed
//! once from a [`RunReport`]. The JSON report serialises them as they are
//! (docs/json-report.md names each key); the summary and the HTML report only format
//! them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::event::{Protocol, RequestKind};
use super::report::RunReport;
use super::snapshot::Percentiles;
use super::streams::{StreamRequests, StreamSection};

/// Viewer counts.
#[derive(Debug, Clone, Serialize)]
pub struct Viewers {
    /// `-clients`.
    pub target: u64,
    /// Most active (playing) at once (tick resolution).
    pub peak_active: u64,
    /// Active (playing) when the stop began.
    pub active_at_end: u64,
    /// Still waiting for first media (within the startup timeout) when the stop began.
    pub starting_at_end: u64,
    /// Waiting to restart after a failed run when the stop began.
    pub failed_at_end: u64,
    /// Viewer runs still without first media at the startup timeout (they counted as
    /// stalled from then on).
    pub startup_timeouts: u64,
    /// Viewer slots the ramp started.
    pub started: u64,
    /// Viewers replaced (VOD end) or respawned (failure).
    pub restarts: u64,
    /// Viewer runs that ended in failure.
    pub failures: u64,
    /// Reconnections after connection errors.
    pub reconnects: u64,
    /// The peak reached the target (not a JSON key: `peak_active >= target` says it).
    #[serde(skip)]
    pub target_reached: bool,
}

/// One request kind.
#[derive(Debug, Clone, Serialize)]
pub struct Requests {
    /// Finished requests.
    pub count: u64,
    /// Failed among them.
    pub errors: u64,
    /// Still in flight when the run stopped (cut off after the stop's grace); neither
    /// successes nor errors, their bytes so far are in `bytes`.
    pub aborted: u64,
    /// Retries among them.
    pub retries: u64,
    /// Body bytes.
    pub bytes: u64,
    /// Time to first byte.
    pub ttfb_seconds: Percentiles,
    /// Whole download time (successful requests).
    pub download_seconds: Percentiles,
    /// LL-HLS blocking reloads and hinted parts that got their content: how long each
    /// waited before its part was due (docs/metrics.md, "Hold and lateness"); empty for
    /// other kinds.
    pub hold_seconds: Percentiles,
    /// The same requests: how long each waited past the moment its part was due.
    pub lateness_seconds: Percentiles,
}

/// Errors.
#[derive(Debug, Clone, Serialize)]
pub struct Errors {
    /// Failed requests.
    pub total: u64,
    /// Failed / finished.
    pub rate: f64,
    /// By class (classes with none left out).
    pub by_class: BTreeMap<&'static str, u64>,
    /// By HTTP status (serialised with the code as the key string).
    pub by_status: BTreeMap<u16, u64>,
}

/// Player-side figures.
#[derive(Debug, Clone, Serialize)]
pub struct Playback {
    /// Stalls begun.
    pub stalls: u64,
    /// Total stall time (stalls still open at the end count up to the end).
    pub stall_seconds: f64,
    /// Viewers stalled when the stop began (out of buffer, or never started).
    pub stalled_at_end: u64,
    /// Most viewers stalled at once (the rebuffering and the never started).
    pub peak_stalled: u64,
    /// Stall time / (played + stall time).
    pub rebuffer_ratio: f64,
    /// Media seconds played, all viewers.
    pub played_seconds: f64,
    /// Tune-in to first frame.
    pub startup_seconds: Percentiles,
    /// Distance behind the live edge.
    pub live_latency_seconds: Percentiles,
    /// Stall lengths.
    pub stall_duration_seconds: Percentiles,
    /// Segments that left the window before they were loaded.
    pub segments_expired: u64,
    /// Segments given up after retries.
    pub segments_skipped: u64,
    /// Media-sequence jumps (backwards, or implausibly far forward) handled as a stream
    /// reset: the track re-tuned at the live point.
    pub stream_resets: u64,
    /// Media playlist loads whose absurd timing (target duration, segment durations) was
    /// clamped to sane values.
    pub timing_clamped: u64,
    /// Native tracks set to play LL-HLS (`--ll-hls`) that fell back to classic HLS: the
    /// server answered a blocking reload at once without the asked-for part, or (with
    /// `--ll-hls on`) the stream had no parts.
    pub ll_fallbacks: u64,
    /// Adaptive bitrate (`-variant abr`); `None` (JSON `null`) without ABR viewers.
    pub abr: Option<super::abr::AbrFigures>,
}

/// Throughput, body bytes per second.
/// Requests and connections by HTTP version (native engine; FFmpeg's are in neither).
#[derive(Debug, Clone, Serialize)]
pub struct Protocols {
    /// Requests by the protocol of the connection they (their last hop) went out on;
    /// requests that never got a connection are in neither.
    pub requests: PerProtocol,
    /// Connections the client opened (a reconnect opens another).
    pub connections: PerProtocol,
}

/// One count per HTTP version.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PerProtocol {
    /// HTTP/1.1.
    pub http1: u64,
    /// HTTP/2.
    pub http2: u64,
}

impl PerProtocol {
    /// From an array indexed by `Protocol::index`.
    pub fn of(counts: [u64; 2]) -> Self {
        Self {
            http1: counts[Protocol::Http1.index()],
            http2: counts[Protocol::Http2.index()],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Bytes over the whole run / run time.
    pub mean: f64,
    /// Over the last 30 s of the run.
    pub last_30s: f64,
}

/// Stats pipeline health.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    /// Events offered.
    pub events: u64,
    /// Events dropped.
    pub dropped: u64,
    /// dropped / events.
    pub drop_rate: f64,
}

/// The client's own health (native engine).
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// How late the viewer runtimes woke from their timers: the queueing delay every
    /// measured latency includes (docs/json-report.md).
    pub wakeup_lag_seconds: Percentiles,
    /// p99 wake-up lag above [`super::lag::SATURATED_P99`]: latency figures include
    /// client-side delay.
    pub saturated: bool,
}

/// Every section of the end-of-run report.
#[derive(Debug, Clone)]
pub struct Sections {
    /// Run time, seconds.
    pub run_seconds: f64,
    /// Viewers.
    pub viewers: Viewers,
    /// Every request kind, in `RequestKind::ALL` order (kinds never requested included).
    pub requests: Vec<(RequestKind, Requests)>,
    /// Requests finished, all kinds.
    pub total_requests: u64,
    /// Requests cut off in flight at the stop, all kinds.
    pub total_aborted: u64,
    /// Body bytes, all kinds.
    pub total_bytes: u64,
    /// Throughput.
    pub throughput: Throughput,
    /// Redirects followed.
    pub redirects: u64,
    /// Requests and connections by HTTP version.
    pub protocols: Protocols,
    /// Errors.
    pub errors: Errors,
    /// Playback.
    pub playback: Playback,
    /// Stats pipeline.
    pub pipeline: Pipeline,
    /// Request figures are approximate (FFmpeg engine, https:// stream: counted from
    /// FFmpeg's log, no timings or bytes).
    pub requests_approximate: bool,
    /// The client's own health (`None` with the FFmpeg engine).
    pub client: Option<Client>,
    /// Every stream of the run, in the run's order (one for a single-stream run).
    pub streams: Vec<StreamSection>,
}

impl Sections {
    /// The sections of a finished run.
    pub fn of(r: &RunReport) -> Self {
        let s = &r.snapshot;
        let t = &s.totals;
        let requests: Vec<(RequestKind, Requests)> = RequestKind::ALL
            .iter()
            .map(|k| {
                let ks = s.kind(*k);
                let figures = Requests {
                    count: ks.count,
                    errors: ks.errors,
                    aborted: ks.aborted,
                    retries: ks.retries,
                    bytes: ks.bytes,
                    ttfb_seconds: ks.ttfb,
                    download_seconds: ks.download,
                    hold_seconds: ks.hold,
                    lateness_seconds: ks.lateness,
                };
                (*k, figures)
            })
            .collect();
        let streams = if r.streams.len() > 1 {
            super::streams::sections(&r.streams, &r.accumulator.streams)
        } else {
            // One stream: its figures are the run's.
            r.streams
                .iter()
                .map(|info| StreamSection {
                    url: info.url.clone(),
                    share: info.share,
                    viewers: t.viewers_started,
                    requests: requests
                        .iter()
                        .map(|(k, q): &(RequestKind, Requests)| {
                            let figures = StreamRequests {
                                count: q.count,
                                errors: q.errors,
                                aborted: q.aborted,
                                retries: q.retries,
                                bytes: q.bytes,
                                ttfb_seconds: Some(q.ttfb_seconds),
                                download_seconds: Some(q.download_seconds),
                            };
                            (k.as_str(), figures)
                        })
                        .collect(),
                    total_bytes: t.total_bytes(),
                })
                .collect()
        };
        Sections {
            streams,
            run_seconds: s.elapsed.as_secs_f64(),
            viewers: Viewers {
                target: s.target,
                peak_active: s.peak_active,
                active_at_end: r.active_at_end,
                starting_at_end: s.starting,
                failed_at_end: s.failed,
                startup_timeouts: s.startup_timeouts(),
                started: t.viewers_started,
                restarts: t.restarts,
                failures: t.exits_failure,
                reconnects: t.reconnects,
                target_reached: s.target_reached(),
            },
            requests,
            total_requests: s.total_requests(),
            total_aborted: s.total_aborted(),
            total_bytes: t.total_bytes(),
            throughput: Throughput {
                mean: s.mean_bytes_per_second(),
                last_30s: s.window(30).bytes_per_second,
            },
            redirects: t.redirects,
            protocols: Protocols {
                requests: PerProtocol::of(t.by_protocol),
                connections: PerProtocol::of(t.connections),
            },
            errors: Errors {
                total: s.total_errors(),
                rate: s.error_rate(),
                by_class: s.errors_by_class(),
                by_status: t.by_status.clone(),
            },
            playback: Playback {
                stalls: s.stalls(),
                stall_seconds: s.stall_seconds(),
                stalled_at_end: r.stalled_at_end,
                peak_stalled: s.peak_stalled,
                rebuffer_ratio: s.rebuffer_ratio(),
                played_seconds: t.played_seconds,
                startup_seconds: s.startup,
                live_latency_seconds: s.live_latency,
                stall_duration_seconds: s.stall_durations,
                segments_expired: t.segments_expired,
                segments_skipped: t.segments_skipped,
                stream_resets: t.stream_resets,
                timing_clamped: t.timing_clamped,
                ll_fallbacks: t.ll_fallbacks,
                abr: t.abr.any().then(|| t.abr.clone()),
            },
            pipeline: Pipeline {
                events: s.events_offered,
                dropped: s.events_dropped,
                drop_rate: s.drop_rate(),
            },
            requests_approximate: s.ffmpeg.as_ref().is_some_and(|f| f.requests_approximate),
            client: s.client_lag.as_ref().map(|l| Client {
                wakeup_lag_seconds: l.run,
                saturated: l.saturated(),
            }),
        }
    }

    /// The request kinds the run asked for at least once, in `RequestKind::ALL` order
    /// (the summary's and the HTML report's rows).
    pub fn requested(&self) -> impl Iterator<Item = (RequestKind, &Requests)> {
        self.requests
            .iter()
            .filter(|(_, r)| r.count > 0)
            .map(|(k, r)| (*k, r))
    }
}

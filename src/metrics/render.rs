//! Every `hls_swarm_*` family, rendered from one tick's Snapshot. Nothing is computed
//! here beyond unit conversion (DESIGN.md principle 3): counts, windows, rates,
//! percentiles and the bucket counts at this module's bounds all come from Stats.
//! docs/metrics.md documents each family; keep the two in step.

use prometheus::proto::MetricFamily;

use super::text::{self, Exposition, Kind};
use crate::config::{Config, StreamSource, redact_url};
use crate::stats::distribution::{HELD_KINDS, Measure};
use crate::stats::event::{ErrorClass, Protocol, RequestKind};
use crate::stats::snapshot::{Percentiles, Snapshot};
use crate::stats::streams::GroupCounts;

/// Upper bounds (seconds) of the request TTFB and duration histograms.
pub const REQUEST_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds (seconds) of the startup histogram.
pub const STARTUP_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0,
];
/// Upper bounds (seconds) of the stall-duration histogram.
pub const STALL_BUCKETS: [f64; 11] = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0];
/// Upper bounds (seconds) of the live-latency histogram.
pub const LIVE_LATENCY_BUCKETS: [f64; 14] = [
    1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0,
];
/// The bucket layout go-ffmpeg-hls-swarm used for `hls_swarm_inferred_latency_seconds`.
pub const GO_INFERRED_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
];

/// The constant labels of `hls_swarm_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// hls-swarm version.
    pub version: String,
    /// Engine name.
    pub engine: String,
    /// The stream, without credentials, query or fragment; `builtin` for the built-in
    /// origin.
    pub stream: String,
    /// The test's run id (`--run-id`), shared by all its shards.
    pub run_id: String,
    /// This shard's index, 0-based (`--shard I/N`: I).
    pub shard: u64,
    /// How many shards run the test (`--shard I/N`: N).
    pub shards: u64,
    /// A many-stream run's `stream` label of each `/metrics` stream group (the top-K
    /// streams, then `other`); empty with one stream.
    pub stream_groups: Vec<String>,
}

impl Info {
    /// The info labels of a run of `cfg`.
    pub fn new(cfg: &Config) -> Self {
        Info {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine: cfg.engine.kind.as_str().to_string(),
            stream: match &cfg.stream.source {
                StreamSource::Url(u) => redact_url(u),
                StreamSource::Builtin => "builtin".to_string(),
            },
            run_id: cfg.run.id.clone(),
            shard: cfg.run.shard.index(),
            shards: cfg.run.shard.count(),
            stream_groups: cfg
                .stream
                .metrics_groups()
                .map(|g| g.names)
                .unwrap_or_default(),
        }
    }
}

/// A many-stream run's per-stream families: one series per `/metrics` stream group
/// (top-K streams by configured share, then `other`), so series stay bounded however
/// many streams run. Nothing with one stream.
fn stream_families(e: &mut Exposition, s: &Snapshot, info: &Info) {
    if s.stream_groups.is_empty() || info.stream_groups.len() != s.stream_groups.len() {
        return;
    }
    let groups = || info.stream_groups.iter().zip(s.stream_groups.iter());
    e.family(
        "hls_swarm_stream_viewers_started_total",
        Kind::Counter,
        "Viewer slots started, by stream (the top-K streams by configured share by URL, the rest as stream=\"other\").",
    );
    for (name, g) in groups() {
        e.sample(
            "hls_swarm_stream_viewers_started_total",
            &[("stream", name)],
            g.viewers as f64,
        );
    }
    for (family, help, pick) in [
        (
            "hls_swarm_stream_requests_total",
            "Requests finished (successful or not), by stream and kind.",
            (|g: &GroupCounts, k: usize| g.requests[k]) as fn(&GroupCounts, usize) -> u64,
        ),
        (
            "hls_swarm_stream_request_errors_total",
            "Requests failed, by stream and kind.",
            |g: &GroupCounts, k: usize| g.errors[k],
        ),
        (
            "hls_swarm_stream_bytes_total",
            "Body bytes of finished requests, by stream and kind.",
            |g: &GroupCounts, k: usize| g.bytes[k],
        ),
    ] {
        e.family(family, Kind::Counter, help);
        for (name, g) in groups() {
            for kind in RequestKind::ALL {
                e.sample(
                    family,
                    &[("stream", name), ("kind", kind.as_str())],
                    pick(g, kind.index()) as f64,
                );
            }
        }
    }
}

fn histogram_series(
    e: &mut Exposition,
    name: &str,
    labels: &[(&str, &str)],
    s: &Snapshot,
    m: Measure,
    bounds: &[f64],
) {
    let d = s.distributions.buckets(m, bounds);
    e.histogram(name, labels, &d.buckets, d.sum_seconds, d.count);
}

/// Families that exist before the first tick (the run is starting).
pub fn starting_families(info: &Info) -> Vec<MetricFamily> {
    let mut e = Exposition::new();
    write_info(&mut e, info);
    e.families()
}

/// The text of [`starting_families`].
pub fn render_starting(info: &Info) -> String {
    text::encode(&starting_families(info))
}

fn write_info(e: &mut Exposition, info: &Info) {
    e.family(
        "hls_swarm_info",
        Kind::Gauge,
        "Constant 1; labels name the version, engine and stream (no credentials, no query).",
    );
    e.sample(
        "hls_swarm_info",
        &[
            ("version", &info.version),
            ("engine", &info.engine),
            ("stream", &info.stream),
        ],
        1.0,
    );
    e.family(
        "hls_swarm_run_info",
        Kind::Gauge,
        "Constant 1; labels name the test (run_id, shared by its shards) and this shard of it (shard of shards, 0-based).",
    );
    e.sample(
        "hls_swarm_run_info",
        &[
            ("run_id", &info.run_id),
            ("shard", &info.shard.to_string()),
            ("shards", &info.shards.to_string()),
        ],
        1.0,
    );
}

/// The whole exposition for one snapshot, as text.
pub fn render(s: &Snapshot, info: &Info) -> String {
    text::encode(&families(s, info))
}

/// Every family of one snapshot, in exposition order.
pub fn families(s: &Snapshot, info: &Info) -> Vec<MetricFamily> {
    let mut e = Exposition::new();
    write_info(&mut e, info);
    run_families(&mut e, s);
    viewer_families(&mut e, s);
    request_families(&mut e, s);
    throughput_families(&mut e, s);
    latency_families(&mut e, s);
    playback_families(&mut e, s);
    pipeline_families(&mut e, s);
    client_families(&mut e, s);
    stream_families(&mut e, s, info);
    if let Some(lag) = &s.client_lag {
        wakeup_lag_families(&mut e, lag);
    }
    if let Some(o) = &s.origin {
        super::origin::write_families(&mut e, o);
    }
    if let Some(f) = &s.ffmpeg {
        ffmpeg_families(&mut e, f);
    }
    e.families()
}

fn run_families(e: &mut Exposition, s: &Snapshot) {
    let g = Kind::Gauge;
    e.single(
        "hls_swarm_target_clients",
        g,
        "Target viewer count (-clients).",
        s.target as f64,
    );
    let duration = s.duration.map_or(0.0, |d| d.as_secs_f64());
    e.single(
        "hls_swarm_test_duration_seconds",
        g,
        "Configured run length (-duration); 0 = until stopped.",
        duration,
    );
    e.single(
        "hls_swarm_test_elapsed_seconds",
        g,
        "Time since the run started.",
        s.elapsed.as_secs_f64(),
    );
    let remaining = s
        .duration
        .map_or(-1.0, |d| d.saturating_sub(s.elapsed).as_secs_f64());
    e.single(
        "hls_swarm_test_remaining_seconds",
        g,
        "Time left of -duration; -1 = until stopped.",
        remaining,
    );
    let progress = if s.target == 0 {
        0.0
    } else {
        s.ramped as f64 / s.target as f64
    };
    e.single(
        "hls_swarm_ramp_progress",
        g,
        "Viewer slots the ramp has started / target (0..1).",
        progress,
    );
}

fn viewer_families(e: &mut Exposition, s: &Snapshot) {
    let (g, c) = (Kind::Gauge, Kind::Counter);
    let t = &s.totals;
    e.single(
        "hls_swarm_active_clients",
        g,
        "Viewers playing now (a viewer that has not played is not active).",
        s.active as f64,
    );
    e.single(
        "hls_swarm_stalled_clients",
        g,
        "Viewers that cannot play now: out of buffer after playing, or no first media past -startup-timeout.",
        s.stalled as f64,
    );
    e.single(
        "hls_swarm_starting_clients",
        g,
        "Viewers tuned in and waiting for their first media (within -startup-timeout).",
        s.starting as f64,
    );
    e.single(
        "hls_swarm_failed_clients",
        g,
        "Viewers whose run failed, waiting out the backoff before a restart.",
        s.failed as f64,
    );
    e.single(
        "hls_swarm_startup_timeouts_total",
        Kind::Counter,
        "Viewer runs still without first media at -startup-timeout.",
        t.startup_timeouts as f64,
    );
    e.single(
        "hls_swarm_peak_active_clients",
        g,
        "Most viewers active at once so far (tick resolution).",
        s.peak_active as f64,
    );
    e.single(
        "hls_swarm_client_starts_total",
        c,
        "Viewer slots started by the ramp.",
        t.viewers_started as f64,
    );
    e.single(
        "hls_swarm_client_restarts_total",
        c,
        "Viewers replaced (VOD end) or respawned after a failure.",
        t.restarts as f64,
    );
    e.family(
        "hls_swarm_client_exits_total",
        c,
        "Viewer runs that ended, by category: success (clean end or stopped by the swarm) or error.",
    );
    e.sample(
        "hls_swarm_client_exits_total",
        &[("category", "success")],
        t.exits_clean as f64,
    );
    e.sample(
        "hls_swarm_client_exits_total",
        &[("category", "error")],
        t.exits_failure as f64,
    );
    e.single(
        "hls_swarm_reconnections_total",
        c,
        "Connections re-established after a connection error.",
        t.reconnects as f64,
    );
}

fn request_families(e: &mut Exposition, s: &Snapshot) {
    let (g, c) = (Kind::Gauge, Kind::Counter);
    let t = &s.totals;
    let count = |k: RequestKind| s.kind(k).count as f64;
    e.single(
        "hls_swarm_manifest_requests_total",
        c,
        "Playlist requests finished (multivariant and media playlists).",
        count(RequestKind::Master) + count(RequestKind::Playlist),
    );
    e.single(
        "hls_swarm_segment_requests_total",
        c,
        "Media segment requests finished (LL-HLS parts are kind=\"part\" in hls_swarm_requests_total).",
        count(RequestKind::Segment),
    );
    e.single(
        "hls_swarm_init_requests_total",
        c,
        "Initialisation section (EXT-X-MAP) requests finished.",
        count(RequestKind::Init),
    );
    let w1 = s.window(1);
    let rps = |k: RequestKind| w1.requests_per_second[k.index()];
    e.single(
        "hls_swarm_manifest_requests_per_second",
        g,
        "Playlist requests finished per second over the last 1 s tick.",
        rps(RequestKind::Master) + rps(RequestKind::Playlist),
    );
    e.single(
        "hls_swarm_segment_requests_per_second",
        g,
        "Segment requests finished per second over the last 1 s tick.",
        rps(RequestKind::Segment),
    );
    per_kind(
        e,
        "hls_swarm_requests_total",
        "Requests finished (successful or not), by kind.",
        |k| s.kind(k).count as f64,
    );
    per_kind(
        e,
        "hls_swarm_request_errors_total",
        "Requests failed, by kind.",
        |k| s.kind(k).errors as f64,
    );
    per_kind(
        e,
        "hls_swarm_requests_aborted_total",
        "Requests still in flight when the run stopped, cut off after the stop's grace (neither successes nor errors; their bytes so far are counted), by kind.",
        |k| s.kind(k).aborted as f64,
    );
    per_kind(
        e,
        "hls_swarm_request_retries_total",
        "Requests that were retries of a failed one, by kind.",
        |k| s.kind(k).retries as f64,
    );
    e.family(
        "hls_swarm_errors_total",
        c,
        "Requests failed, by error class (timeout, refused, reset, dns, tls, http_4xx, http_5xx, truncated, decoding, playlist_too_large, playlist_invalid, empty_body, other).",
    );
    for class in ErrorClass::ALL {
        e.sample(
            "hls_swarm_errors_total",
            &[("error_class", class.as_str())],
            t.errors_of(class) as f64,
        );
    }
    e.family(
        "hls_swarm_http_errors_total",
        c,
        "Requests answered with an HTTP error status (>= 400), by status code.",
    );
    for (status, n) in &t.by_status {
        e.sample(
            "hls_swarm_http_errors_total",
            &[("status_code", &status.to_string())],
            *n as f64,
        );
    }
    e.single(
        "hls_swarm_timeouts_total",
        c,
        "Requests that failed with no response or body within -timeout.",
        t.errors_of(ErrorClass::Timeout) as f64,
    );
    e.family(
        "hls_swarm_requests_by_protocol_total",
        c,
        "Requests finished, by the HTTP version of the connection they went out on (http1, http2); native engine only.",
    );
    for p in Protocol::ALL {
        e.sample(
            "hls_swarm_requests_by_protocol_total",
            &[("protocol", p.as_str())],
            t.by_protocol[p.index()] as f64,
        );
    }
    e.family(
        "hls_swarm_connections_opened_total",
        c,
        "Connections the native client opened, by HTTP version (http1, http2); a reconnect opens another.",
    );
    for p in Protocol::ALL {
        e.sample(
            "hls_swarm_connections_opened_total",
            &[("protocol", p.as_str())],
            t.connections[p.index()] as f64,
        );
    }
    e.single(
        "hls_swarm_redirects_total",
        c,
        "HTTP redirects followed.",
        t.redirects as f64,
    );
    e.single(
        "hls_swarm_error_rate",
        g,
        "Failed / finished requests over the last 30 s (0 when idle).",
        s.window(30).error_rate,
    );
}

fn per_kind(e: &mut Exposition, name: &str, help: &str, v: impl Fn(RequestKind) -> f64) {
    e.family(name, Kind::Counter, help);
    for k in RequestKind::ALL {
        e.sample(name, &[("kind", k.as_str())], v(k));
    }
}

fn throughput_families(e: &mut Exposition, s: &Snapshot) {
    let (g, c) = (Kind::Gauge, Kind::Counter);
    let t = &s.totals;
    e.single(
        "hls_swarm_bytes_downloaded_total",
        c,
        "Response body bytes received, all kinds.",
        t.total_bytes() as f64,
    );
    per_kind(
        e,
        "hls_swarm_response_bytes_total",
        "Response body bytes received, by kind.",
        |k| s.kind(k).bytes as f64,
    );
    e.single(
        "hls_swarm_segment_bytes_downloaded_total",
        c,
        "Segment and LL-HLS part body bytes received (measured, not looked up).",
        (s.kind(RequestKind::Segment).bytes + s.kind(RequestKind::Part).bytes) as f64,
    );
    e.single(
        "hls_swarm_throughput_bytes_per_second",
        g,
        "Body bytes per second, all kinds, over the last 1 s tick.",
        s.window(1).bytes_per_second,
    );
    for (w, help) in [
        (1, "Segment body bytes per second over the last 1 s."),
        (30, "Segment body bytes per second over the last 30 s."),
        (60, "Segment body bytes per second over the last 60 s."),
        (300, "Segment body bytes per second over the last 300 s."),
    ] {
        e.single(
            &format!("hls_swarm_segment_throughput_{w}s_bytes_per_second"),
            g,
            help,
            s.window(w).segment_bytes_per_second,
        );
    }
}

fn latency_families(e: &mut Exposition, s: &Snapshot) {
    let g = Kind::Gauge;
    let recent: &Percentiles = &s.recent_segment_download;
    for (q, v) in [
        ("p50", recent.p50),
        ("p95", recent.p95),
        ("p99", recent.p99),
        ("max", recent.max),
    ] {
        e.single(
            &format!("hls_swarm_inferred_latency_{q}_seconds"),
            g,
            &format!(
                "{q} of the segment download time (request start to last body byte) over the last 30 s; measured, the name is kept for compatibility."
            ),
            v,
        );
    }
    e.family(
        "hls_swarm_inferred_latency_seconds",
        Kind::Histogram,
        "Segment download time of successful segments, whole run, in go-ffmpeg-hls-swarm's bucket layout (same data as hls_swarm_request_duration_seconds{kind=\"segment\"}).",
    );
    histogram_series(
        e,
        "hls_swarm_inferred_latency_seconds",
        &[],
        s,
        Measure::Download(RequestKind::Segment),
        &GO_INFERRED_BUCKETS,
    );
    e.family(
        "hls_swarm_request_ttfb_seconds",
        Kind::Histogram,
        "Request start (connect included) to response head, by kind; successful and HTTP-error responses.",
    );
    for k in RequestKind::ALL {
        histogram_series(
            e,
            "hls_swarm_request_ttfb_seconds",
            &[("kind", k.as_str())],
            s,
            Measure::Ttfb(k),
            &REQUEST_BUCKETS,
        );
    }
    e.family(
        "hls_swarm_request_hold_seconds",
        Kind::Histogram,
        "LL-HLS blocking reloads (kind=blocking) and preload-hinted parts (kind=hint): how long each waited before its part was due by the playlist (the origin's intended hold).",
    );
    for k in HELD_KINDS {
        histogram_series(
            e,
            "hls_swarm_request_hold_seconds",
            &[("kind", k.as_str())],
            s,
            Measure::Hold(k),
            &REQUEST_BUCKETS,
        );
    }
    e.family(
        "hls_swarm_request_lateness_seconds",
        Kind::Histogram,
        "LL-HLS blocking reloads and preload-hinted parts: how long each waited past the moment its part was due by PROGRAM-DATE-TIME (content arriving late).",
    );
    for k in HELD_KINDS {
        histogram_series(
            e,
            "hls_swarm_request_lateness_seconds",
            &[("kind", k.as_str())],
            s,
            Measure::Lateness(k),
            &REQUEST_BUCKETS,
        );
    }
    e.family(
        "hls_swarm_request_duration_seconds",
        Kind::Histogram,
        "Request start to last body byte of successful requests, by kind.",
    );
    for k in RequestKind::ALL {
        histogram_series(
            e,
            "hls_swarm_request_duration_seconds",
            &[("kind", k.as_str())],
            s,
            Measure::Download(k),
            &REQUEST_BUCKETS,
        );
    }
}

fn playback_families(e: &mut Exposition, s: &Snapshot) {
    let c = Kind::Counter;
    let t = &s.totals;
    e.family(
        "hls_swarm_startup_seconds",
        Kind::Histogram,
        "Tune-in to first frame, per viewer start.",
    );
    histogram_series(
        e,
        "hls_swarm_startup_seconds",
        &[],
        s,
        Measure::Startup,
        &STARTUP_BUCKETS,
    );
    e.family(
        "hls_swarm_stall_duration_seconds",
        Kind::Histogram,
        "Length of each finished stall.",
    );
    histogram_series(
        e,
        "hls_swarm_stall_duration_seconds",
        &[],
        s,
        Measure::StallDuration,
        &STALL_BUCKETS,
    );
    e.family(
        "hls_swarm_live_latency_seconds",
        Kind::Histogram,
        "Distance of the playhead behind the live edge, sampled at each playlist load.",
    );
    histogram_series(
        e,
        "hls_swarm_live_latency_seconds",
        &[],
        s,
        Measure::LiveLatency,
        &LIVE_LATENCY_BUCKETS,
    );
    e.single(
        "hls_swarm_stalls_total",
        c,
        "Stalls begun.",
        t.stalls_started as f64,
    );
    e.single(
        "hls_swarm_stall_seconds_total",
        c,
        "Total length of finished stalls.",
        t.stall_seconds,
    );
    e.single(
        "hls_swarm_played_seconds_total",
        c,
        "Media time played, all viewers.",
        t.played_seconds,
    );
    e.single(
        "hls_swarm_segments_expired_total",
        c,
        "Segments that left the playlist before the viewer could load them.",
        t.segments_expired as f64,
    );
    e.single(
        "hls_swarm_segments_skipped_total",
        c,
        "Segments given up after -seg-retry retries.",
        t.segments_skipped as f64,
    );
    e.single(
        "hls_swarm_stream_resets_total",
        c,
        "Media-sequence jumps (backwards or implausibly far forward) handled as a stream reset.",
        t.stream_resets as f64,
    );
    e.single(
        "hls_swarm_playlist_timing_clamped_total",
        c,
        "Media playlist loads whose absurd timing (target or segment durations) was clamped.",
        t.timing_clamped as f64,
    );
    e.single(
        "hls_swarm_ll_fallbacks_total",
        c,
        "Native tracks set to play LL-HLS (--ll-hls) that fell back to classic HLS (the server did not block, or no parts with --ll-hls on).",
        t.ll_fallbacks as f64,
    );
    abr_families(e, &t.abr);
}

/// `-variant abr`: switches by direction, media played per rung (rung 0 = lowest
/// BANDWIDTH, at most 16 rungs), and quantiles of the per-viewer figures (viewer lives
/// that ended).
fn abr_families(e: &mut Exposition, a: &crate::stats::abr::AbrFigures) {
    let name = "hls_swarm_abr_switches_total";
    e.family(
        name,
        Kind::Counter,
        "ABR rung switches (at segment boundaries, or mid-download by the abandon rule), by direction (-variant abr).",
    );
    e.sample(name, &[("direction", "up")], a.switches_up as f64);
    e.sample(name, &[("direction", "down")], a.switches_down as f64);
    e.single(
        "hls_swarm_abr_abandons_total",
        Kind::Counter,
        "Segment downloads ABR viewers abandoned mid-body to reload the segment from a lower rung (hls.js emergency abandon rule; each is also a switch down).",
        a.abandons as f64,
    );
    let name = "hls_swarm_abr_rung_seconds_total";
    e.family(
        name,
        Kind::Counter,
        "Media seconds ABR viewers played, by rung (0 = lowest BANDWIDTH; rungs 15 and up share rung=\"15\").",
    );
    for (i, secs) in a.rung_seconds.iter().enumerate() {
        e.sample(name, &[("rung", &i.to_string())], *secs);
    }
    e.single(
        "hls_swarm_abr_viewers_total",
        Kind::Counter,
        "ABR viewer lives that ended (each reports its switches and mean played bitrate).",
        a.viewers as f64,
    );
    for (stem, what, d) in [
        (
            "hls_swarm_abr_viewer_switches",
            "switches per ended ABR viewer life, over those lives",
            &a.switches_per_viewer,
        ),
        (
            "hls_swarm_abr_viewer_mean_bitrate",
            "mean played bitrate, bit/s (BANDWIDTH of the media played, weighted by media time), per ended ABR viewer life that played, over those lives",
            &a.mean_bitrate_per_viewer,
        ),
    ] {
        for (q, v) in [("p50", d.p50), ("p90", d.p90), ("p99", d.p99)] {
            e.single(
                &format!("{stem}_{q}"),
                Kind::Gauge,
                &format!("{q} of the {what} (0 before any ended)."),
                v,
            );
        }
    }
}

/// Arrival mode's sessions (`--arrival-rate`).
fn session_families(e: &mut Exposition, n: crate::stats::sessions::SessionCounts) {
    let c = Kind::Counter;
    e.single(
        "hls_swarm_sessions_started_total",
        c,
        "--arrival-rate: sessions started (arrivals that got a viewer).",
        n.started as f64,
    );
    e.single(
        "hls_swarm_sessions_ended_total",
        c,
        "--arrival-rate: sessions that ran their drawn length and left.",
        n.ended as f64,
    );
    e.single(
        "hls_swarm_sessions_refused_total",
        c,
        "--arrival-rate: arrivals refused because -clients sessions were open.",
        n.refused as f64,
    );
    e.single(
        "hls_swarm_sessions_censored_total",
        c,
        "--arrival-rate: sessions still open when the run stopped (0 until the run's end).",
        n.censored as f64,
    );
    e.single(
        "hls_swarm_sessions_open",
        Kind::Gauge,
        "--arrival-rate: sessions open now (the concurrency).",
        n.open as f64,
    );
}

fn pipeline_families(e: &mut Exposition, s: &Snapshot) {
    let c = Kind::Counter;
    e.single(
        "hls_swarm_stats_drop_rate",
        Kind::Gauge,
        "Share of events the stats pipeline dropped, whole run (dropped / offered); above 0 the run's counts are undercounted.",
        s.drop_rate(),
    );
    e.single(
        "hls_swarm_stats_events_total",
        c,
        "Events offered to the stats pipeline.",
        s.events_offered as f64,
    );
    e.single(
        "hls_swarm_stats_events_dropped_total",
        c,
        "Events the stats pipeline dropped (a full channel).",
        s.events_dropped as f64,
    );
    if let Some(log) = s.request_log {
        e.single(
            "hls_swarm_request_log_lines_written_total",
            c,
            "--request-log: request lines written to the file (flushed; lags by up to 0.5 s).",
            log.written as f64,
        );
        e.single(
            "hls_swarm_request_log_lines_dropped_total",
            c,
            "--request-log: request lines dropped because the queue to its writer was full (the writer fell behind); the log misses them.",
            log.dropped as f64,
        );
        e.single(
            "hls_swarm_request_log_lines_failed_total",
            c,
            "--request-log: request lines lost to a write error (or unwritten when the run ended with the writer blocked).",
            log.failed as f64,
        );
    }
    if let Some(n) = s.sessions {
        session_families(e, n);
    }
    if let Some(b) = &s.link_rates {
        e.family(
            "hls_swarm_viewer_link_bits_per_second",
            Kind::Histogram,
            "--viewer-bandwidth: the last-mile link rate each viewer was given, bit/s (one sample per viewer slot started).",
        );
        e.histogram(
            "hls_swarm_viewer_link_bits_per_second",
            &[],
            &b.buckets,
            b.sum,
            b.count,
        );
    }
    if let Some(tasks) = s.runtime_tasks {
        e.single(
            "hls_swarm_runtime_tasks",
            Kind::Gauge,
            "Tokio tasks alive now in the swarm process (viewer runtimes and the main runtime); flat in a steady run, growth is a task leak.",
            tasks as f64,
        );
    }
    if let Some(bytes) = s.heap_live_bytes {
        e.single(
            "hls_swarm_heap_live_bytes",
            Kind::Gauge,
            "Heap bytes the swarm process holds now (allocated and not freed, counted by its allocator wrapper); unlike RSS it excludes memory the allocator kept after a free, so growth here is the program's.",
            bytes as f64,
        );
    }
}

/// How late the viewer runtimes woke (src/stats/lag.rs); only with the native engine.
fn wakeup_lag_families(e: &mut Exposition, lag: &crate::stats::lag::ClientLag) {
    e.single(
        "hls_swarm_wakeup_lag_seconds_total",
        Kind::Counter,
        "Sum of how late the viewer runtimes' 100 ms probes woke: the client's own queueing delay, included in every latency it measures. rate(this) / rate(hls_swarm_wakeup_probes_total) = mean lag.",
        lag.sum,
    );
    e.single(
        "hls_swarm_wakeup_probes_total",
        Kind::Counter,
        "Wake-up lag probes taken (10 per second per viewer runtime).",
        lag.probes as f64,
    );
    e.single(
        "hls_swarm_wakeup_lag_max_seconds",
        Kind::Gauge,
        "Largest wake-up lag during the last 1 s tick; above ~20 ms the client is saturated and latencies include client-side delay.",
        lag.window_max,
    );
}

/// FFmpeg engine figures (docs/ffmpeg-engine.md); only with `-engine ffmpeg`.
fn ffmpeg_families(e: &mut Exposition, f: &crate::stats::ffmpeg::FfmpegStats) {
    e.single(
        "hls_swarm_ffmpeg_cpu_seconds_total",
        Kind::Counter,
        "CPU seconds (user + system) of every FFmpeg child so far, running and exited.",
        f.cpu_seconds_total,
    );
    e.family(
        "hls_swarm_ffmpeg_memory_bytes",
        Kind::Gauge,
        "Memory of the running FFmpeg processes, summed, by kind (rss, pss).",
    );
    e.sample(
        "hls_swarm_ffmpeg_memory_bytes",
        &[("kind", "rss")],
        f.memory_rss_bytes as f64,
    );
    e.sample(
        "hls_swarm_ffmpeg_memory_bytes",
        &[("kind", "pss")],
        f.memory_pss_bytes as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_processes",
        Kind::Gauge,
        "FFmpeg processes running now.",
        f.processes as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_spawns_total",
        Kind::Counter,
        "FFmpeg processes spawned (first starts and respawns).",
        f.spawns as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_spawn_failures_total",
        Kind::Counter,
        "Spawns that failed before the process ran.",
        f.spawn_failures as f64,
    );
    e.family(
        "hls_swarm_ffmpeg_exits_total",
        Kind::Counter,
        "FFmpeg exits by class; killed_by_swarm (shutdown, stall restart) is not a failure.",
    );
    for (class, n) in [
        ("clean", f.exits.clean),
        ("error", f.exits.error),
        ("signal", f.exits.signal),
        ("killed_by_swarm", f.exits.killed_by_swarm),
    ] {
        e.sample(
            "hls_swarm_ffmpeg_exits_total",
            &[("class", class)],
            n as f64,
        );
    }
    e.single(
        "hls_swarm_ffmpeg_stall_restarts_total",
        Kind::Counter,
        "FFmpeg processes replaced because they stalled (-restart-on-stall).",
        f.stall_restarts as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_speed",
        Kind::Gauge,
        "Mean playback speed of the running FFmpeg processes (1 = real time).",
        f.speed_mean,
    );
    e.single(
        "hls_swarm_ffmpeg_below_realtime",
        Kind::Gauge,
        "Running FFmpeg processes slower than 0.9 × real time.",
        f.below_realtime as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_stderr_lines_total",
        Kind::Counter,
        "stderr lines read from FFmpeg.",
        f.stderr_lines as f64,
    );
    e.single(
        "hls_swarm_ffmpeg_stderr_dropped_total",
        Kind::Counter,
        "stderr lines dropped because a parser fell behind (also in hls_swarm_stats_drop_rate).",
        f.stderr_dropped as f64,
    );
}

fn client_families(e: &mut Exposition, s: &Snapshot) {
    if s.viewers.is_empty() {
        return;
    }
    let ids: Vec<String> = s.viewers.iter().map(|v| v.id.to_string()).collect();
    let mut fam = |name: &str, kind: Kind, help: &str, v: &dyn Fn(usize) -> f64| {
        e.family(name, kind, help);
        for (i, id) in ids.iter().enumerate() {
            e.sample(name, &[("client_id", id)], v(i));
        }
    };
    let vs = &s.viewers;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    fam(
        "hls_swarm_client_active",
        Kind::Gauge,
        "1 while this viewer runs (-prom-client-metrics).",
        &|i| flag(vs[i].active),
    );
    fam(
        "hls_swarm_client_stalled",
        Kind::Gauge,
        "1 while this viewer is stalled (-prom-client-metrics).",
        &|i| flag(vs[i].stalled),
    );
    fam(
        "hls_swarm_client_requests_total",
        Kind::Counter,
        "Requests this viewer finished (-prom-client-metrics).",
        &|i| vs[i].requests as f64,
    );
    fam(
        "hls_swarm_client_errors_total",
        Kind::Counter,
        "Requests of this viewer that failed (-prom-client-metrics).",
        &|i| vs[i].errors as f64,
    );
    fam(
        "hls_swarm_client_bytes_total",
        Kind::Counter,
        "Body bytes this viewer received (-prom-client-metrics).",
        &|i| vs[i].bytes as f64,
    );
    fam(
        "hls_swarm_client_stalls_total",
        Kind::Counter,
        "Stalls this viewer began (-prom-client-metrics).",
        &|i| vs[i].stalls as f64,
    );
    // Only viewers with a sample: a missing series says "not measured yet", 0 would lie.
    e.family(
        "hls_swarm_client_live_latency_seconds",
        Kind::Gauge,
        "This viewer's last live-latency sample (-prom-client-metrics).",
    );
    for (id, v) in ids.iter().zip(vs.iter()) {
        if let Some(l) = v.live_latency {
            e.sample(
                "hls_swarm_client_live_latency_seconds",
                &[("client_id", id)],
                l.as_secs_f64(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::metrics::text::{Sample, parse};
    use crate::stats::collector::Collector;
    use crate::stats::event::{Event, LifecycleEvent, PlaybackEvent, RequestDone};
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;
    use crate::stats::viewers::ViewerTable;

    fn req(kind: RequestKind, ms: u64, status: u16, bytes: u64) -> Event {
        Event::Request(RequestDone {
            kind,
            status: Some(status),
            ttfb: Some(Duration::from_millis(ms)),
            total: Duration::from_millis(ms * 2),
            bytes,
            streamed: 0,
            error: ErrorClass::from_status(status),
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

    async fn snapshot(events: &[Event], table: Option<Arc<ViewerTable>>) -> Snapshot {
        let mut hub = StatsHub::start(1, 10_000);
        let mut col = Collector::new(4, Some(Duration::from_secs(60)));
        let sink = match &table {
            Some(t) => hub.sink(0).for_viewer(t.cell(7)),
            None => hub.sink(0),
        };
        if let Some(t) = table {
            col.set_viewers(t);
        }
        for ev in events {
            sink.send(ev.clone());
        }
        drop(sink);
        hub.close(Duration::from_secs(1)).await;
        col.tick(&hub, &LiveGauges::default(), Duration::from_secs(10), false)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    fn info() -> Info {
        Info {
            version: "0.1.0".into(),
            engine: "native".into(),
            stream: "http://h/x.m3u8".into(),
            run_id: "r1".into(),
            shard: 1,
            shards: 3,
            stream_groups: Vec::new(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn request_log_lines_are_exported_only_with_the_log() {
        let mut s = snapshot(&[], None).await;
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !m.iter()
                .any(|x| x.name.starts_with("hls_swarm_request_log_")),
            "no request log, no series"
        );
        s.request_log = Some(crate::stats::request_log::RequestLogCounts {
            written: 120,
            dropped: 7,
            failed: 2,
        });
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        let v = |n: &str| value(&m, n, &[]);
        assert_eq!(v("hls_swarm_request_log_lines_written_total"), 120.0);
        assert_eq!(v("hls_swarm_request_log_lines_dropped_total"), 7.0);
        assert_eq!(v("hls_swarm_request_log_lines_failed_total"), 2.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn session_counts_are_exported_only_in_arrival_mode() {
        let mut s = snapshot(&[], None).await;
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert!(!m.iter().any(|x| x.name.starts_with("hls_swarm_sessions_")));
        s.sessions = Some(crate::stats::sessions::SessionCounts {
            started: 40,
            ended: 31,
            censored: 0,
            refused: 3,
            open: 9,
            peak_open: 12,
        });
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        let v = |n: &str| value(&m, n, &[]);
        assert_eq!(v("hls_swarm_sessions_started_total"), 40.0);
        assert_eq!(v("hls_swarm_sessions_ended_total"), 31.0);
        assert_eq!(v("hls_swarm_sessions_refused_total"), 3.0);
        assert_eq!(v("hls_swarm_sessions_censored_total"), 0.0);
        assert_eq!(v("hls_swarm_sessions_open"), 9.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn link_rates_are_a_histogram_of_the_rates_given() {
        use crate::config::bandwidth::BandwidthModel;
        use crate::stats::link_rates::LinkRates;
        let mut s = snapshot(&[], None).await;
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !m.iter()
                .any(|x| x.name.starts_with("hls_swarm_viewer_link_")),
            "no --viewer-bandwidth, no series"
        );
        let links = LinkRates::new(BandwidthModel::Uniform {
            min: 1_000_000,
            max: 10_000_000,
        });
        for rate in [1_500_000, 3_000_000, 3_000_000, 9_000_000] {
            links.record(rate);
        }
        s.link_rates = Some(links.buckets());
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        let le = |le: &str| {
            value(
                &m,
                "hls_swarm_viewer_link_bits_per_second_bucket",
                &[("le", le)],
            )
        };
        assert_eq!(le("1000000"), 0.0);
        assert_eq!(le("2000000"), 1.0);
        assert_eq!(le("3000000"), 3.0);
        assert_eq!(le("8000000"), 3.0);
        assert_eq!(le("12000000"), 4.0);
        assert_eq!(le("+Inf"), 4.0);
        let v = |n: &str| value(&m, n, &[]);
        assert_eq!(v("hls_swarm_viewer_link_bits_per_second_count"), 4.0);
        assert_eq!(v("hls_swarm_viewer_link_bits_per_second_sum"), 16_500_000.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hostile_playlist_counters_and_classes_are_the_snapshot_totals() {
        let mut empty = req(RequestKind::Segment, 4, 200, 0);
        if let Event::Request(r) = &mut empty {
            r.error = Some(ErrorClass::EmptyBody);
        }
        let events = vec![
            Event::Playback(PlaybackEvent::StreamReset),
            Event::Playback(PlaybackEvent::StreamReset),
            Event::Playback(PlaybackEvent::TimingClamped),
            Event::Playback(PlaybackEvent::SegmentsExpired { count: u64::MAX }),
            Event::Playback(PlaybackEvent::SegmentsExpired { count: 5 }),
            empty,
        ];
        let s = snapshot(&events, None).await;
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        let v = |n: &str| value(&m, n, &[]);
        assert_eq!(v("hls_swarm_stream_resets_total"), 2.0);
        assert_eq!(v("hls_swarm_playlist_timing_clamped_total"), 1.0);
        // Saturates instead of wrapping (or panicking in debug).
        assert_eq!(v("hls_swarm_segments_expired_total"), u64::MAX as f64);
        for (class, n) in [
            ("empty_body", 1.0),
            ("playlist_invalid", 0.0),
            ("playlist_too_large", 0.0),
        ] {
            assert_eq!(
                value(&m, "hls_swarm_errors_total", &[("error_class", class)]),
                n,
                "{class}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn counters_and_histograms_are_the_snapshot_totals() {
        let events = vec![
            Event::Lifecycle(LifecycleEvent::Started),
            req(RequestKind::Master, 2, 200, 300),
            req(RequestKind::Playlist, 3, 200, 400),
            req(RequestKind::Segment, 4, 200, 10_000),
            req(RequestKind::Segment, 40, 200, 10_000),
            req(RequestKind::Segment, 400, 503, 15),
            req(RequestKind::Segment, 4, 404, 9),
            Event::Playback(PlaybackEvent::Started {
                startup: Duration::from_millis(700),
            }),
            Event::Playback(PlaybackEvent::StallStarted),
            Event::Playback(PlaybackEvent::StallEnded {
                stalled: Duration::from_millis(1500),
            }),
            Event::Playback(PlaybackEvent::LiveLatency {
                latency: Duration::from_secs(7),
            }),
        ];
        let s = snapshot(&events, None).await;
        let text = render(&s, &info());
        let m = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let v = |n: &str| value(&m, n, &[]);
        assert_eq!(v("hls_swarm_manifest_requests_total"), 2.0);
        assert_eq!(v("hls_swarm_segment_requests_total"), 4.0);
        assert_eq!(v("hls_swarm_bytes_downloaded_total"), 20_724.0);
        assert_eq!(v("hls_swarm_segment_bytes_downloaded_total"), 20_024.0);
        assert_eq!(v("hls_swarm_client_starts_total"), 1.0);
        assert_eq!(v("hls_swarm_stalls_total"), 1.0);
        assert_eq!(v("hls_swarm_stall_seconds_total"), 1.5);
        assert_eq!(v("hls_swarm_target_clients"), 4.0);
        assert_eq!(v("hls_swarm_test_remaining_seconds"), 50.0);
        assert_eq!(
            value(&m, "hls_swarm_http_errors_total", &[("status_code", "503")]),
            1.0
        );
        assert_eq!(
            value(&m, "hls_swarm_errors_total", &[("error_class", "http_4xx")]),
            1.0
        );
        assert_eq!(
            value(&m, "hls_swarm_errors_total", &[("error_class", "timeout")]),
            0.0
        );
        assert_eq!(
            value(&m, "hls_swarm_request_errors_total", &[("kind", "segment")]),
            2.0
        );
        assert!((v("hls_swarm_error_rate") - 2.0 / 6.0).abs() < 1e-12);
        // TTFB of all four segments (errors included); durations of the two successes.
        let seg = [("kind", "segment")];
        let le = |name: &str, le: &str| value(&m, name, &[("kind", "segment"), ("le", le)]);
        assert_eq!(le("hls_swarm_request_ttfb_seconds_bucket", "0.005"), 2.0);
        assert_eq!(le("hls_swarm_request_ttfb_seconds_bucket", "0.05"), 3.0);
        assert_eq!(le("hls_swarm_request_ttfb_seconds_bucket", "0.5"), 4.0);
        assert_eq!(le("hls_swarm_request_ttfb_seconds_bucket", "+Inf"), 4.0);
        assert_eq!(value(&m, "hls_swarm_request_ttfb_seconds_count", &seg), 4.0);
        let sum = value(&m, "hls_swarm_request_ttfb_seconds_sum", &seg);
        assert!((sum - 0.448).abs() < 0.001, "{sum}");
        assert_eq!(le("hls_swarm_request_duration_seconds_bucket", "0.01"), 1.0);
        assert_eq!(le("hls_swarm_request_duration_seconds_bucket", "0.1"), 2.0);
        assert_eq!(
            value(&m, "hls_swarm_request_duration_seconds_count", &seg),
            2.0
        );
        assert_eq!(
            value(
                &m,
                "hls_swarm_inferred_latency_seconds_bucket",
                &[("le", "0.075")]
            ),
            1.0
        );
        assert_eq!(
            value(&m, "hls_swarm_startup_seconds_bucket", &[("le", "0.5")]),
            0.0
        );
        assert_eq!(
            value(&m, "hls_swarm_startup_seconds_bucket", &[("le", "1")]),
            1.0
        );
        assert_eq!(
            value(
                &m,
                "hls_swarm_stall_duration_seconds_bucket",
                &[("le", "2")]
            ),
            1.0
        );
        assert_eq!(
            value(&m, "hls_swarm_live_latency_seconds_bucket", &[("le", "6")]),
            0.0
        );
        assert_eq!(
            value(&m, "hls_swarm_live_latency_seconds_bucket", &[("le", "8")]),
            1.0
        );
        // The p95 of the last 30 s is the snapshot's, not recomputed.
        assert_eq!(
            v("hls_swarm_inferred_latency_p95_seconds"),
            s.recent_segment_download.p95
        );
        assert!(!text.contains("hls_swarm_client_active"), "opt-in only");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn per_viewer_series_come_from_the_table() {
        let table = Arc::new(ViewerTable::new(6, 3));
        let events = vec![
            Event::Lifecycle(LifecycleEvent::Started),
            req(RequestKind::Segment, 4, 200, 1000),
            req(RequestKind::Segment, 4, 503, 10),
            // Active means playing (stats::viewer_state): first media makes it so.
            Event::Playback(PlaybackEvent::Started {
                startup: Duration::from_millis(400),
            }),
        ];
        let s = snapshot(&events, Some(table)).await;
        let m = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        let c = |n: &str, id: &str| value(&m, n, &[("client_id", id)]);
        assert_eq!(c("hls_swarm_client_bytes_total", "7"), 1010.0);
        assert_eq!(c("hls_swarm_client_requests_total", "7"), 2.0);
        assert_eq!(c("hls_swarm_client_errors_total", "7"), 1.0);
        assert_eq!(c("hls_swarm_client_active", "7"), 1.0);
        assert_eq!(c("hls_swarm_client_active", "6"), 0.0);
        assert_eq!(c("hls_swarm_client_bytes_total", "8"), 0.0);
        assert!(
            !m.iter()
                .any(|s| s.name == "hls_swarm_client_live_latency_seconds"),
            "no sample yet, no series"
        );
    }

    #[test]
    fn info_labels_carry_no_credentials_or_query() {
        let cli = crate::config::cli::parse_from([
            "hls-swarm",
            "https://user:pw@cdn.example/live/x.m3u8?token=s3cr3t#t",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let cfg = Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}"));
        let i = Info::new(&cfg);
        assert_eq!(i.stream, "https://cdn.example/live/x.m3u8");
        let text = render_starting(&i);
        assert!(!text.contains("s3cr3t") && !text.contains("pw"));
        assert!(text.contains("engine=\"native\""));
    }

    #[test]
    fn run_info_names_the_test_and_the_shard() {
        let cli = crate::config::cli::parse_from([
            "hls-swarm",
            "-clients",
            "9",
            "--shard",
            "2/3",
            "--run-id",
            "rehearsal-1",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let cfg = Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}"));
        let samples = crate::metrics::text::parse(&render_starting(&Info::new(&cfg)))
            .unwrap_or_else(|e| panic!("{e}"));
        let run = samples
            .iter()
            .find(|s| s.name == "hls_swarm_run_info")
            .unwrap_or_else(|| panic!("no hls_swarm_run_info"));
        assert_eq!(run.value, 1.0);
        assert_eq!(run.label("run_id"), Some("rehearsal-1"));
        assert_eq!(run.label("shard"), Some("2"));
        assert_eq!(run.label("shards"), Some("3"));
    }

    #[test]
    fn buckets_are_cumulative_and_exact_at_microsecond_bounds() {
        let mut h = crate::stats::accumulator::duration_histogram();
        // 2500 and 2501 µs share an HDR bucket; 2503 µs is in the next one.
        for us in [999u64, 1000, 1001, 2500, 2501, 2503, 40_000_000] {
            h.record(us).unwrap_or_else(|e| panic!("{e}"));
        }
        let b = crate::stats::distribution::buckets(&h, &REQUEST_BUCKETS);
        assert_eq!(b[0], (0.001, 2));
        assert_eq!(b[1], (0.0025, 5));
        assert_eq!(b[2], (0.005, 6));
        assert_eq!(b[REQUEST_BUCKETS.len() - 1], (30.0, 6), "40 s only in +Inf");
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ffmpeg_figures_are_exported_with_true_values() {
        let mut s = snapshot(&[], None).await;
        assert!(
            !render(&s, &info()).contains("hls_swarm_ffmpeg_"),
            "native runs have none"
        );
        s.ffmpeg = Some(crate::stats::ffmpeg::FfmpegStats {
            cpu_seconds_total: 12.5,
            memory_rss_bytes: 4096,
            memory_pss_bytes: 2048,
            processes: 3,
            exits: crate::stats::ffmpeg::ExitCounts {
                clean: 1,
                error: 2,
                signal: 0,
                killed_by_swarm: 3,
            },
            ..Default::default()
        });
        let samples = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value(&samples, "hls_swarm_ffmpeg_cpu_seconds_total", &[]),
            12.5
        );
        assert_eq!(
            value(
                &samples,
                "hls_swarm_ffmpeg_memory_bytes",
                &[("kind", "pss")]
            ),
            2048.0
        );
        assert_eq!(value(&samples, "hls_swarm_ffmpeg_processes", &[]), 3.0);
        assert_eq!(
            value(
                &samples,
                "hls_swarm_ffmpeg_exits_total",
                &[("class", "error")]
            ),
            2.0
        );
        assert_eq!(
            value(
                &samples,
                "hls_swarm_ffmpeg_exits_total",
                &[("class", "killed_by_swarm")]
            ),
            3.0
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runtime_tasks_gauge_is_the_snapshot_count() {
        let mut s = snapshot(&[], None).await;
        assert!(!render(&s, &info()).contains("hls_swarm_runtime_tasks"));
        s.runtime_tasks = Some(4321);
        let samples = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value(&samples, "hls_swarm_runtime_tasks", &[]), 4321.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn heap_gauge_is_the_snapshot_figure() {
        let mut s = snapshot(&[], None).await;
        s.heap_live_bytes = None;
        assert!(!render(&s, &info()).contains("hls_swarm_heap_live_bytes"));
        s.heap_live_bytes = Some(123_456_789);
        let samples = parse(&render(&s, &info())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value(&samples, "hls_swarm_heap_live_bytes", &[]),
            123_456_789.0
        );
    }
}

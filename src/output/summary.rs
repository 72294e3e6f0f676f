//! The end-of-run summary on stdout. It answers the operations guide's questions: was the
//! target reached, what throughput was sustained, were there stalls or errors, what were
//! the latency percentiles, how fast did viewers start, how far behind live were they.

use std::fmt::Write;

use crate::slo::SloResult;
use crate::stats::report::RunReport;
use crate::stats::sections::Sections;
use crate::stats::snapshot::Percentiles;
use crate::stats::streams::{StreamSection, top_and_rest};
use crate::units::{bytes, clock, pct, secs};

const RULE: &str =
    "═══════════════════════════════════════════════════════════════════════════════";
const THIN: &str =
    "───────────────────────────────────────────────────────────────────────────────";

fn dist_row(out: &mut String, label: &str, p: &Percentiles) {
    let _ = writeln!(
        out,
        "  {label:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        secs(p.p50),
        secs(p.p90),
        secs(p.p95),
        secs(p.p99),
        secs(p.max)
    );
}

/// The FFmpeg engine's block: processes, resources, approximations, crash loop.
fn ffmpeg_section(o: &mut String, f: &crate::stats::ffmpeg::FfmpegStats) {
    let _ = writeln!(o, "{THIN}\n  FFmpeg engine ({} {})", f.binary, f.version);
    let _ = writeln!(
        o,
        "  FFmpeg viewers are classic-HLS viewers: FFmpeg ignores LL-HLS tags (parts, blocking reloads, preload hints)"
    );
    let e = &f.exits;
    let _ = writeln!(
        o,
        "  Processes:         {} spawned ({} failed to start); exits: clean {}, error {}, signal {}, stopped by swarm {}; stall restarts {}",
        f.spawns, f.spawn_failures, e.clean, e.error, e.signal, e.killed_by_swarm, f.stall_restarts
    );
    let share = f
        .swarm_cpu_share()
        .map(|r| format!(" ({} of the children's)", pct(r)))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  CPU:               FFmpeg {:.1} s; swarm itself {:.1} s{share}",
        f.cpu_seconds_total, f.swarm_cpu_seconds
    );
    let per = |b: u64| {
        f.per_process_at_peak(b)
            .map(|v| format!(" ({} per process)", bytes(v)))
            .unwrap_or_default()
    };
    let _ = writeln!(
        o,
        "  Memory (peak):     PSS {}{}, RSS {}",
        bytes(f.memory_pss_peak_bytes as f64),
        per(f.memory_pss_peak_bytes),
        bytes(f.memory_rss_peak_bytes as f64)
    );
    let _ = writeln!(
        o,
        "  Stall threshold:   {}; stderr lines {} ({} dropped)",
        secs(f.stall_threshold.as_secs_f64()),
        f.stderr_lines,
        f.stderr_dropped
    );
    if f.requests_approximate {
        let _ = writeln!(
            o,
            "  APPROXIMATE:       https:// is tunnelled through the proxy: request counts and errors"
        );
        let _ = writeln!(
            o,
            "                     come from FFmpeg's log; no timings, no body bytes ({} through tunnels)",
            bytes(f.tunnel_bytes as f64)
        );
    }
    if let Some(m) = &f.crash_loop.message {
        let _ = writeln!(o, "  CRASH LOOP:        {m}");
    }
    if let Some(l) = &f.last_error {
        let _ = writeln!(o, "  Last FFmpeg error: {l}");
    }
}

/// Streams the summary lists by name; the others are added up on one line.
pub const SUMMARY_TOP_STREAMS: usize = 10;

/// A many-stream run's block: the streams with the most viewers, then the rest.
fn streams_section(o: &mut String, all: &[StreamSection]) {
    let (top, rest) = top_and_rest(all, SUMMARY_TOP_STREAMS);
    let _ = writeln!(
        o,
        "{THIN}\n  Streams: {} (top {} by viewers)",
        all.len(),
        top.len()
    );
    let _ = writeln!(
        o,
        "  {:>7} {:>6} {:>9} {:>7} {:>10} {:>9}  URL",
        "Viewers", "Share", "Requests", "Errors", "Bytes", "seg p95"
    );
    for s in &top {
        let p95 = s.segment_ttfb_p95().map_or_else(|| "-".to_string(), secs);
        let _ = writeln!(
            o,
            "  {:>7} {:>6} {:>9} {:>7} {:>10} {:>9}  {}",
            s.viewers,
            pct(s.share),
            s.total_requests(),
            s.total_errors(),
            bytes(s.total_bytes as f64),
            p95,
            s.url
        );
    }
    if let Some(r) = rest {
        let _ = writeln!(
            o,
            "  {:>7} {:>6} {:>9} {:>7} {:>10} {:>9}  the rest ({} streams)",
            r.viewers,
            "",
            r.requests,
            r.errors,
            bytes(r.bytes as f64),
            "",
            r.streams
        );
    }
}

/// How a merged report's peaks (active, stalled) were made, for people.
pub const MERGED_PEAKS: &str = "(merged: peaks are the shards' peaks summed, an upper bound when they peaked at different ticks)";

/// The viewers' last-mile links: the model, then the rates they got.
pub fn links_line(b: &crate::stats::link_rates::RatesSummary) -> String {
    let mbit = |bps: f64| format!("{:.2} Mbit/s", bps / 1e6);
    format!(
        "{} -> {} viewers: p10 {}, median {}, p90 {} (min {}, max {}, sigma of ln {:.2})",
        b.model,
        b.viewers,
        mbit(b.p10_bits_per_second as f64),
        mbit(b.p50_bits_per_second as f64),
        mbit(b.p90_bits_per_second as f64),
        mbit(b.min_bits_per_second as f64),
        mbit(b.max_bits_per_second as f64),
        b.sigma_ln
    )
}

/// Arrival mode's block, for people: the counts and arrival rate, then the session
/// lengths realised against the asked ones.
pub fn sessions_lines(x: &crate::stats::sessions::SessionsSummary) -> [String; 2] {
    let c = &x.counts;
    let first = format!(
        "Sessions:          started {}   ended {}   censored {}   refused {} (cap {})   peak open {}   arrivals {:.2}/s (asked {:.2}/s)",
        c.started,
        c.ended,
        c.censored,
        c.refused,
        x.cap,
        c.peak_open,
        x.arrival_rate,
        x.asked_arrival_rate
    );
    let f = |l: &crate::stats::sessions::LengthFigures| {
        format!(
            "mean {:.1}s p50 {:.1}s p90 {:.1}s",
            l.mean_seconds, l.p50_seconds, l.p90_seconds
        )
    };
    let second = match &x.asked {
        Some(a) => format!(
            "Session length:    ended {} (n={}) vs asked {} mean {:.1}s p50 {:.1}s p90 {:.1}s",
            f(&x.realised),
            x.realised.count,
            a.model,
            a.mean_seconds,
            a.p50_seconds,
            a.p90_seconds
        ),
        None => "Session length:    until the run ends (no --session-duration)".to_string(),
    };
    [first, second]
}

/// The test, the shard and the start instant, for people: `r1 · shard 0/3 (0-based) ·
/// --start-at 2026-12-06T20:00:00.000Z (0.012 s late, caught up)`; a merged report
/// names its shards instead (`r1 · merged: all 3 shards (0, 1, 2) · --start-at …`).
pub fn run_line(r: &RunReport) -> String {
    let mut line = r.run.id.clone();
    match &r.merged {
        Some(m) => line += &format!(" · merged: {}", m.describe()),
        None if !r.run.shard.is_whole() => {
            line += &format!(" · shard {} (0-based)", r.run.shard);
        }
        None => {}
    }
    if let Some(at) = r.run.start_at {
        line += &format!(" · --start-at {}", humantime::format_rfc3339_millis(at));
        match r.start_late {
            // Merged: each shard's lateness is in its own report.
            _ if r.merged.is_some() => {}
            Some(late) if !late.is_zero() => {
                line += &format!(" ({:.3} s late, caught up)", late.as_secs_f64());
            }
            _ => line += " (on time)",
        }
    }
    line
}

/// Render the summary.
pub fn render(r: &RunReport, slo: &SloResult) -> String {
    let s = &r.snapshot;
    let x = Sections::of(r);
    let mut o = String::new();
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        "  hls-swarm {} run summary ({} engine)",
        env!("CARGO_PKG_VERSION"),
        r.engine
    );
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(o, "  Run:               {}", run_line(r));
    if x.streams.len() > 1 {
        let _ = writeln!(
            o,
            "  Streams:           {} (first {}; per stream below)",
            x.streams.len(),
            r.stream_url
        );
    } else {
        let _ = writeln!(o, "  Stream:            {}", r.stream_url);
    }
    let _ = writeln!(o, "  Run time:          {}", clock(x.run_seconds));
    let _ = writeln!(o, "  Ended by:          {}", r.ended_by());

    let v = &x.viewers;
    let _ = writeln!(o, "{THIN}\n  Viewers");
    let reached = if v.target_reached { "yes" } else { "NO" };
    let _ = writeln!(
        o,
        "  Target reached:    {reached} (peak {} of {} playing at once)",
        v.peak_active, v.target
    );
    if r.merged.is_some() {
        let _ = writeln!(o, "  {MERGED_PEAKS}");
    }
    let _ = writeln!(
        o,
        "  At end:            {} playing, {} stalled, {} starting, {} failed",
        v.active_at_end, x.playback.stalled_at_end, v.starting_at_end, v.failed_at_end
    );
    if v.startup_timeouts > 0 {
        let _ = writeln!(
            o,
            "  NEVER STARTED:     {} viewer runs had no media {} after tuning in (counted as stalled)",
            v.startup_timeouts,
            secs(r.startup_timeout.as_secs_f64())
        );
    }
    let _ = writeln!(
        o,
        "  Started:           {}   restarts {}   failures {}   reconnects {}",
        v.started, v.restarts, v.failures, v.reconnects
    );
    if let Some(b) = &r.bandwidth_summary() {
        let _ = writeln!(o, "  Links:             {}", links_line(b));
    }
    if let Some(x) = &r.sessions_summary() {
        for line in sessions_lines(x) {
            let _ = writeln!(o, "  {line}");
        }
    }

    if x.streams.len() > 1 {
        streams_section(&mut o, &x.streams);
    }

    let approx = if x.requests_approximate {
        " (APPROXIMATE: from FFmpeg's log, https://)"
    } else {
        ""
    };
    let _ = writeln!(o, "{THIN}\n  Throughput{approx}");
    let _ = writeln!(
        o,
        "  Total:             {} in {} requests ({} mean, {} last 30 s)",
        bytes(x.total_bytes as f64),
        x.total_requests,
        bytes(x.throughput.mean) + "/s",
        bytes(x.throughput.last_30s) + "/s",
    );
    let _ = writeln!(
        o,
        "  {:<10} {:>10} {:>8} {:>8} {:>12}",
        "Kind", "Requests", "Errors", "Retries", "Bytes"
    );
    for (k, q) in x.requested() {
        let _ = writeln!(
            o,
            "  {:<10} {:>10} {:>8} {:>8} {:>12}",
            k.as_str(),
            q.count,
            q.errors,
            q.retries,
            bytes(q.bytes as f64)
        );
    }
    let p = &x.protocols;
    if p.requests.http1 + p.requests.http2 > 0 {
        let _ = writeln!(
            o,
            "  Protocols:         HTTP/1.1 {} requests on {} connections, HTTP/2 {} requests on {} connections",
            p.requests.http1, p.connections.http1, p.requests.http2, p.connections.http2
        );
    }
    if x.total_aborted > 0 {
        let _ = writeln!(
            o,
            "  Aborted:    {} still in flight at the stop, cut off (counted above with their bytes; not errors)",
            x.total_aborted
        );
    }

    let _ = writeln!(
        o,
        "{THIN}\n  Latency{:<15} {:>9} {:>9} {:>9} {:>9} {:>9}",
        if approx.is_empty() {
            ""
        } else {
            " (not measured)"
        },
        "p50",
        "p90",
        "p95",
        "p99",
        "max"
    );
    for (k, q) in x.requested() {
        dist_row(&mut o, &format!("{} TTFB", k.as_str()), &q.ttfb_seconds);
        dist_row(
            &mut o,
            &format!("{} download", k.as_str()),
            &q.download_seconds,
        );
        if q.hold_seconds.count > 0 {
            // LL-HLS: the intended wait for a part, and the wait past its due time.
            dist_row(&mut o, &format!("{} hold", k.as_str()), &q.hold_seconds);
            dist_row(
                &mut o,
                &format!("{} lateness", k.as_str()),
                &q.lateness_seconds,
            );
        }
    }
    if let Some(client) = &x.client {
        // The client's own queueing delay, included in every figure above.
        dist_row(&mut o, "client wake-up lag", &client.wakeup_lag_seconds);
        if client.saturated {
            let _ = writeln!(
                o,
                "  WARNING: the client was saturated (wake-up lag p99 {} > {}): the latencies above include client-side delay; give the swarm more cores or spread it over hosts",
                secs(client.wakeup_lag_seconds.p99),
                secs(crate::stats::lag::SATURATED_P99.as_secs_f64())
            );
        }
    }

    let p = &x.playback;
    let _ = writeln!(o, "{THIN}\n  Playback");
    dist_row(&mut o, "startup", &p.startup_seconds);
    dist_row(&mut o, "live latency", &p.live_latency_seconds);
    let _ = writeln!(
        o,
        "  Stalls:            {} ({} total, rebuffer ratio {}), stalled at end {}, peak stalled {}",
        p.stalls,
        secs(p.stall_seconds),
        pct(p.rebuffer_ratio),
        p.stalled_at_end,
        p.peak_stalled
    );
    if let Some(a) = &p.abr {
        let _ = writeln!(o, "{}", abr_line(a));
    }
    if p.segments_expired.saturating_add(p.segments_skipped) > 0 {
        let _ = writeln!(
            o,
            "  Segments lost:     {} expired before loading, {} skipped after retries",
            p.segments_expired, p.segments_skipped
        );
    }
    if p.ll_fallbacks > 0 {
        let _ = writeln!(
            o,
            "  LL-HLS fallback:   {} tracks played classic HLS instead (the server did not block, or no parts)",
            p.ll_fallbacks
        );
    }
    if p.stream_resets + p.timing_clamped > 0 {
        let _ = writeln!(
            o,
            "  Hostile playlists: {} stream resets (media sequence jumped), {} loads with absurd timing clamped",
            p.stream_resets, p.timing_clamped
        );
    }

    let e = &x.errors;
    let _ = writeln!(o, "{THIN}\n  Errors");
    if e.total == 0 {
        let _ = writeln!(o, "  none");
    } else {
        let _ = writeln!(
            o,
            "  Total:             {} ({} of requests)",
            e.total,
            pct(e.rate)
        );
        for (class, n) in &e.by_class {
            let _ = writeln!(o, "  {class:<18} {n}");
        }
        for (status, n) in &e.by_status {
            let _ = writeln!(o, "  HTTP {status:<13} {n}");
        }
    }
    let pipe = &x.pipeline;
    if pipe.dropped > 0 {
        let _ = writeln!(
            o,
            "  WARNING: the stats pipeline dropped {} of {} events ({}); figures are undercounted",
            pipe.dropped,
            pipe.events,
            pct(pipe.drop_rate)
        );
    }
    if let Some(log) = s.request_log
        && log.lost() > 0
    {
        let _ = writeln!(
            o,
            "  WARNING: --request-log is missing {} request lines ({} dropped: its writer fell behind; {} failed: write errors or a blocked writer); {} written",
            log.lost(),
            log.dropped,
            log.failed,
            log.written
        );
    }

    if let Some(origin) = &s.origin {
        let _ = write!(
            o,
            "{THIN}\n{}",
            crate::output::origin::summary_section(origin)
        );
    }
    if let Some(f) = &s.ffmpeg {
        ffmpeg_section(&mut o, f);
    }

    if !slo.checks.is_empty() {
        let _ = writeln!(
            o,
            "{THIN}\n  SLO: {}",
            if slo.passed { "PASSED" } else { "FAILED" }
        );
        for c in &slo.checks {
            let mark = if c.passed { "✓" } else { "✗" };
            let _ = writeln!(o, "  {mark} {:<22} {} — {}", c.name, c.objective, c.actual);
        }
        if let Some(why) = &slo.aborted {
            let _ = writeln!(o, "  ✗ run stopped early by --slo-abort: {why}");
        }
    }
    let _ = writeln!(o, "{RULE}");
    // Strings from the origin or FFmpeg's log are in there: no terminal escapes.
    crate::console::printable(&o).into_owned()
}

/// The summary's ABR line: the mean played bitrate per viewer, switches and where the
/// played time went (seconds per rung, 0 = lowest).
fn abr_line(a: &crate::stats::abr::AbrFigures) -> String {
    let m = &a.mean_bitrate_per_viewer;
    let mbps = |b: f64| format!("{:.2} Mbit/s", b / 1e6);
    let total: f64 = a.rung_seconds.iter().sum();
    let shares: Vec<String> = a
        .rung_seconds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let share = if total > 0.0 { s / total * 100.0 } else { 0.0 };
            format!("r{i} {share:.0}%")
        })
        .collect();
    format!(
        "  Bitrate (ABR):     mean per viewer p50 {} (min {}, max {}), \
         {} switches up, {} down ({} abandoned mid-segment; p90 {} per viewer); played {}",
        mbps(m.p50),
        mbps(m.min),
        mbps(m.max),
        a.switches_up,
        a.switches_down,
        a.abandons,
        a.switches_per_viewer.p90,
        if shares.is_empty() {
            "nothing".to_string()
        } else {
            shares.join(", ")
        }
    )
}

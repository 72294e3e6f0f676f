//! The end-of-run summary on stdout. It answers the operations guide's questions: was the
//! target reached, what throughput was sustained, were there stalls or errors, what were
//! the latency percentiles, how fast did viewers start, how far behind live were they.

use std::fmt::Write;

use crate::slo::SloResult;
use crate::stats::event::RequestKind;
use crate::stats::snapshot::{Percentiles, Snapshot};
use crate::swarm::RunReport;
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
    let e = &f.exits;
    let _ = writeln!(
        o,
        "  Processes:         {} spawned ({} failed to start); exits: clean {}, error {}, signal {}, stopped by swarm {}; stall restarts {}",
        f.spawns, f.spawn_failures, e.clean, e.error, e.signal, e.killed_by_swarm, f.stall_restarts
    );
    let share = if f.cpu_seconds_total > 0.0 {
        format!(
            " ({} of the children's)",
            pct(f.swarm_cpu_seconds / f.cpu_seconds_total)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "  CPU:               FFmpeg {:.1} s; swarm itself {:.1} s{share}",
        f.cpu_seconds_total, f.swarm_cpu_seconds
    );
    let per = |b: u64| {
        if f.processes_at_pss_peak > 0 {
            format!(
                " ({} per process)",
                bytes(b as f64 / f.processes_at_pss_peak as f64)
            )
        } else {
            String::new()
        }
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

/// Render the summary.
pub fn render(r: &RunReport, slo: &SloResult) -> String {
    let s: &Snapshot = &r.snapshot;
    let t = &s.totals;
    let mut o = String::new();
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        "  hls-swarm {} run summary ({} engine)",
        env!("CARGO_PKG_VERSION"),
        r.engine
    );
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(o, "  Stream:            {}", r.stream_url);
    let _ = writeln!(o, "  Run time:          {}", clock(s.elapsed.as_secs_f64()));
    let _ = match &r.stop_detail {
        Some(d) => writeln!(o, "  Ended by:          {} ({d})", r.stop_reason.describe()),
        None => writeln!(o, "  Ended by:          {}", r.stop_reason.describe()),
    };

    let _ = writeln!(o, "{THIN}\n  Viewers");
    let reached = if s.peak_active >= s.target {
        "yes"
    } else {
        "NO"
    };
    let _ = writeln!(
        o,
        "  Target reached:    {reached} (peak {} of {} playing at once)",
        s.peak_active, s.target
    );
    let _ = writeln!(
        o,
        "  At end:            {} playing, {} stalled, {} starting, {} failed",
        r.active_at_end, r.stalled_at_end, s.starting, s.failed
    );
    if s.startup_timeouts() > 0 {
        let _ = writeln!(
            o,
            "  NEVER STARTED:     {} viewer runs had no media {} after tuning in (counted as stalled)",
            s.startup_timeouts(),
            secs(r.startup_timeout.as_secs_f64())
        );
    }
    let _ = writeln!(
        o,
        "  Started:           {}   restarts {}   failures {}   reconnects {}",
        t.viewers_started, t.restarts, t.exits_failure, t.reconnects
    );

    let approx = if s.ffmpeg.as_ref().is_some_and(|f| f.requests_approximate) {
        " (APPROXIMATE: from FFmpeg's log, https://)"
    } else {
        ""
    };
    let _ = writeln!(o, "{THIN}\n  Throughput{approx}");
    let _ = writeln!(
        o,
        "  Total:             {} in {} requests ({} mean, {} last 30 s)",
        bytes(t.total_bytes() as f64),
        s.total_requests(),
        bytes(s.mean_bytes_per_second()) + "/s",
        bytes(s.window(30).bytes_per_second) + "/s",
    );
    let _ = writeln!(
        o,
        "  {:<10} {:>10} {:>8} {:>8} {:>12}",
        "Kind", "Requests", "Errors", "Retries", "Bytes"
    );
    for k in RequestKind::ALL {
        let ks = s.kind(k);
        if ks.count == 0 {
            continue;
        }
        let _ = writeln!(
            o,
            "  {:<10} {:>10} {:>8} {:>8} {:>12}",
            k.as_str(),
            ks.count,
            ks.errors,
            ks.retries,
            bytes(ks.bytes as f64)
        );
    }
    let aborted = s.totals.total_aborted();
    if aborted > 0 {
        let _ = writeln!(
            o,
            "  Aborted:    {aborted} still in flight at the stop, cut off (counted above with their bytes; not errors)"
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
    for k in RequestKind::ALL {
        let ks = s.kind(k);
        if ks.count == 0 {
            continue;
        }
        dist_row(&mut o, &format!("{} TTFB", k.as_str()), &ks.ttfb);
        dist_row(&mut o, &format!("{} download", k.as_str()), &ks.download);
    }
    if let Some(lag) = &s.client_lag {
        // The client's own queueing delay, included in every figure above.
        dist_row(&mut o, "client wake-up lag", &lag.run);
        if lag.saturated() {
            let _ = writeln!(
                o,
                "  WARNING: the client was saturated (wake-up lag p99 {} > {}): the latencies above include client-side delay; give the swarm more cores or spread it over hosts",
                secs(lag.run.p99),
                secs(crate::stats::lag::SATURATED_P99.as_secs_f64())
            );
        }
    }

    let _ = writeln!(o, "{THIN}\n  Playback");
    dist_row(&mut o, "startup", &s.startup);
    dist_row(&mut o, "live latency", &s.live_latency);
    let _ = writeln!(
        o,
        "  Stalls:            {} ({} total, rebuffer ratio {}), stalled at end {}, peak stalled {}",
        s.stalls(),
        secs(s.stall_seconds()),
        pct(s.rebuffer_ratio()),
        r.stalled_at_end,
        s.peak_stalled
    );
    if t.segments_expired.saturating_add(t.segments_skipped) > 0 {
        let _ = writeln!(
            o,
            "  Segments lost:     {} expired before loading, {} skipped after retries",
            t.segments_expired, t.segments_skipped
        );
    }
    if t.stream_resets + t.timing_clamped > 0 {
        let _ = writeln!(
            o,
            "  Hostile playlists: {} stream resets (media sequence jumped), {} loads with absurd timing clamped",
            t.stream_resets, t.timing_clamped
        );
    }

    let _ = writeln!(o, "{THIN}\n  Errors");
    if s.total_errors() == 0 {
        let _ = writeln!(o, "  none");
    } else {
        let _ = writeln!(
            o,
            "  Total:             {} ({} of requests)",
            s.total_errors(),
            pct(s.error_rate())
        );
        for (class, n) in s.errors_by_class() {
            let _ = writeln!(o, "  {class:<18} {n}");
        }
        for (status, n) in &t.by_status {
            let _ = writeln!(o, "  HTTP {status:<13} {n}");
        }
    }
    if s.events_dropped > 0 {
        let _ = writeln!(
            o,
            "  WARNING: the stats pipeline dropped {} of {} events ({}); figures are undercounted",
            s.events_dropped,
            s.events_offered,
            pct(s.drop_rate())
        );
    }

    if let Some(origin) = &s.origin {
        let _ = write!(
            o,
            "{THIN}\n{}",
            crate::origin_metrics::report::summary_section(origin)
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

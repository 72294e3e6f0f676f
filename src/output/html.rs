//! The `--report FILE.html` report: one self-contained file (inline CSS, inline SVG
//! charts, a few lines of inline script for hover read-outs; nothing fetched from the
//! network) with charts over time from the run's [`Series`] and the summary tables from
//! the final Snapshot.
//!
//! Charts are drawn here as SVG, so the report reads the same with scripts disabled; the
//! script only adds a crosshair and the values under the pointer. When the script has run
//! without an exception it marks the page `data-ready="1"` (the CI check for script
//! errors).

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::slo::SloResult;
use crate::stats::event::RequestKind;
use crate::stats::report::{RunReport, StopReason};
use crate::stats::sections::Sections;
use crate::stats::series::{Point, Series};
use crate::stats::snapshot::Percentiles;
use crate::units::{bytes, clock, pct, secs};

/// `v` as JSON to embed in a `<script>` element: `<`, `>` and `&` are written as JSON
/// `\u003c`-style escapes, so no string in it (a hostile origin's text, say) can close
/// the element with `</script>` or switch the parser's state with `<!--`.
fn script_json<T: Serialize>(v: &T) -> String {
    let json = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut o = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            c => o.push(c),
        }
    }
    o
}

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// How a chart's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Viewers.
    Count,
    /// Bytes per second.
    BytesPerSecond,
    /// Requests per second.
    PerSecond,
    /// Seconds.
    Seconds,
    /// A ratio shown as a percentage.
    Ratio,
    /// Already a percentage.
    Percent,
}

impl Unit {
    fn format(self, v: f64) -> String {
        match self {
            Unit::Count => {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            }
            Unit::BytesPerSecond => format!("{}/s", bytes(v)),
            Unit::PerSecond => format!("{v:.1}/s"),
            Unit::Seconds => {
                if v == 0.0 {
                    "0".into()
                } else {
                    secs(v)
                }
            }
            Unit::Ratio => pct(v),
            Unit::Percent => format!("{v:.1}%"),
        }
    }
}

/// One line of a chart.
struct Line {
    name: &'static str,
    color: &'static str,
    values: Vec<Option<f64>>,
    /// Drawn dashed (reference lines such as the target).
    dashed: bool,
    /// Join the points on either side of an absent value (a tick without a sample, as
    /// opposed to a figure that was not measured).
    bridge_gaps: bool,
}

impl Line {
    fn new(name: &'static str, color: &'static str, values: Vec<Option<f64>>) -> Line {
        Line {
            name,
            color,
            values,
            dashed: false,
            bridge_gaps: false,
        }
    }

    fn dashed(mut self) -> Line {
        self.dashed = true;
        self
    }

    fn bridged(mut self) -> Line {
        self.bridge_gaps = true;
        self
    }
}

/// One chart: lines over the series' time axis.
struct Chart {
    id: &'static str,
    title: &'static str,
    unit: Unit,
    lines: Vec<Line>,
}

/// What the hover script reads for one chart.
#[derive(Serialize)]
struct HoverData<'a> {
    /// x of each point, in viewBox units.
    x: Vec<f64>,
    /// Time label of each point.
    t: Vec<String>,
    /// Per line: name, colour and a label per point (`null` when absent).
    lines: Vec<HoverLine<'a>>,
}

#[derive(Serialize)]
struct HoverLine<'a> {
    name: &'a str,
    color: &'a str,
    labels: Vec<Option<String>>,
}

const W: f64 = 600.0;
const H: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

const BLUE: &str = "#2563eb";
const GREEN: &str = "#16a34a";
const ORANGE: &str = "#ea580c";
const RED: &str = "#dc2626";
const PURPLE: &str = "#7c3aed";
const GRAY: &str = "#6b7280";
const TEAL: &str = "#0d9488";

/// A "nice" step (1, 2, 2.5 or 5 × 10ⁿ) so that `max / step` is about `n`.
fn nice_step(max: f64, n: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / n;
    let mag = 10f64.powf(raw.log10().floor());
    let frac = raw / mag;
    let nice = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 2.5 {
        2.5
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A time step in seconds giving at most about six labels.
fn time_step(span: f64) -> f64 {
    const STEPS: [f64; 15] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        21600.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 6.0)
        .unwrap_or(43200.0)
}

fn time_label(t: f64) -> String {
    let s = t.max(0.0).round() as u64;
    if s >= 3600 {
        clock(t)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl Chart {
    fn has_data(&self) -> bool {
        self.lines
            .iter()
            .any(|l| l.values.iter().any(Option::is_some))
    }

    fn render(&self, ts: &[f64], out: &mut String) {
        let t_max = ts.last().copied().unwrap_or(0.0).max(1.0);
        let y_data_max = self
            .lines
            .iter()
            .flat_map(|l| l.values.iter().flatten())
            .copied()
            .fold(0.0f64, f64::max);
        let y_floor = match self.unit {
            Unit::Ratio => 0.01,
            Unit::Seconds => 0.001,
            Unit::Percent => 10.0,
            _ => 1.0,
        };
        let mut y_step = nice_step(y_data_max.max(y_floor), 4.0);
        if self.unit == Unit::Count {
            // Whole viewers.
            y_step = y_step.max(1.0).round();
        }
        let y_max = (y_data_max.max(y_floor) / y_step).ceil() * y_step;
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let x_of = |t: f64| LEFT + pw * (t / t_max);
        let y_of = |v: f64| TOP + ph * (1.0 - v / y_max);

        let _ = write!(
            out,
            r#"<figure class="chart" id="{id}"><figcaption>{title}</figcaption><div class="legend">"#,
            id = self.id,
            title = esc(self.title)
        );
        for l in &self.lines {
            let _ = write!(
                out,
                r#"<span><i style="background:{}"></i>{}</span>"#,
                l.color,
                esc(l.name)
            );
        }
        let _ = write!(
            out,
            r#"</div><svg viewBox="0 0 {W} {H}" role="img" aria-label="{}" preserveAspectRatio="xMidYMid meet">"#,
            esc(self.title)
        );
        // Grid and y labels.
        let mut v = 0.0;
        while v <= y_max + y_step * 1e-6 {
            let y = y_of(v);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="yl" x="{:.1}" y="{:.1}">{}</text>"#,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&self.unit.format(v))
            );
            v += y_step;
        }
        // x labels.
        let step = time_step(t_max);
        let mut t = 0.0;
        while t <= t_max + 1e-6 {
            let x = x_of(t);
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text class="xl" x="{x:.1}" y="{:.1}">{}</text>"#,
                TOP + ph,
                TOP + ph + 4.0,
                H - 8.0,
                time_label(t)
            );
            t += step;
        }
        let _ = write!(
            out,
            r#"<rect class="frame" x="{LEFT}" y="{TOP}" width="{pw:.1}" height="{ph:.1}"/>"#
        );
        // Lines; a gap where a value is absent.
        for l in &self.lines {
            let mut d = String::new();
            let mut pen_down = false;
            let mut singles = Vec::new();
            for (i, (t, v)) in ts.iter().zip(&l.values).enumerate() {
                match v {
                    Some(v) => {
                        let cmd = if pen_down { 'L' } else { 'M' };
                        let _ = write!(d, "{cmd}{:.1} {:.1} ", x_of(*t), y_of(*v));
                        let next_absent = l.values.get(i + 1).is_none_or(Option::is_none);
                        if !pen_down && next_absent && !l.bridge_gaps {
                            singles.push((x_of(*t), y_of(*v)));
                        }
                        pen_down = true;
                    }
                    None if l.bridge_gaps => {}
                    None => pen_down = false,
                }
            }
            if !d.is_empty() {
                let _ = write!(
                    out,
                    r#"<path d="{}" stroke="{}" class="line{}"/>"#,
                    d.trim_end(),
                    l.color,
                    if l.dashed { " dashed" } else { "" }
                );
            }
            for (x, y) in singles {
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#,
                    l.color
                );
            }
        }
        let _ = write!(
            out,
            r#"<line class="cursor" x1="0" x2="0" y1="{TOP}" y2="{:.1}" visibility="hidden"/></svg><div class="tip" hidden></div>"#,
            TOP + ph
        );
        let hover = HoverData {
            x: ts
                .iter()
                .map(|t| (x_of(*t) * 10.0).round() / 10.0)
                .collect(),
            t: ts.iter().map(|t| time_label(*t)).collect(),
            lines: self
                .lines
                .iter()
                .map(|l| HoverLine {
                    name: l.name,
                    color: l.color,
                    labels: l
                        .values
                        .iter()
                        .map(|v| v.map(|v| self.unit.format(v)))
                        .collect(),
                })
                .collect(),
        };
        let _ = write!(
            out,
            r#"<script type="application/json" class="hover">{}</script></figure>"#,
            script_json(&hover)
        );
    }
}

fn col<F: Fn(&Point) -> Option<f64>>(h: &[Point], f: F) -> Vec<Option<f64>> {
    h.iter().map(f).collect()
}

fn charts(h: &[Point]) -> Vec<Chart> {
    let ttfb = |i: usize| move |p: &Point| p.segment_ttfb.map(|v| v[i]);
    let mut c = vec![
        Chart {
            id: "viewers",
            title: "Viewers",
            unit: Unit::Count,
            lines: vec![
                Line::new("target", GRAY, col(h, |p| Some(p.target))).dashed(),
                Line::new("active", BLUE, col(h, |p| Some(p.active))),
                Line::new("stalled", RED, col(h, |p| Some(p.stalled))),
            ],
        },
        Chart {
            id: "throughput",
            title: "Throughput (body bytes per second)",
            unit: Unit::BytesPerSecond,
            lines: vec![Line::new(
                "all requests",
                TEAL,
                col(h, |p| Some(p.bytes_per_second)),
            )],
        },
        Chart {
            id: "requests",
            title: "Request rate",
            unit: Unit::PerSecond,
            lines: vec![
                Line::new(
                    "playlist",
                    PURPLE,
                    col(h, |p| Some(p.rate(RequestKind::Playlist))),
                ),
                Line::new(
                    "segment",
                    BLUE,
                    col(h, |p| Some(p.rate(RequestKind::Segment))),
                ),
                Line::new("failed", RED, col(h, |p| Some(p.errors_per_second))),
            ],
        },
        Chart {
            id: "ttfb",
            title: "Segment TTFB (requests finished in each tick)",
            unit: Unit::Seconds,
            lines: vec![
                Line::new("p50", GREEN, col(h, ttfb(0))).bridged(),
                Line::new("p95", ORANGE, col(h, ttfb(1))).bridged(),
                Line::new("p99", RED, col(h, ttfb(2))).bridged(),
            ],
        },
        Chart {
            id: "errors",
            title: "Error rate (failed / finished requests)",
            unit: Unit::Ratio,
            lines: vec![Line::new("error rate", RED, col(h, |p| Some(p.error_rate)))],
        },
        Chart {
            id: "stalls",
            title: "Stalled viewers",
            unit: Unit::Count,
            lines: vec![Line::new("stalled", ORANGE, col(h, |p| Some(p.stalled)))],
        },
    ];
    let cpu = Chart {
        id: "origin-cpu",
        title: "Origin CPU",
        unit: Unit::Percent,
        lines: vec![Line::new(
            "CPU busy",
            ORANGE,
            col(h, |p| p.origin_cpu_percent),
        )],
    };
    let net = Chart {
        id: "origin-net",
        title: "Origin network",
        unit: Unit::BytesPerSecond,
        lines: vec![
            Line::new("in", BLUE, col(h, |p| p.origin_rx_bps)),
            Line::new("out", GREEN, col(h, |p| p.origin_tx_bps)),
        ],
    };
    // Origin charts only when origin metrics were scraped.
    c.extend([cpu, net].into_iter().filter(Chart::has_data));
    // Arrival mode: the sessions open (the concurrency) with the viewers.
    if h.iter().any(|p| p.sessions_open.is_some()) {
        c[0].lines.push(Line::new(
            "sessions open",
            PURPLE,
            col(h, |p| p.sessions_open),
        ));
    }
    c
}

fn dist_cells(o: &mut String, p: &Percentiles) {
    if p.count == 0 {
        o.push_str(r#"<td colspan="5" class="na">no samples</td>"#);
        return;
    }
    for v in [p.p50, p.p90, p.p95, p.p99, p.max] {
        let _ = write!(o, "<td>{}</td>", esc(&secs(v)));
    }
}

fn kv_table(o: &mut String, title: &str, rows: &[(&str, String)]) {
    let _ = write!(o, "<section class=\"card\"><h2>{}</h2><table>", esc(title));
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table></section>");
}

/// The rows of the sessions table (arrival mode): counts, concurrency, arrival rate, and
/// the session lengths realised against those drawn and asked.
fn sessions_rows(x: &crate::stats::sessions::SessionsSummary) -> Vec<(&'static str, String)> {
    let c = &x.counts;
    let lengths = |l: &crate::stats::sessions::LengthFigures| {
        if l.count == 0 {
            "none".to_string()
        } else {
            format!(
                "mean {:.1} s, p50 {:.1} s, p90 {:.1} s ({} sessions)",
                l.mean_seconds, l.p50_seconds, l.p90_seconds, l.count
            )
        }
    };
    vec![
        ("started", c.started.to_string()),
        ("ended", c.ended.to_string()),
        ("censored (open at the stop)", c.censored.to_string()),
        ("refused (at the cap)", c.refused.to_string()),
        (
            "open at end / peak",
            format!("{} / {} (cap {})", c.open, c.peak_open, x.cap),
        ),
        (
            "arrivals",
            format!(
                "{:.2}/s (asked {:.2}/s)",
                x.arrival_rate, x.asked_arrival_rate
            ),
        ),
        (
            "asked length",
            match &x.asked {
                Some(a) => format!(
                    "{}: mean {:.1} s, p50 {:.1} s, p90 {:.1} s",
                    a.model, a.mean_seconds, a.p50_seconds, a.p90_seconds
                ),
                None => "until the run ends (no --session-duration)".to_string(),
            },
        ),
        ("drawn length", lengths(&x.drawn)),
        ("realised length (ended)", lengths(&x.realised)),
        ("drawn for those ended", lengths(&x.realised_drawn)),
    ]
}

/// The header's word on the ending, as HTML: what ended the run, or, in an interim
/// report, that it had not ended.
fn ending(r: &RunReport) -> String {
    if r.stop_reason == StopReason::Running {
        let asked = r.stop_detail.as_deref().unwrap_or("request");
        return format!("<b>still running</b> (interim report on {})", esc(asked));
    }
    format!("ended by <b>{}</b>", esc(&r.ended_by()))
}

/// What an interim report says about itself, under the header; empty for a final one.
fn interim_note(r: &RunReport) -> &'static str {
    if r.stop_reason != StopReason::Running {
        return "";
    }
    r#"<p class="meta"><b>Interim report</b>, written while the run went on: every figure is as of the run time above (“at end” means then), and the final report replaces this file when the run ends.</p>
"#
}

fn tables(o: &mut String, r: &RunReport, x: &Sections, slo: &SloResult) {
    let (v, p, e) = (&x.viewers, &x.playback, &x.errors);
    o.push_str(r#"<div class="cards">"#);
    let reached = if v.target_reached { "yes" } else { "NO" };
    kv_table(
        o,
        "Viewers",
        &[
            ("target", v.target.to_string()),
            (
                "target reached",
                format!("{reached} (peak {} active)", v.peak_active),
            ),
            ("active at end", v.active_at_end.to_string()),
            ("started", v.started.to_string()),
            ("restarts", v.restarts.to_string()),
            ("failures", v.failures.to_string()),
            ("reconnects", v.reconnects.to_string()),
        ],
    );
    kv_table(
        o,
        "Playback",
        &[
            ("stalls", p.stalls.to_string()),
            ("stall time", secs(p.stall_seconds)),
            ("rebuffer ratio", pct(p.rebuffer_ratio)),
            ("peak stalled", p.peak_stalled.to_string()),
            ("stalled at end", p.stalled_at_end.to_string()),
            ("media played", secs(p.played_seconds)),
            (
                "segments lost",
                format!(
                    "{} expired, {} skipped",
                    p.segments_expired, p.segments_skipped
                ),
            ),
            ("stream resets", p.stream_resets.to_string()),
            ("timing clamped", p.timing_clamped.to_string()),
            ("LL-HLS fallbacks", p.ll_fallbacks.to_string()),
        ],
    );
    if let Some(b) = &r.bandwidth_summary() {
        let mbps = |b: f64| format!("{:.2} Mbit/s", b / 1e6);
        kv_table(
            o,
            "Viewer links",
            &[
                ("model", b.model.clone()),
                ("viewers", b.viewers.to_string()),
                ("min", mbps(b.min_bits_per_second as f64)),
                ("mean", mbps(b.mean_bits_per_second)),
                ("p10", mbps(b.p10_bits_per_second as f64)),
                ("p50", mbps(b.p50_bits_per_second as f64)),
                ("p90", mbps(b.p90_bits_per_second as f64)),
                ("max", mbps(b.max_bits_per_second as f64)),
            ],
        );
    }
    if let Some(x) = &r.sessions_summary() {
        let rows = sessions_rows(x);
        let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (*k, v.clone())).collect();
        kv_table(o, "Sessions (arrivals)", &rows);
    }
    if let Some(a) = &p.abr {
        let mbps = |b: f64| format!("{:.2} Mbit/s", b / 1e6);
        let m = &a.mean_bitrate_per_viewer;
        let mut rows: Vec<(String, String)> = vec![
            (
                "mean bitrate per viewer".into(),
                format!(
                    "p50 {}, p90 {}, min {}, max {} ({} viewers)",
                    mbps(m.p50),
                    mbps(m.p90),
                    mbps(m.min),
                    mbps(m.max),
                    m.count
                ),
            ),
            (
                "switches".into(),
                format!(
                    "{} up, {} down; per viewer p50 {}, p90 {}, max {}",
                    a.switches_up,
                    a.switches_down,
                    a.switches_per_viewer.p50,
                    a.switches_per_viewer.p90,
                    a.switches_per_viewer.max
                ),
            ),
            (
                "downloads abandoned".into(),
                format!(
                    "{} (segments given up part-way for a lower rung)",
                    a.abandons
                ),
            ),
        ];
        for (i, s) in a.rung_seconds.iter().enumerate() {
            rows.push((format!("played at rung {i}"), secs(*s)));
        }
        let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        kv_table(o, "Adaptive bitrate", &rows);
    }
    let mut errors = vec![
        (
            "failed".to_string(),
            format!("{} of {} requests", e.total, x.total_requests),
        ),
        ("error rate".to_string(), pct(e.rate)),
    ];
    for (c, n) in &e.by_class {
        errors.push((c.to_string(), n.to_string()));
    }
    for (k, n) in &e.by_status {
        errors.push((format!("HTTP {k}"), n.to_string()));
    }
    let errors: Vec<(&str, String)> = errors
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    kv_table(o, "Errors", &errors);
    kv_table(
        o,
        "Throughput",
        &[
            ("total bytes", bytes(x.total_bytes as f64)),
            ("requests", x.total_requests.to_string()),
            ("mean", format!("{}/s", bytes(x.throughput.mean))),
            ("last 30 s", format!("{}/s", bytes(x.throughput.last_30s))),
            ("redirects", x.redirects.to_string()),
            (
                "stats pipeline",
                format!(
                    "{} events, {} dropped ({})",
                    x.pipeline.events,
                    x.pipeline.dropped,
                    pct(x.pipeline.drop_rate)
                ),
            ),
        ],
    );
    if let Some(f) = &r.snapshot.ffmpeg {
        let mut rows = vec![("binary", f.binary.clone()), ("version", f.version.clone())];
        if let Some(e) = &f.last_error {
            rows.push(("last FFmpeg error", e.clone()));
        }
        if let Some(m) = &f.crash_loop.message {
            rows.push(("crash loop", m.clone()));
        }
        kv_table(o, "FFmpeg engine", &rows);
    }
    o.push_str("</div>");

    o.push_str(r#"<section class="card wide"><h2>Requests</h2><table class="num"><tr><th>kind</th><th>requests</th><th>errors</th><th>retries</th><th>bytes</th></tr>"#);
    for (k, q) in x.requested() {
        let _ = write!(
            o,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            k.as_str(),
            q.count,
            q.errors,
            q.retries,
            esc(&bytes(q.bytes as f64))
        );
    }
    o.push_str("</table></section>");

    if x.streams.len() > 1 {
        streams_table(o, &x.streams);
    }

    o.push_str(r#"<section class="card wide"><h2>Latency</h2><table class="num"><tr><th></th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>"#);
    for (k, q) in x.requested() {
        let _ = write!(o, "<tr><th>{} TTFB</th>", k.as_str());
        dist_cells(o, &q.ttfb_seconds);
        let _ = write!(o, "</tr><tr><th>{} download</th>", k.as_str());
        dist_cells(o, &q.download_seconds);
        if q.hold_seconds.count > 0 {
            let _ = write!(o, "</tr><tr><th>{} hold</th>", k.as_str());
            dist_cells(o, &q.hold_seconds);
            let _ = write!(o, "</tr><tr><th>{} lateness</th>", k.as_str());
            dist_cells(o, &q.lateness_seconds);
        }
        o.push_str("</tr>");
    }
    for (name, p) in [
        ("startup", &p.startup_seconds),
        ("live latency", &p.live_latency_seconds),
        ("stall length", &p.stall_duration_seconds),
    ] {
        let _ = write!(o, "<tr><th>{name}</th>");
        dist_cells(o, p);
        o.push_str("</tr>");
    }
    o.push_str("</table></section>");

    if !slo.checks.is_empty() {
        let _ = write!(
            o,
            r#"<section class="card wide"><h2>SLO: <span class="{}">{}</span></h2><table><tr><th></th><th>check</th><th>objective</th><th>measured</th></tr>"#,
            if slo.passed { "ok" } else { "bad" },
            if slo.passed { "PASSED" } else { "FAILED" }
        );
        for c in &slo.checks {
            let _ = write!(
                o,
                r#"<tr><td class="{}">{}</td><th>{}</th><td>{}</td><td>{}</td></tr>"#,
                if c.passed { "ok" } else { "bad" },
                if c.passed { "✓" } else { "✗" },
                esc(c.name),
                esc(&c.objective),
                esc(&c.actual)
            );
        }
        if let Some(why) = &slo.aborted {
            let _ = write!(
                o,
                r#"<tr><td class="bad">✗</td><th>--slo-abort</th><td colspan="2">stopped early: {}</td></tr>"#,
                esc(why)
            );
        }
        o.push_str("</table></section>");
    }
}

/// Streams the HTML report lists by name; the others are added up in one row.
pub const HTML_TOP_STREAMS: usize = 100;

/// A many-stream run's table: the streams with the most viewers, then the rest.
fn streams_table(o: &mut String, all: &[crate::stats::streams::StreamSection]) {
    let (top, rest) = crate::stats::streams::top_and_rest(all, HTML_TOP_STREAMS);
    let _ = write!(
        o,
        r#"<section class="card wide"><h2>Streams ({} streams, top {} by viewers)</h2><table class="num"><tr><th>stream</th><th>share</th><th>viewers</th><th>requests</th><th>errors</th><th>bytes</th><th>segment TTFB p95</th></tr>"#,
        all.len(),
        top.len()
    );
    for s in &top {
        let p95 = s.segment_ttfb_p95().map_or_else(|| "–".to_string(), secs);
        let _ = write!(
            o,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.url),
            esc(&pct(s.share)),
            s.viewers,
            s.total_requests(),
            s.total_errors(),
            esc(&bytes(s.total_bytes as f64)),
            esc(&p95)
        );
    }
    if let Some(r) = rest {
        let _ = write!(
            o,
            "<tr><th>the rest ({} streams)</th><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
            r.streams,
            r.viewers,
            r.requests,
            r.errors,
            esc(&bytes(r.bytes as f64))
        );
    }
    o.push_str("</table></section>");
}

fn kpis(o: &mut String, x: &Sections, slo: &SloResult) {
    let (v, p, e) = (&x.viewers, &x.playback, &x.errors);
    let seg = x
        .requests
        .iter()
        .find(|(k, _)| *k == RequestKind::Segment)
        .map(|(_, q)| q.ttfb_seconds)
        .unwrap_or_default();
    let p95_or_dash = |d: &Percentiles| {
        if d.count > 0 {
            secs(d.p95)
        } else {
            "—".into()
        }
    };
    let mut cards: Vec<(&str, String, &str)> = vec![
        (
            "peak viewers",
            format!("{} / {}", v.peak_active, v.target),
            if v.target_reached { "ok" } else { "bad" },
        ),
        (
            "mean throughput",
            format!("{}/s", bytes(x.throughput.mean)),
            "",
        ),
        (
            "error rate",
            pct(e.rate),
            if e.total == 0 { "ok" } else { "bad" },
        ),
        (
            "stalls",
            p.stalls.to_string(),
            if p.stalls == 0 { "ok" } else { "warn" },
        ),
        ("segment TTFB p95", p95_or_dash(&seg), ""),
        ("startup p95", p95_or_dash(&p.startup_seconds), ""),
    ];
    if !slo.checks.is_empty() {
        cards.push((
            "SLO",
            if slo.passed { "PASSED" } else { "FAILED" }.into(),
            if slo.passed { "ok" } else { "bad" },
        ));
    }
    o.push_str(r#"<div class="kpis">"#);
    for (label, value, class) in cards {
        let _ = write!(
            o,
            r#"<div class="kpi {class}"><div class="v">{}</div><div class="l">{}</div></div>"#,
            esc(&value),
            esc(label)
        );
    }
    o.push_str("</div>");
}

const STYLE: &str = r#"
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--card:#fff}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:15px;margin:0 0 8px}
.meta{color:var(--muted);margin:0 0 16px}
.meta b{color:var(--fg);font-weight:600}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 20px}
.kpi{background:var(--card);border:1px solid var(--line);border-left:4px solid #93c5fd;border-radius:6px;padding:10px 14px;min-width:150px}
.kpi .v{font-size:20px;font-weight:700}
.kpi .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi.ok{border-left-color:#16a34a}.kpi.bad{border-left-color:#dc2626}.kpi.warn{border-left-color:#ea580c}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px;margin:0 0 20px}
.chart{position:relative;margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.chart figcaption{font-weight:600;margin:0 0 2px}
.legend{display:flex;gap:14px;color:var(--muted);font-size:12px;margin:0 0 4px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg{width:100%;height:auto;display:block}
svg .grid{stroke:#eef0f3;stroke-width:1}
svg .tick{stroke:#9ca3af;stroke-width:1}
svg .frame{fill:none;stroke:#d1d5db;stroke-width:1}
svg .line{fill:none;stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
svg .dashed{stroke-dasharray:6 4;stroke-width:1.4}
svg .cursor{stroke:#374151;stroke-width:1;stroke-dasharray:3 3}
svg text{font-size:11px;fill:#6b7280}
svg .yl{text-anchor:end}
svg .xl{text-anchor:middle}
.tip{position:absolute;top:34px;pointer-events:none;background:rgba(17,24,39,.92);color:#fff;font-size:12px;padding:6px 8px;border-radius:4px;white-space:nowrap}
.tip i{display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:5px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:16px;margin:0 0 16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 14px}
.card.wide{margin:0 0 16px}
table{border-collapse:collapse;width:100%}
th,td{padding:3px 8px 3px 0;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500}
table.num td{text-align:right;font-variant-numeric:tabular-nums}
table.num tr:first-child th{text-align:right}
table.num tr:first-child th:first-child{text-align:left}
td.na{color:var(--muted);text-align:left!important}
.cards td{white-space:pre-wrap;overflow-wrap:anywhere}
.ok{color:#16a34a}.bad{color:#dc2626}
footer{color:var(--muted);font-size:12px;margin-top:8px}
"#;

const SCRIPT: &str = r#"
(function () {
  var root = document.documentElement;
  window.addEventListener('error', function (e) {
    root.setAttribute('data-errors', String(e.message || e));
  });
  function show(fig, data, svg, cursor, tip, ev) {
    var box = svg.getBoundingClientRect();
    var vb = svg.viewBox.baseVal;
    var x = (ev.clientX - box.left) / box.width * vb.width;
    var best = -1, dist = Infinity;
    for (var i = 0; i < data.x.length; i++) {
      var d = Math.abs(data.x[i] - x);
      if (d < dist) { dist = d; best = i; }
    }
    if (best < 0) { return; }
    cursor.setAttribute('x1', data.x[best]);
    cursor.setAttribute('x2', data.x[best]);
    cursor.setAttribute('visibility', 'visible');
    tip.textContent = '';
    var head = document.createElement('div');
    head.textContent = 't = ' + data.t[best];
    tip.appendChild(head);
    data.lines.forEach(function (l) {
      var row = document.createElement('div');
      var sw = document.createElement('i');
      sw.style.background = l.color;
      row.appendChild(sw);
      var v = l.labels[best];
      row.appendChild(document.createTextNode(l.name + ': ' + (v === null ? '—' : v)));
      tip.appendChild(row);
    });
    tip.hidden = false;
    var px = data.x[best] / vb.width * box.width;
    var left = px + 14;
    if (left + tip.offsetWidth > fig.clientWidth) { left = px - tip.offsetWidth - 14; }
    tip.style.left = Math.max(0, left) + 'px';
  }
  document.querySelectorAll('figure.chart').forEach(function (fig) {
    var src = fig.querySelector('script.hover');
    var svg = fig.querySelector('svg');
    var cursor = fig.querySelector('line.cursor');
    var tip = fig.querySelector('.tip');
    var data = JSON.parse(src.textContent);
    svg.addEventListener('mousemove', function (ev) { show(fig, data, svg, cursor, tip, ev); });
    svg.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });
  });
  root.setAttribute('data-ready', '1');
})();
"#;

/// Render the report of a finished run.
pub fn render(r: &RunReport, slo: &SloResult) -> String {
    let x = Sections::of(r);
    let series: &Series = &r.series;
    let history = series.history();
    let ts: Vec<f64> = history.iter().map(|p| p.t).collect();
    let started = humantime::format_rfc3339_seconds(r.started_at).to_string();
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>hls-swarm report — {stream} — {started}</title>
<style>{STYLE}</style></head><body>
<h1>hls-swarm run report</h1>
<p class="meta">run <b>{run_id}</b> · stream <b>{stream}</b> · engine <b>{engine}</b> · started <b>{started}</b> · run time <b>{run}</b> · {ending} · hls-swarm {version}</p>
{note}"#,
        run_id = esc(&crate::output::summary::run_line(r)),
        stream = esc(&r.stream_url),
        engine = esc(r.engine),
        started = esc(&started),
        run = clock(x.run_seconds),
        ending = ending(r),
        note = interim_note(r),
        version = env!("CARGO_PKG_VERSION"),
    );
    kpis(&mut o, &x, slo);
    if r.merged.is_some() {
        let _ = write!(
            o,
            r#"<p class="meta">A merged report: the shards' time series are not merged, so no charts here (each shard's own report has its charts). {}</p>"#,
            esc(crate::output::summary::MERGED_PEAKS)
        );
    } else if history.is_empty() {
        o.push_str(r#"<p class="meta">The run ended before its first tick: no charts.</p>"#);
    } else {
        o.push_str(r#"<div class="charts">"#);
        for c in charts(&history) {
            c.render(&ts, &mut o);
        }
        o.push_str("</div>");
    }
    tables(&mut o, r, &x, slo);
    let ticks = history.iter().map(|p| u64::from(p.ticks)).sum::<u64>();
    let _ = write!(
        o,
        r#"<footer>{} chart points over {ticks} ticks of 1 s; each point covers {} tick(s) (rates averaged, peaks and latency percentiles kept at their largest).</footer>
<script>{SCRIPT}</script>
</body></html>
"#,
        history.len(),
        series.stride()
    );
    o
}

/// Write the report to `path` (see [`crate::file`]: created or replaced atomically,
/// written through to a device or FIFO, never replacing what it did not create).
pub fn write(path: &Path, r: &RunReport, slo: &SloResult) -> Result<()> {
    crate::file::write("--report", path, render(r, slo).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let hostile = "</script><script>alert(1)</script><!--<script>&";
        let json = script_json(&vec![hostile]);
        assert!(
            !json.contains('<') && !json.contains('>') && !json.contains('&'),
            "{json}"
        );
        let back: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(
            back,
            vec![hostile.to_string()],
            "the same data after parsing"
        );
        let chart = Chart {
            id: "t",
            title: "T",
            unit: Unit::Count,
            lines: vec![Line::new(
                "</script><img src=x onerror=alert(1)>",
                RED,
                vec![Some(1.0)],
            )],
        };
        let mut out = String::new();
        chart.render(&[1.0], &mut out);
        assert_eq!(
            out.matches("</script>").count(),
            1,
            "only the real end tag: {out}"
        );
        assert!(!out.contains("<img"), "{out}");
    }

    #[test]
    fn the_sessions_table_says_every_count_and_length() {
        use crate::config::session::SessionModel;
        use crate::stats::sessions::SessionTally;
        use std::time::Duration;
        let t = SessionTally::new(Some(SessionModel::Fixed(Duration::from_secs(2))), 1.5, 2);
        let d = Duration::from_secs(2);
        assert!(t.try_open(Some(d)) && t.try_open(Some(d)));
        assert!(!t.try_open(Some(d)));
        t.ended(d, Duration::from_millis(2_500));
        let rows = sessions_rows(&t.summary(Duration::from_secs(3), true));
        let row = |k: &str| {
            rows.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no row {k}: {rows:?}"))
        };
        assert_eq!(row("started"), "2");
        assert_eq!(row("ended"), "1");
        assert_eq!(row("censored (open at the stop)"), "1");
        assert_eq!(row("refused (at the cap)"), "1");
        assert_eq!(row("open at end / peak"), "0 / 2 (cap 2)");
        assert_eq!(row("arrivals"), "1.00/s (asked 1.50/s)");
        assert_eq!(
            row("asked length"),
            "fixed:2000ms: mean 2.0 s, p50 2.0 s, p90 2.0 s"
        );
        assert_eq!(
            row("realised length (ended)"),
            "mean 2.5 s, p50 2.5 s, p90 2.5 s (1 sessions)"
        );
        assert_eq!(row("drawn length").split(" (").nth(1), Some("2 sessions)"));
        let none = SessionTally::new(None, 1.0, 1).summary(Duration::from_secs(1), true);
        let rows = sessions_rows(&none);
        assert!(
            rows.iter()
                .any(|(_, v)| v.starts_with("until the run ends"))
        );
        assert!(
            rows.iter()
                .any(|(k, v)| *k == "realised length (ended)" && v == "none")
        );
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 4.0), 2.5);
        assert_eq!(nice_step(100.0, 4.0), 25.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert!((nice_step(0.003, 4.0) - 0.001).abs() < 1e-12);
        assert_eq!(time_step(30.0), 5.0);
        assert_eq!(time_step(3600.0), 600.0);
        assert_eq!(time_label(65.0), "1:05");
        assert_eq!(time_label(3725.0), "01:02:05");
    }

    #[test]
    fn a_gap_splits_a_line() {
        let chart = Chart {
            id: "t",
            title: "T <x>",
            unit: Unit::Seconds,
            lines: vec![Line::new(
                "p95",
                RED,
                vec![
                    Some(0.1),
                    Some(0.2),
                    None,
                    Some(0.3),
                    None,
                    Some(0.1),
                    Some(0.1),
                ],
            )],
        };
        let mut out = String::new();
        chart.render(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], &mut out);
        let path = out
            .split("class=\"line\"")
            .next()
            .and_then(|s| s.rsplit("d=\"").next())
            .unwrap_or_default();
        assert_eq!(path.matches('M').count(), 3, "three runs: {path}");
        assert_eq!(out.matches("<circle").count(), 1, "the lone point is a dot");
        assert!(out.contains("T &lt;x&gt;"), "titles are escaped");

        let bridged = Chart {
            lines: vec![Line::new("p95", RED, vec![Some(0.1), None, Some(0.3)]).bridged()],
            ..chart
        };
        let mut out = String::new();
        bridged.render(&[1.0, 2.0, 3.0], &mut out);
        assert_eq!(
            out.matches(" M").count() + out.matches("\"M").count(),
            1,
            "{out}"
        );
        assert_eq!(out.matches("<circle").count(), 0);
    }
}

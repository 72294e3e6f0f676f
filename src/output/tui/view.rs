//! Drawing one frame from a [`Model`]: pure, so it is tested with ratatui's `TestBackend`.
//! Every figure comes from the Snapshot, the series (sparklines) or the origin figures; this
//! module only lays them out and colours them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Row, Sparkline, Table};

use crate::stats::event::RequestKind;
use crate::stats::origin::{FigureStats, OriginStats};
use crate::stats::report::RunInfo;
use crate::stats::series::Point;
use crate::stats::snapshot::{Percentiles, Snapshot};
use crate::units::{bytes, clock, pct, secs};

/// Everything one frame shows.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// The latest tick (`None` before the first).
    pub snapshot: Option<Snapshot>,
    /// Stream and engine, once the run has started.
    pub info: Option<RunInfo>,
    /// What the stream is before the run has started (from the flags).
    pub stream_hint: String,
    /// The Prometheus endpoint, when one is served.
    pub metrics_url: Option<String>,
    /// `-ramp-rate`.
    pub ramp_rate: f64,
    /// Error rate above which the error figures turn red (yellow above a tenth of it).
    pub error_threshold: f64,
    /// Recent ticks at full resolution, oldest first (sparklines).
    pub recent: Vec<Point>,
    /// Origin host figures; `None` hides the origin panel.
    pub origin: Option<OriginStats>,
    /// The log pane's lines, oldest first.
    pub logs: Vec<String>,
    /// Log lines dropped from the bounded pane buffer.
    pub log_dropped: u64,
    /// `--log-file`, where tracing logs go instead of the pane.
    pub log_file: Option<String>,
    /// The user asked to stop; the run is finishing.
    pub quitting: bool,
    /// A many-stream run's stream groups, as `/metrics` names them (the top-K streams by
    /// share, redacted, then `other`), in the order of `Snapshot::stream_groups`; empty
    /// with one stream.
    pub stream_names: Vec<String>,
}

/// Streams the audience panel lists by name; the others make one `the rest` line.
pub const TUI_TOP_STREAMS: usize = 3;
/// Widest stream name the audience panel shows (longer ones keep their end).
const STREAM_NAME_WIDTH: usize = 48;

const LABEL: Style = Style::new().fg(Color::Gray);
const VALUE: Style = Style::new().add_modifier(Modifier::BOLD);
const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);

fn block(title: &str) -> Block<'_> {
    Block::bordered()
        .title(Span::styled(format!(" {title} "), TITLE))
        .border_style(Style::new().fg(Color::DarkGray))
}

fn kv(label: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<14}"), LABEL),
        Span::styled(value, VALUE),
    ])
}

/// A duration in seconds, with `0s` for nothing.
fn seconds_or_zero(v: f64) -> String {
    if v > 0.0 { secs(v) } else { "0s".into() }
}

/// Green at or below a tenth of the threshold, yellow up to it, red above.
pub fn health(rate: f64, threshold: f64) -> Color {
    if rate <= threshold / 10.0 {
        Color::Green
    } else if rate <= threshold {
        Color::Yellow
    } else {
        Color::Red
    }
}

/// Draw the whole dashboard.
pub fn draw(f: &mut Frame, m: &Model) {
    let area = f.area();
    let origin_rows = if m.origin.is_some() { 6 } else { 0 };
    let audience = m
        .snapshot
        .as_ref()
        .map(|s| audience_lines(s, &m.stream_names))
        .unwrap_or_default();
    let audience_rows = if audience.is_empty() {
        0
    } else {
        audience.len() as u16 + 2
    };
    let log_rows = if area.height >= 40 { 8 } else { 4 };
    // The panels share what is left, the top row a bit less than the middle one.
    let left = area
        .height
        .saturating_sub(4 + origin_rows + audience_rows + log_rows);
    let top_rows = (left * 9 / 20).clamp(10, 14);
    let middle_rows = left.saturating_sub(top_rows).clamp(11, 15);
    let [header, top, middle, audience_area, origin, logs] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(top_rows),
        Constraint::Length(middle_rows),
        Constraint::Length(audience_rows),
        Constraint::Length(origin_rows),
        Constraint::Min(3),
    ])
    .areas(area);
    draw_header(f, header, m);
    let Some(s) = &m.snapshot else {
        let wait = Paragraph::new("waiting for the first tick…").block(block("hls-swarm"));
        f.render_widget(wait, top);
        draw_logs(f, logs, m);
        return;
    };
    let [viewers, requests, playback] = Layout::horizontal([
        Constraint::Percentage(30),
        Constraint::Percentage(35),
        Constraint::Percentage(35),
    ])
    .areas(top);
    draw_viewers(f, viewers, s, m);
    draw_requests(f, requests, s, m);
    draw_playback(f, playback, s);
    let [latency, errors] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(middle);
    draw_latency(f, latency, s, m);
    draw_errors(f, errors, s, m);
    if !audience.is_empty() {
        let lines: Vec<Line> = audience.into_iter().map(Line::from).collect();
        f.render_widget(
            Paragraph::new(lines).block(block("Audience")),
            audience_area,
        );
    }
    if let Some(o) = &m.origin {
        draw_origin(f, origin, o);
    }
    draw_logs(f, logs, m);
}

/// The audience panel's lines: arrival mode's sessions (open now, started, ended,
/// refused), and a many-stream run's [`TUI_TOP_STREAMS`] stream groups with the most
/// viewers (name, viewers, requests, bytes, failed requests), the other groups summed on
/// one line. Empty when the run has neither (a fixed crowd on one stream).
pub fn audience_lines(s: &Snapshot, stream_names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = s.sessions {
        let mut line = format!(
            "sessions  {} open (peak {}) · {} started · {} ended · {} refused",
            c.open, c.peak_open, c.started, c.ended, c.refused
        );
        if c.censored > 0 {
            line += &format!(" · {} censored", c.censored);
        }
        out.push(line);
    }
    let groups = &s.stream_groups;
    if groups.is_empty() || groups.len() != stream_names.len() {
        return out;
    }
    let total = |g: &crate::stats::streams::GroupCounts| {
        (
            g.requests.iter().sum::<u64>(),
            g.bytes.iter().sum::<u64>(),
            g.errors.iter().sum::<u64>(),
        )
    };
    // The named streams by viewers, then bytes; the `other` group always among the rest.
    let mut order: Vec<usize> = (0..groups.len())
        .filter(|&i| stream_names[i] != "other")
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse((groups[i].viewers, total(&groups[i]).1)));
    let shown = order.len().min(TUI_TOP_STREAMS);
    let row = |name: &str, viewers: u64, (requests, bytes_, errors): (u64, u64, u64)| {
        format!(
            "{name:<w$}  {viewers:>6} viewers  {requests:>9} req  {:>10}  {errors:>6} failed",
            bytes(bytes_ as f64),
            w = STREAM_NAME_WIDTH
        )
    };
    for &i in &order[..shown] {
        out.push(row(
            &shorten(&stream_names[i]),
            groups[i].viewers,
            total(&groups[i]),
        ));
    }
    let rest: Vec<usize> = (0..groups.len())
        .filter(|i| !order[..shown].contains(i))
        .collect();
    if !rest.is_empty() {
        let sum = rest.iter().fold((0, (0, 0, 0)), |(v, (r, b, e)), &i| {
            let (r2, b2, e2) = total(&groups[i]);
            (v + groups[i].viewers, (r + r2, b + b2, e + e2))
        });
        out.push(row("the rest", sum.0, sum.1));
    }
    out
}

/// `name` within [`STREAM_NAME_WIDTH`] characters: a longer one keeps its end (where
/// stream URLs differ), after `…`.
fn shorten(name: &str) -> String {
    let n = name.chars().count();
    if n <= STREAM_NAME_WIDTH {
        return name.to_string();
    }
    let tail: String = name.chars().skip(n - (STREAM_NAME_WIDTH - 1)).collect();
    format!("…{tail}")
}

fn draw_header(f: &mut Frame, area: Rect, m: &Model) {
    let sep = Span::styled(" │ ", Style::new().fg(Color::DarkGray));
    let mut first = Vec::new();
    match &m.snapshot {
        Some(s) => {
            first.push(Span::styled("elapsed ", LABEL));
            first.push(Span::styled(clock(s.elapsed.as_secs_f64()), VALUE));
            first.push(sep.clone());
            first.push(Span::styled("remaining ", LABEL));
            let remaining = match s.duration {
                Some(d) => clock(d.saturating_sub(s.elapsed).as_secs_f64()),
                None => "until stopped".into(),
            };
            first.push(Span::styled(remaining, VALUE));
        }
        None => first.push(Span::styled("starting…", VALUE)),
    }
    let (engine, stream) = match &m.info {
        Some(i) => (i.engine, i.stream_url.as_str()),
        None => ("—", m.stream_hint.as_str()),
    };
    first.extend([
        sep.clone(),
        Span::styled("engine ", LABEL),
        Span::styled(engine, VALUE),
        sep.clone(),
        Span::styled("stream ", LABEL),
        Span::styled(stream.to_string(), VALUE),
    ]);
    if let Some(url) = &m.metrics_url {
        first.extend([
            sep,
            Span::styled("metrics ", LABEL),
            Span::styled(url.clone(), VALUE),
        ]);
    }
    let stopping = m.quitting || m.snapshot.as_ref().is_some_and(|s| s.stopping);
    let state = if stopping {
        Line::from(vec![
            Span::styled(
                "■ stopping",
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::styled(" — viewers finish, then the summary is printed", LABEL),
        ])
    } else {
        Line::from(vec![
            Span::styled(
                "● running",
                Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            ),
            Span::styled(" — q, Esc or Ctrl+C: stop and print the summary", LABEL),
        ])
    };
    let title = format!("hls-swarm {}", env!("CARGO_PKG_VERSION"));
    let p = Paragraph::new(vec![Line::from(first), state]).block(block(&title));
    f.render_widget(p, area);
}

/// Bars of the last `width` recent points.
fn bars(m: &Model, width: u16, f: impl Fn(&Point) -> Option<u64>) -> Vec<Option<u64>> {
    let n = usize::from(width);
    let skip = m.recent.len().saturating_sub(n);
    m.recent.iter().skip(skip).map(f).collect()
}

fn spark<'a>(data: Vec<Option<u64>>, color: Color) -> Sparkline<'a> {
    Sparkline::default()
        .data(data)
        .style(Style::new().fg(color))
        .absent_value_symbol(" ")
}

fn draw_viewers(f: &mut Frame, area: Rect, s: &Snapshot, m: &Model) {
    let b = block("Viewers");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [gauge, text, label, sparkline] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let ratio = if s.target > 0 {
        (s.active as f64 / s.target as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let color = if s.reaches_target(s.active) {
        Color::Green
    } else {
        Color::Yellow
    };
    let g = Gauge::default()
        .ratio(ratio)
        .label(format!(
            "{} / {} active ({:.0}%)",
            s.active,
            s.target,
            ratio * 100.0
        ))
        .gauge_style(Style::new().fg(color).bg(Color::Black));
    f.render_widget(g, gauge);
    let t = &s.totals;
    let ramp = if s.ramped >= s.target {
        format!("{}/{} started · done", s.ramped, s.target)
    } else {
        format!("{}/{} started · {:.1}/s", s.ramped, s.target, m.ramp_rate)
    };
    let stalled_style = if s.stalled > 0 {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        VALUE
    };
    let lines = vec![
        kv("ramp", ramp),
        Line::from(vec![
            Span::styled(format!("{:<14}", "stalled"), LABEL),
            Span::styled(format!("{} now", s.stalled), stalled_style),
            Span::styled(format!(" · peak {}", s.peak_stalled), VALUE),
        ]),
        kv(
            "restarts",
            format!("{} · failures {}", t.restarts, t.exits_failure),
        ),
        kv("reconnects", t.reconnects.to_string()),
    ];
    f.render_widget(Paragraph::new(lines), text);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!("active viewers per tick (of {})", s.target),
            LABEL,
        )),
        label,
    );
    let data = bars(m, sparkline.width, |p| Some(p.active.round() as u64));
    f.render_widget(spark(data, color).max(s.target.max(1)), sparkline);
}

fn draw_requests(f: &mut Frame, area: Rect, s: &Snapshot, m: &Model) {
    let b = block("Requests");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let w1 = s.window(1);
    let w30 = s.window(30);
    let mut rows = vec![Row::new(vec!["", "1 s", "30 s"]).style(LABEL)];
    for k in RequestKind::ALL {
        let (now, avg) = (
            w1.requests_per_second[k.index()],
            w30.requests_per_second[k.index()],
        );
        let always = matches!(k, RequestKind::Playlist | RequestKind::Segment);
        if always || now > 0.0 || avg > 0.0 {
            rows.push(Row::new(vec![
                format!("{} req/s", k.as_str()),
                format!("{now:.1}"),
                format!("{avg:.1}"),
            ]));
        }
    }
    rows.push(Row::new(vec![
        "throughput".to_string(),
        format!("{}/s", bytes(w1.bytes_per_second)),
        format!("{}/s", bytes(w30.bytes_per_second)),
    ]));
    let n_rows = rows.len() as u16;
    let [table, total, label, sparkline] = Layout::vertical([
        Constraint::Length(n_rows),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let widths = [
        Constraint::Length(17),
        Constraint::Length(12),
        Constraint::Length(12),
    ];
    f.render_widget(Table::new(rows, widths).style(VALUE), table);
    f.render_widget(
        Paragraph::new(kv(
            "finished",
            format!(
                "{} requests · {}",
                s.total_requests(),
                bytes(s.totals.bytes as f64)
            ),
        )),
        total,
    );
    let data = bars(m, sparkline.width, |p| Some(p.bytes_per_second as u64));
    let peak = data.iter().flatten().max().copied().unwrap_or(0);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!("throughput per tick (max {}/s)", bytes(peak as f64)),
            LABEL,
        )),
        label,
    );
    f.render_widget(spark(data, Color::Blue), sparkline);
}

fn pct_cells(p: &Percentiles) -> [String; 3] {
    if p.count == 0 {
        return ["—".into(), "—".into(), "—".into()];
    }
    [secs(p.p50), secs(p.p95), secs(p.p99)]
}

fn draw_latency(f: &mut Frame, area: Rect, s: &Snapshot, m: &Model) {
    let b = block("Latency · whole run · dl = download · last row: segments, last 30 s");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let header = Row::new(vec![
        "kind", "TTFB p50", "p95", "p99", "dl p50", "p95", "p99",
    ])
    .style(LABEL);
    let mut rows = Vec::new();
    for k in RequestKind::ALL {
        let ks = s.kind(k);
        if ks.count == 0 {
            continue;
        }
        let mut cells = vec![k.as_str().to_string()];
        cells.extend(pct_cells(&ks.ttfb));
        cells.extend(pct_cells(&ks.download));
        rows.push(Row::new(cells));
        if ks.hold.count > 0 {
            // LL-HLS held requests: the intended hold, then the lateness past the due time.
            let mut cells = vec![format!("{} hold/late", k.as_str())];
            cells.extend(pct_cells(&ks.hold));
            cells.extend(pct_cells(&ks.lateness));
            rows.push(Row::new(cells));
        }
    }
    let mut recent = vec!["segment 30 s".to_string()];
    recent.extend(pct_cells(&s.recent_segment_ttfb));
    recent.extend(pct_cells(&s.recent_segment_download));
    rows.push(Row::new(recent).style(Style::new().fg(Color::Cyan)));
    let n_rows = rows.len() as u16 + 1;
    let [table, label, sparkline] = Layout::vertical([
        Constraint::Length(n_rows),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let widths = [
        Constraint::Length(13),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ];
    f.render_widget(Table::new(rows, widths).header(header).style(VALUE), table);
    let data = bars(m, sparkline.width, |p| {
        p.segment_ttfb.map(|v| (v[1] * 1e6).round() as u64)
    });
    let peak = data.iter().flatten().max().copied().unwrap_or(0);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "segment TTFB p95 per tick (max {})",
                secs(peak as f64 / 1e6)
            ),
            LABEL,
        )),
        label,
    );
    f.render_widget(spark(data, Color::Magenta), sparkline);
}

fn draw_playback(f: &mut Frame, area: Rect, s: &Snapshot) {
    let b = block("Playback");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let p50_p95 = |p: &Percentiles| {
        if p.count == 0 {
            "—".to_string()
        } else {
            format!("p50 {} · p95 {}", secs(p.p50), secs(p.p95))
        }
    };
    let t = &s.totals;
    let stall_style = if s.stalls() > 0 {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        VALUE
    };
    let lines = vec![
        kv("startup", p50_p95(&s.startup)),
        kv("live latency", p50_p95(&s.live_latency)),
        Line::from(vec![
            Span::styled(format!("{:<14}", "stalls"), LABEL),
            Span::styled(format!("{} begun", s.stalls()), stall_style),
            Span::styled(
                format!(
                    " · {} total · {} now",
                    seconds_or_zero(s.stall_seconds()),
                    s.stalled
                ),
                VALUE,
            ),
        ]),
        kv("stall length", p50_p95(&s.stall_durations)),
        kv("rebuffer", pct(s.rebuffer_ratio())),
        kv(
            "played",
            format!("{} of media", seconds_or_zero(t.played_seconds)),
        ),
        kv(
            "lost segments",
            format!(
                "{} expired · {} skipped",
                t.segments_expired, t.segments_skipped
            ),
        ),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_errors(f: &mut Frame, area: Rect, s: &Snapshot, m: &Model) {
    let b = block("Errors");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let w30 = s.window(30);
    let rate_style = |r: f64| {
        Style::new()
            .fg(health(r, m.error_threshold))
            .add_modifier(Modifier::BOLD)
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{:<14}", "error rate"), LABEL),
            Span::styled(pct(w30.error_rate), rate_style(w30.error_rate)),
            Span::styled(" last 30 s · ", LABEL),
            Span::styled(pct(s.error_rate()), rate_style(s.error_rate())),
            Span::styled(" run", LABEL),
        ]),
        kv(
            "failed",
            format!(
                "{} of {} requests · {:.1}/s",
                s.total_errors(),
                s.total_requests(),
                w30.errors_per_second
            ),
        ),
    ];
    let classes = s.errors_by_class();
    if classes.is_empty() {
        lines.push(kv("by class", "none".into()));
    } else {
        let text: Vec<String> = classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        lines.push(kv("by class", text.join(" · ")));
    }
    if !s.totals.by_status.is_empty() {
        let text: Vec<String> = s
            .totals
            .by_status
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        lines.push(kv("by status", text.join(" · ")));
    }
    if s.events_dropped > 0 {
        lines.push(Line::styled(
            format!(
                "stats pipeline dropped {} events ({}): figures undercount",
                s.events_dropped,
                pct(s.drop_rate())
            ),
            Style::new().fg(Color::Red),
        ));
    }
    if let Some(warning) = s.client_lag.as_ref().and_then(|l| l.live_warning()) {
        lines.push(Line::styled(warning, Style::new().fg(Color::Red)));
    }
    let n_lines = lines.len() as u16;
    let [text, label, sparkline] = Layout::vertical([
        Constraint::Length(n_lines),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(lines), text);
    let data = bars(m, sparkline.width, |p| {
        Some((p.error_rate * 10_000.0).round() as u64)
    });
    let peak = data.iter().flatten().max().copied().unwrap_or(0);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!("error rate per tick (max {})", pct(peak as f64 / 10_000.0)),
            LABEL,
        )),
        label,
    );
    let color = health(s.window(1).error_rate, m.error_threshold);
    f.render_widget(spark(data, color), sparkline);
}

fn draw_origin(f: &mut Frame, area: Rect, o: &OriginStats) {
    let b = block("Origin");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let opt = |v: Option<f64>, fmt: &dyn Fn(f64) -> String| v.map(fmt).unwrap_or("—".into());
    let rate = |v: f64| format!("{}/s", bytes(v));
    let net = |fig: &FigureStats| {
        format!(
            "{} (30 s p50 {}, max {})",
            opt(fig.last, &rate),
            opt(fig.window_p50, &rate),
            opt(fig.window_max, &rate)
        )
    };
    let cpu_style = match o.cpu_percent.last {
        Some(c) if c >= 90.0 => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(c) if c >= 70.0 => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        _ => VALUE,
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{:<14}", "CPU"), LABEL),
            Span::styled(opt(o.cpu_percent.last, &|c| format!("{c:.1}%")), cpu_style),
            Span::styled("   memory ", LABEL),
            Span::styled(
                format!(
                    "{} / {}",
                    opt(o.memory_used_bytes.last, &bytes),
                    opt(o.memory_total_bytes, &bytes)
                ),
                VALUE,
            ),
        ]),
        kv("net in", net(&o.net_rx_bytes_per_second)),
        kv("net out", net(&o.net_tx_bytes_per_second)),
        kv(
            "nginx",
            format!(
                "{} connections · {} req/s · scrape errors {}",
                opt(o.nginx_connections_active.last, &|c| format!("{c:.0}")),
                opt(o.nginx_requests_per_second.last, &|r| format!("{r:.1}")),
                o.scrape_errors
            ),
        ),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_logs(f: &mut Frame, area: Rect, m: &Model) {
    let mut title = String::from("Log");
    if let Some(file) = &m.log_file {
        title.push_str(&format!(" · tracing logs → {file}"));
    }
    if m.log_dropped > 0 {
        title.push_str(&format!(
            " · {} older lines dropped (use --log-file to keep all)",
            m.log_dropped
        ));
    }
    let b = block(&title);
    let inner = b.inner(area);
    let n = usize::from(inner.height);
    let skip = m.logs.len().saturating_sub(n);
    let lines: Vec<Line> = m
        .logs
        .iter()
        .skip(skip)
        .map(|l| {
            let style = if l.contains("ERROR") || l.contains("\"level\":\"ERROR\"") {
                Style::new().fg(Color::Red)
            } else if l.contains("WARN") {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new().fg(Color::Gray)
            };
            Line::styled(l.clone(), style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(b), area);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::stats::collector::Collector;
    use crate::stats::event::{ErrorClass, Event, PlaybackEvent, RequestDone};
    use crate::stats::gauges::LiveGauges;
    use crate::stats::hub::StatsHub;
    use crate::stats::viewer_state::Happening;

    fn request(kind: RequestKind, ms: u64, status: u16) -> Event {
        Event::Request(RequestDone {
            kind,
            status: Some(status),
            ttfb: Some(Duration::from_millis(ms)),
            total: Duration::from_millis(ms + 2),
            bytes: 50_000,
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

    fn screen(m: &Model) -> String {
        let mut t = Terminal::new(TestBackend::new(160, 50)).unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| draw(f, m)).unwrap_or_else(|e| panic!("{e}"));
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn draws_every_panel_from_the_snapshot() {
        let hub = StatsHub::start(1, 1000);
        let gauges = Arc::new(LiveGauges::default());
        let _viewers = [gauges.new_viewer(), gauges.new_viewer()];
        for v in &_viewers {
            v.apply(Happening::Tuned);
            v.apply(Happening::FirstMedia);
        }
        gauges.add_ramped();
        gauges.add_ramped();
        let sink = hub.sink(0);
        for _ in 0..9 {
            sink.send(request(RequestKind::Segment, 20, 200));
        }
        sink.send(request(RequestKind::Segment, 20, 503));
        sink.send(request(RequestKind::Playlist, 3, 200));
        sink.send(Event::Playback(PlaybackEvent::Started {
            startup: Duration::from_millis(150),
        }));
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let mut col = Collector::new(2, Some(Duration::from_secs(60)));
        let snap = col.tick(&hub, &gauges, Duration::from_secs(5), false);
        let mut m = Model {
            recent: vec![Point::of(&snap)],
            snapshot: Some(snap),
            info: Some(RunInfo {
                stream_url: "http://origin.test/master.m3u8".into(),
                engine: "native",
            }),
            ramp_rate: 5.0,
            error_threshold: 0.01,
            logs: vec!["a captured log line".into()],
            ..Model::default()
        };
        let s = screen(&m);
        for want in [
            "Viewers",
            "Requests",
            "Latency",
            "Playback",
            "Errors",
            "Log",
            "2 / 2 active (100%)",
            "2/2 started · done",
            "elapsed 00:00:05",
            "remaining 00:00:55",
            "engine native",
            "stream http://origin.test/master.m3u8",
            "finished      11 requests",
            "p50 150.0ms",
            "http_5xx 1",
            "503: 1",
            "9.09% run",
            "a captured log line",
        ] {
            assert!(s.contains(want), "{want:?} missing from:\n{s}");
        }
        assert!(
            !s.contains("Origin"),
            "no origin panel without origin figures"
        );
        assert!(!s.contains("metrics"), "no metrics URL unless served");

        let last = |v: f64| FigureStats {
            last: Some(v),
            ..FigureStats::default()
        };
        m.origin = Some(OriginStats {
            cpu_percent: last(45.5),
            memory_used_bytes: last(2e9),
            memory_total_bytes: Some(8e9),
            net_tx_bytes_per_second: last(1.5e6),
            nginx_connections_active: last(120.0),
            ..OriginStats::default()
        });
        m.metrics_url = Some("http://0.0.0.0:17091/metrics".into());
        m.quitting = true;
        let s = screen(&m);
        for want in [
            "Origin",
            "45.5%",
            "2.00 GB / 8.00 GB",
            "1.50 MB/s",
            "120 connections",
            "metrics http://0.0.0.0:17091/metrics",
            "■ stopping",
        ] {
            assert!(s.contains(want), "{want:?} missing from:\n{s}");
        }
    }

    /// Text from a hostile origin reaches the TUI through the stream URL and the log pane;
    /// no control character of it (ESC sequences, C1 CSI, BEL, CR) lands in a cell, so the
    /// terminal never receives them.
    #[test]
    fn terminal_escapes_in_strings_never_reach_the_screen() {
        let hostile = "x\x1b[2J\x1b]0;pwned\x07\u{9b}31m\rend";
        let m = Model {
            stream_hint: hostile.into(),
            info: Some(RunInfo {
                stream_url: hostile.into(),
                engine: "native",
            }),
            logs: vec![hostile.into(), format!("log {hostile}")],
            log_file: Some(hostile.into()),
            ..Model::default()
        };
        let s = screen(&m);
        assert!(
            !s.contains(|c: char| c.is_control() && c != '\n'),
            "a control character reached the screen:\n{s:?}"
        );
        assert!(
            s.contains("[2J"),
            "the rest of the text is still shown:\n{s}"
        );
    }

    #[test]
    fn waits_for_the_first_tick() {
        let m = Model {
            stream_hint: "built-in origin (starting)".into(),
            ..Model::default()
        };
        let s = screen(&m);
        assert!(s.contains("waiting for the first tick"));
        assert!(s.contains("built-in origin (starting)"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn audience_lines_say_the_sessions_and_the_top_streams() {
        use crate::stats::sessions::SessionCounts;
        use crate::stats::streams::GroupCounts;
        let group = |viewers: u64, bytes_: u64, errors: u64| {
            let mut g = GroupCounts {
                viewers,
                ..GroupCounts::default()
            };
            g.requests[RequestKind::Segment.index()] = viewers * 10;
            g.requests[RequestKind::Playlist.index()] = viewers;
            g.bytes[RequestKind::Segment.index()] = bytes_;
            g.errors[RequestKind::Segment.index()] = errors;
            g
        };
        let hub = StatsHub::start(1, 1000);
        let gauges = Arc::new(LiveGauges::default());
        let mut s = Collector::new(1, None).tick(&hub, &gauges, Duration::from_secs(1), false);
        assert!(
            audience_lines(&s, &[]).is_empty(),
            "a fixed crowd, one stream"
        );

        s.sessions = Some(SessionCounts {
            started: 40,
            ended: 28,
            censored: 0,
            refused: 2,
            open: 12,
            peak_open: 15,
        });
        assert_eq!(
            audience_lines(&s, &[]),
            ["sessions  12 open (peak 15) · 40 started · 28 ended · 2 refused"]
        );

        let long = format!("http://o/{}/ch4/master.m3u8", "x".repeat(60));
        let names: Vec<String> = [
            "http://o/ch1/master.m3u8",
            "http://o/ch2/master.m3u8",
            "http://o/ch3/master.m3u8",
            long.as_str(),
            "other",
        ]
        .map(String::from)
        .to_vec();
        s.stream_groups = Arc::from(vec![
            group(5, 1_000, 0),
            group(9, 2_000_000, 3),
            group(1, 10, 0),
            group(7, 5_000, 1),
            group(20, 40_000, 2),
        ]);
        let lines = audience_lines(&s, &names);
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(
            lines[1].starts_with("http://o/ch2/master.m3u8 "),
            "most viewers first: {lines:#?}"
        );
        assert!(
            lines[1].contains("9 viewers")
                && lines[1].contains("99 req")
                && lines[1].contains(&bytes(2e6))
                && lines[1].ends_with("3 failed"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with('…') && lines[2].contains("/ch4/master.m3u8"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with("http://o/ch1/"), "{}", lines[3]);
        // ch3 and `other` together: 21 viewers, 231 requests, 2 failed.
        assert!(lines[4].starts_with("the rest "), "{}", lines[4]);
        assert!(
            lines[4].contains("21 viewers")
                && lines[4].contains("231 req")
                && lines[4].ends_with("2 failed"),
            "{}",
            lines[4]
        );

        // The panel is drawn with them.
        let m = Model {
            snapshot: Some(s),
            stream_names: names,
            ..Model::default()
        };
        let screen = screen(&m);
        assert!(
            screen.contains("Audience") && screen.contains("12 open (peak 15)"),
            "{screen}"
        );
    }

    #[test]
    fn health_colours() {
        assert_eq!(health(0.0, 0.01), Color::Green);
        assert_eq!(health(0.005, 0.01), Color::Yellow);
        assert_eq!(health(0.02, 0.01), Color::Red);
    }
}

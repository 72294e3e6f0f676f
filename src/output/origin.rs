//! Human-readable renderings of [`OriginStats`]: the summary's "Origin host" section and a
//! one-line status for the progress line and the TUI. They format; they compute nothing.

use std::fmt::Write;

use crate::stats::origin::{FigureStats, OriginStats, SourceStats};
use crate::units::bytes;

/// Shown for an unknown figure.
const UNKNOWN: &str = "—";

fn num(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| UNKNOWN.to_string(), f)
}

fn percent(v: f64) -> String {
    format!("{v:.1}%")
}

fn rate(v: f64) -> String {
    bytes(v) + "/s"
}

fn per_second(v: f64) -> String {
    format!("{v:.1}/s")
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn row(out: &mut String, label: &str, f: &FigureStats, fmt: fn(f64) -> String, note: &str) {
    let line = format!(
        "  {label:<22} {:>11} {:>11} {:>11}  {note}",
        num(f.last, fmt),
        num(f.run_p50, fmt),
        num(f.run_max, fmt),
    );
    let _ = writeln!(out, "{}", line.trim_end());
}

fn source_line(out: &mut String, name: &str, s: &SourceStats) {
    let _ = write!(
        out,
        "  {name:<15}  {}  {} ok, {} failed",
        s.url, s.scrapes_ok, s.scrape_errors
    );
    if s.counter_resets > 0 {
        let _ = write!(out, ", {} counter resets", s.counter_resets);
    }
    let _ = writeln!(out);
    if let Some(e) = &s.last_error {
        let _ = writeln!(out, "  {:<15}  last error: {e}", "");
    }
    if !s.missing_families.is_empty() {
        let _ = writeln!(
            out,
            "  {:<15}  not served (figure unknown): {}",
            "",
            s.missing_families.join(", ")
        );
    }
}

/// The summary section (without the leading rule): last value and run-long p50/max of
/// every figure, and each exporter's scrape counts and last error.
pub fn summary_section(o: &OriginStats) -> String {
    let mut out = String::new();
    let heading = format!("Origin host, every {}s", o.interval_seconds);
    let _ = writeln!(
        out,
        "  {heading:<22} {:>11} {:>11} {:>11}",
        "last", "run p50", "run max"
    );
    if o.node.is_some() {
        let cpus = o.cpu_count.map(|n| format!("{n} CPUs")).unwrap_or_default();
        row(&mut out, "CPU busy", &o.cpu_percent, percent, &cpus);
        let total = o
            .memory_total_bytes
            .map(|t| format!("of {}", bytes(t)))
            .unwrap_or_default();
        row(&mut out, "Memory used", &o.memory_used_bytes, bytes, &total);
        let ifaces = if o.interfaces.is_empty() {
            "no interface selected".to_string()
        } else {
            o.interfaces.join(",")
        };
        row(
            &mut out,
            "Net in (rx)",
            &o.net_rx_bytes_per_second,
            rate,
            &ifaces,
        );
        row(
            &mut out,
            "Net out (tx)",
            &o.net_tx_bytes_per_second,
            rate,
            "",
        );
    }
    if o.nginx.is_some() {
        row(
            &mut out,
            "nginx connections",
            &o.nginx_connections_active,
            count,
            "",
        );
        row(
            &mut out,
            "nginx requests",
            &o.nginx_requests_per_second,
            per_second,
            "",
        );
    }
    if let Some(s) = &o.node {
        source_line(&mut out, "node_exporter", s);
    }
    if let Some(s) = &o.nginx {
        source_line(&mut out, "nginx exporter", s);
    }
    out
}

/// One line for the progress output and the TUI: latest values, window max, errors.
pub fn status_line(o: &OriginStats) -> String {
    let mut parts = Vec::new();
    if o.node.is_some() {
        parts.push(format!(
            "origin cpu {} (max {})",
            num(o.cpu_percent.last, percent),
            num(o.cpu_percent.window_max, percent)
        ));
        let total = o
            .memory_total_bytes
            .map(|t| format!("/{}", bytes(t)))
            .unwrap_or_default();
        parts.push(format!(
            "mem {}{total}",
            num(o.memory_used_bytes.last, bytes)
        ));
        parts.push(format!(
            "net in {} out {}",
            num(o.net_rx_bytes_per_second.last, rate),
            num(o.net_tx_bytes_per_second.last, rate)
        ));
    }
    if o.nginx.is_some() {
        parts.push(format!(
            "nginx {} conns {}",
            num(o.nginx_connections_active.last, count),
            num(o.nginx_requests_per_second.last, |v| format!(
                "{v:.1} req/s"
            ))
        ));
    }
    let mut line = parts.join(" | ");
    if o.scrape_errors > 0 {
        let _ = write!(line, " | scrape errors {}", o.scrape_errors);
        if let Some(e) = &o.last_error {
            let short: String = e.chars().take(80).collect();
            let _ = write!(line, " (last: {short})");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(last: Option<f64>, p50: f64, max: f64) -> FigureStats {
        FigureStats {
            last,
            window_p50: Some(p50),
            window_max: Some(max),
            run_p50: Some(p50),
            run_max: Some(max),
            samples: 3,
        }
    }

    fn stats() -> OriginStats {
        OriginStats {
            interval_seconds: 2.0,
            window_seconds: 30.0,
            node: Some(SourceStats {
                url: "http://o:9100/metrics".into(),
                up: true,
                scrapes_ok: 9,
                ..Default::default()
            }),
            nginx: Some(SourceStats {
                url: "http://o:9113/metrics".into(),
                scrapes_ok: 8,
                scrape_errors: 1,
                last_error: Some("timed out after 2s".into()),
                missing_families: vec!["nginx_http_requests_total".into()],
                ..Default::default()
            }),
            cpu_percent: fig(Some(34.25), 30.0, 71.5),
            cpu_count: Some(4),
            memory_used_bytes: fig(Some(2.1e9), 2.0e9, 2.2e9),
            memory_total_bytes: Some(8e9),
            net_rx_bytes_per_second: fig(Some(1.23e6), 1e6, 2e6),
            net_tx_bytes_per_second: fig(None, 4e7, 5e7),
            interfaces: vec!["eth0".into()],
            nginx_connections_active: fig(Some(120.0), 100.0, 130.0),
            nginx_requests_per_second: FigureStats::default(),
            scrapes_ok: 17,
            scrape_errors: 1,
            last_error: Some("nginx exporter: timed out after 2s".into()),
        }
    }

    #[test]
    fn summary_shows_every_figure_and_the_errors() {
        let s = summary_section(&stats());
        for want in [
            "CPU busy",
            "34.2%",
            "71.5%",
            "4 CPUs",
            "2.10 GB",
            "of 8.00 GB",
            "1.23 MB/s",
            "eth0",
            "50.00 MB/s",
            "nginx connections",
            "130",
            "nginx requests",
            "9 ok, 0 failed",
            "8 ok, 1 failed",
            "last error: timed out after 2s",
            "not served (figure unknown): nginx_http_requests_total",
        ] {
            assert!(s.contains(want), "{want:?} missing in\n{s}");
        }
        // Unknown figures show a dash, never 0.
        assert!(
            s.lines()
                .any(|l| l.starts_with("  Net out (tx)") && l.contains(UNKNOWN))
        );
    }

    #[test]
    fn status_line_is_one_line_with_errors() {
        let l = status_line(&stats());
        assert!(!l.contains('\n'));
        assert!(l.contains("origin cpu 34.2% (max 71.5%)"), "{l}");
        assert!(l.contains("nginx 120 conns — "), "{l}");
        assert!(
            l.contains("scrape errors 1 (last: nginx exporter: timed out after 2s)"),
            "{l}"
        );
        let only_nginx = OriginStats {
            node: None,
            ..stats()
        };
        assert!(!status_line(&only_nginx).contains("cpu"));
        assert!(!summary_section(&only_nginx).contains("CPU busy"));
    }
}

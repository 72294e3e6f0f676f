//! The origin figures as Prometheus metrics (`hls_swarm_origin_*`), for the swarm's
//! `/metrics` endpoint. Unknown figures are left out, never exported as 0.

use super::text::{Exposition, Kind};
use crate::stats::origin::{OriginStats, Source, SourceStats};

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic total.
    Counter,
}

impl MetricType {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
        }
    }
}

/// One metric family with its samples (label pairs, value).
#[derive(Debug, Clone, PartialEq)]
pub struct OriginMetric {
    /// Metric name, `hls_swarm_origin_…`.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// `# TYPE`.
    pub kind: MetricType,
    /// Samples: labels and value.
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Latest CPU busy share of the origin host, 0–100.
pub const CPU_PERCENT: &str = "hls_swarm_origin_cpu_percent";
/// Origin memory in use.
pub const MEMORY_USED: &str = "hls_swarm_origin_memory_used_bytes";
/// Origin memory installed.
pub const MEMORY_TOTAL: &str = "hls_swarm_origin_memory_total_bytes";
/// Origin receive rate.
pub const NET_RX: &str = "hls_swarm_origin_network_receive_bytes_per_second";
/// Origin transmit rate.
pub const NET_TX: &str = "hls_swarm_origin_network_transmit_bytes_per_second";
/// nginx active connections.
pub const NGINX_CONNECTIONS: &str = "hls_swarm_origin_nginx_connections_active";
/// nginx request rate.
pub const NGINX_RPS: &str = "hls_swarm_origin_nginx_requests_per_second";
/// Failed scrapes per exporter.
pub const SCRAPE_ERRORS: &str = "hls_swarm_origin_scrape_errors_total";
/// Scrapes attempted per exporter.
pub const SCRAPES: &str = "hls_swarm_origin_scrapes_total";
/// Whether the latest scrape of each exporter succeeded.
pub const UP: &str = "hls_swarm_origin_up";

/// The families for `o`; figures that are unknown right now are omitted.
pub fn origin_metric_families(o: &OriginStats) -> Vec<OriginMetric> {
    let gauge = |name, help, v: Option<f64>| OriginMetric {
        name,
        help,
        kind: MetricType::Gauge,
        samples: v.into_iter().map(|v| (Vec::new(), v)).collect(),
    };
    let sources: Vec<(Source, &SourceStats)> = [(Source::Node, &o.node), (Source::Nginx, &o.nginx)]
        .into_iter()
        .filter_map(|(s, st)| Some((s, st.as_ref()?)))
        .collect();
    let per_source = |name, help, kind, f: fn(&SourceStats) -> f64| OriginMetric {
        name,
        help,
        kind,
        samples: sources
            .iter()
            .map(|(s, st)| (vec![("source", s.label().to_string())], f(st)))
            .collect(),
    };
    let all = vec![
        gauge(
            CPU_PERCENT,
            "Origin host CPU busy share between the last two node_exporter scrapes, 0-100 (100 = all cores busy).",
            o.cpu_percent.last,
        ),
        gauge(
            MEMORY_USED,
            "Origin host memory in use (MemTotal - MemAvailable), bytes.",
            o.memory_used_bytes.last,
        ),
        gauge(
            MEMORY_TOTAL,
            "Origin host memory installed (MemTotal), bytes.",
            o.memory_total_bytes
                .filter(|_| o.memory_used_bytes.last.is_some()),
        ),
        gauge(
            NET_RX,
            "Origin host bytes received per second over the selected interfaces.",
            o.net_rx_bytes_per_second.last,
        ),
        gauge(
            NET_TX,
            "Origin host bytes transmitted per second over the selected interfaces.",
            o.net_tx_bytes_per_second.last,
        ),
        gauge(
            NGINX_CONNECTIONS,
            "nginx active client connections (stub_status Active connections).",
            o.nginx_connections_active.last,
        ),
        gauge(
            NGINX_RPS,
            "nginx requests per second between the last two nginx exporter scrapes.",
            o.nginx_requests_per_second.last,
        ),
        per_source(
            SCRAPES,
            "Origin metrics scrapes attempted, by exporter.",
            MetricType::Counter,
            |s| (s.scrapes_ok + s.scrape_errors) as f64,
        ),
        per_source(
            SCRAPE_ERRORS,
            "Origin metrics scrapes that failed, by exporter.",
            MetricType::Counter,
            |s| s.scrape_errors as f64,
        ),
        per_source(
            UP,
            "1 if the latest scrape of the exporter succeeded, else 0.",
            MetricType::Gauge,
            |s| if s.up { 1.0 } else { 0.0 },
        ),
    ];
    all.into_iter().filter(|m| !m.samples.is_empty()).collect()
}

/// Write the families for `o` into a Prometheus exposition (the `/metrics` renderer).
pub fn write_families(e: &mut Exposition, o: &OriginStats) {
    for m in origin_metric_families(o) {
        let kind = match m.kind {
            MetricType::Gauge => Kind::Gauge,
            MetricType::Counter => Kind::Counter,
        };
        e.family(m.name, kind, m.help);
        for (labels, v) in &m.samples {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            e.sample(m.name, &labels, *v);
        }
    }
}

/// The families for `o` alone, in the Prometheus text format.
pub fn write_prometheus(o: &OriginStats, out: &mut String) {
    let mut e = Exposition::new();
    write_families(&mut e, o);
    out.push_str(&e.finish());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse as prom;
    use crate::stats::origin::FigureStats;

    fn fig(v: f64) -> FigureStats {
        FigureStats {
            last: Some(v),
            ..Default::default()
        }
    }

    fn stats() -> OriginStats {
        OriginStats {
            cpu_percent: fig(42.5),
            memory_used_bytes: fig(2e9),
            memory_total_bytes: Some(8e9),
            net_rx_bytes_per_second: fig(1000.0),
            net_tx_bytes_per_second: fig(250_000.0),
            nginx_connections_active: fig(17.0),
            nginx_requests_per_second: fig(33.5),
            node: Some(SourceStats {
                url: "http://o:9100/metrics".into(),
                up: true,
                scrapes_ok: 10,
                scrape_errors: 2,
                ..Default::default()
            }),
            nginx: Some(SourceStats {
                url: "http://o:9113/metrics".into(),
                up: false,
                scrapes_ok: 5,
                scrape_errors: 7,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn every_figure_is_exported_and_parses_back() {
        let mut text = String::new();
        write_prometheus(&stats(), &mut text);
        let f = prom::parse(&text, |_| true).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(f.scalar(CPU_PERCENT), Some(42.5));
        assert_eq!(f.scalar(MEMORY_USED), Some(2e9));
        assert_eq!(f.scalar(MEMORY_TOTAL), Some(8e9));
        assert_eq!(f.scalar(NET_RX), Some(1000.0));
        assert_eq!(f.scalar(NET_TX), Some(250_000.0));
        assert_eq!(f.scalar(NGINX_CONNECTIONS), Some(17.0));
        assert_eq!(f.scalar(NGINX_RPS), Some(33.5));
        let by_source = |name: &str, src: &str| {
            f.get(name)
                .unwrap_or_default()
                .iter()
                .find(|s| s.label("source") == Some(src))
                .map(|s| s.value)
        };
        assert_eq!(by_source(SCRAPES, "node"), Some(12.0));
        assert_eq!(by_source(SCRAPE_ERRORS, "node"), Some(2.0));
        assert_eq!(by_source(SCRAPES, "nginx"), Some(12.0));
        assert_eq!(by_source(SCRAPE_ERRORS, "nginx"), Some(7.0));
        assert_eq!(by_source(UP, "node"), Some(1.0));
        assert_eq!(by_source(UP, "nginx"), Some(0.0));
        assert!(text.contains("# TYPE hls_swarm_origin_scrapes_total counter"));
        assert!(text.contains("# TYPE hls_swarm_origin_cpu_percent gauge"));
    }

    #[test]
    fn unknown_figures_and_unconfigured_sources_are_left_out() {
        let o = OriginStats {
            nginx: Some(SourceStats::default()),
            ..Default::default()
        };
        let names: Vec<&str> = origin_metric_families(&o).iter().map(|m| m.name).collect();
        assert_eq!(names, vec![SCRAPES, SCRAPE_ERRORS, UP]);
        let fams = origin_metric_families(&o);
        assert!(fams.iter().all(
            |m| m.samples.len() == 1 && m.samples[0].0 == vec![("source", "nginx".to_string())]
        ));
    }
}

//! [`OriginStats`]: what every sink shows of the origin host, built once per tick by the
//! origin-metrics scraper ([`crate::origin_metrics`]) into `Snapshot::origin`. The types
//! live in Stats because the Snapshot carries them; the scraper fills them in.

use serde::Serialize;

/// What sinks see of one figure. `None` means "not known" (never a fake zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FigureStats {
    /// Value from the latest scrape of its source; `None` if that scrape failed, or the
    /// figure could not be computed from it (first sample of a rate, counter reset,
    /// family missing).
    pub last: Option<f64>,
    /// Median of the values within the trailing window (nearest rank).
    pub window_p50: Option<f64>,
    /// Largest value within the trailing window.
    pub window_max: Option<f64>,
    /// Median over the whole run (3 significant figures).
    pub run_p50: Option<f64>,
    /// Largest value over the whole run.
    pub run_max: Option<f64>,
    /// Values recorded over the whole run.
    pub samples: u64,
}

/// Which exporter a scrape came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// node_exporter.
    Node,
    /// nginx-prometheus-exporter.
    Nginx,
}

impl Source {
    /// Name used in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Source::Node => "node_exporter",
            Source::Nginx => "nginx exporter",
        }
    }

    /// Value of the `source` label in exported metrics.
    pub fn label(self) -> &'static str {
        match self {
            Source::Node => "node",
            Source::Nginx => "nginx",
        }
    }
}

/// One scraped exporter.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceStats {
    /// The scrape URL (no credentials, no query).
    pub url: String,
    /// The latest scrape succeeded.
    pub up: bool,
    /// Successful scrapes.
    pub scrapes_ok: u64,
    /// Failed scrapes (connection, HTTP status, timeout, unparsable body, no usable
    /// metrics, nginx exporter reporting `nginx_up 0`).
    pub scrape_errors: u64,
    /// Scrapes where a counter went backwards (exporter or host restarted); those
    /// intervals give no rate.
    pub counter_resets: u64,
    /// The latest failure, if any scrape failed.
    pub last_error: Option<String>,
    /// Run time (seconds) of the latest successful scrape.
    pub last_success_at_seconds: Option<f64>,
    /// Families this exporter did not serve in its latest successful scrape (their
    /// figures are unknown), e.g. `node_cpu_seconds_total` with the cpu collector off.
    pub missing_families: Vec<String>,
}

/// The origin host's figures: node_exporter (CPU, memory, network) and the nginx
/// exporter (connections, requests). Every figure is `None`/absent when unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OriginStats {
    /// Scrape interval, seconds.
    pub interval_seconds: f64,
    /// Trailing window of the `window_*` figures, seconds.
    pub window_seconds: f64,
    /// node_exporter, when configured.
    pub node: Option<SourceStats>,
    /// nginx exporter, when configured.
    pub nginx: Option<SourceStats>,
    /// CPU busy share of the whole host between two scrapes, 0–100 (100 = every core
    /// busy); from `node_cpu_seconds_total` deltas, `idle` and `iowait` counting as idle.
    pub cpu_percent: FigureStats,
    /// CPUs seen in `node_cpu_seconds_total`.
    pub cpu_count: Option<u64>,
    /// `MemTotal − MemAvailable`, bytes.
    pub memory_used_bytes: FigureStats,
    /// `MemTotal`, bytes.
    pub memory_total_bytes: Option<f64>,
    /// Bytes received per second over the selected interfaces (into the origin).
    pub net_rx_bytes_per_second: FigureStats,
    /// Bytes transmitted per second over the selected interfaces (out of the origin).
    pub net_tx_bytes_per_second: FigureStats,
    /// Interfaces summed at the latest node scrape.
    pub interfaces: Vec<String>,
    /// nginx `connections_active` (reading + writing + waiting).
    pub nginx_connections_active: FigureStats,
    /// Requests per second from `nginx_http_requests_total` deltas.
    pub nginx_requests_per_second: FigureStats,
    /// Successful scrapes, both exporters.
    pub scrapes_ok: u64,
    /// Failed scrapes, both exporters.
    pub scrape_errors: u64,
    /// The most recent failure of either exporter, prefixed with its name.
    pub last_error: Option<String>,
}

//! [`OriginStats`]: what every sink shows of the origin host, built once per tick.

use serde::Serialize;

pub use super::window::FigureStats;

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

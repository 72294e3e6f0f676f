//! What the sinks show about the origin host (node_exporter and nginx exporter figures),
//! as one small view struct so the TUI panel, the series and the HTML report do not depend
//! on how the scraper stores them.
//!
//! [`of`] is the single place that maps a [`Snapshot`] to the view. Without origin metrics
//! configured there is nothing to show and every sink hides its origin panel or chart.

use crate::stats::snapshot::Snapshot;

/// Origin host figures as shown by the sinks. Every figure is optional: an exporter may be
/// missing or a scrape may have failed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OriginView {
    /// CPU busy, percent of all cores.
    pub cpu_percent: Option<f64>,
    /// Memory in use, bytes.
    pub memory_used_bytes: Option<f64>,
    /// Memory installed, bytes.
    pub memory_total_bytes: Option<f64>,
    /// Network receive now, bytes per second.
    pub net_rx_bps: Option<f64>,
    /// Network transmit now, bytes per second.
    pub net_tx_bps: Option<f64>,
    /// Network receive, median over the trailing `-origin-metrics-window`.
    pub net_rx_p50: Option<f64>,
    /// Network receive, largest over the trailing `-origin-metrics-window`.
    pub net_rx_max: Option<f64>,
    /// Network transmit, median over the trailing `-origin-metrics-window`.
    pub net_tx_p50: Option<f64>,
    /// Network transmit, largest over the trailing `-origin-metrics-window`.
    pub net_tx_max: Option<f64>,
    /// nginx active connections.
    pub nginx_connections: Option<f64>,
    /// nginx requests per second.
    pub nginx_rps: Option<f64>,
    /// Failed scrapes so far.
    pub scrape_errors: u64,
}

/// The origin figures of a snapshot; `None` when origin metrics are not configured.
pub fn of(snapshot: &Snapshot) -> Option<OriginView> {
    let o = snapshot.origin.as_ref()?;
    Some(OriginView {
        cpu_percent: o.cpu_percent.last,
        memory_used_bytes: o.memory_used_bytes.last,
        memory_total_bytes: o.memory_total_bytes,
        net_rx_bps: o.net_rx_bytes_per_second.last,
        net_tx_bps: o.net_tx_bytes_per_second.last,
        net_rx_p50: o.net_rx_bytes_per_second.window_p50,
        net_rx_max: o.net_rx_bytes_per_second.window_max,
        net_tx_p50: o.net_tx_bytes_per_second.window_p50,
        net_tx_max: o.net_tx_bytes_per_second.window_max,
        nginx_connections: o.nginx_connections_active.last,
        nginx_rps: o.nginx_requests_per_second.last,
        scrape_errors: o.scrape_errors,
    })
}

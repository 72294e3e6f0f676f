//! The `-origin-metrics*` / `-nginx-metrics` flags, flattened into the `run` flags
//! (boxed there, so the run command stays small). Values are strings, validated with
//! every other flag in [`crate::config`] through [`super::config::from_args`].

use clap::Args;

/// Origin host metrics flags.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Origin metrics")]
pub struct OriginMetricsArgs {
    /// Origin node_exporter metrics URL (e.g. http://origin:9100/metrics): origin CPU,
    /// memory and network in the TUI, summary, JSON and /metrics.
    #[arg(long, value_name = "URL")]
    pub origin_metrics: Option<String>,

    /// Origin nginx exporter metrics URL (e.g. http://origin:9113/metrics): nginx active
    /// connections and request rate.
    #[arg(long, value_name = "URL")]
    pub nginx_metrics: Option<String>,

    /// Origin host: scrape http://HOST:<node port>/metrics and http://HOST:<nginx
    /// port>/metrics (an explicit -origin-metrics / -nginx-metrics URL wins).
    #[arg(long, value_name = "HOST")]
    pub origin_metrics_host: Option<String>,

    /// node_exporter port used with -origin-metrics-host [default: 9100].
    #[arg(long, value_name = "PORT")]
    pub origin_metrics_node_port: Option<String>,

    /// nginx exporter port used with -origin-metrics-host [default: 9113].
    #[arg(long, value_name = "PORT")]
    pub origin_metrics_nginx_port: Option<String>,

    /// Time between origin metrics scrapes, 250ms..=60s [default: 2s].
    #[arg(long, value_name = "DURATION")]
    pub origin_metrics_interval: Option<String>,

    /// Trailing window of the origin p50/max figures, 10s..=300s and at least twice the
    /// interval [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub origin_metrics_window: Option<String>,

    /// Interfaces summed for origin network rates, comma-separated, trailing * = prefix
    /// (e.g. eth0,ens*) [default: all but lo and virtual devices].
    #[arg(long, value_name = "LIST")]
    pub origin_metrics_interfaces: Option<String>,
}

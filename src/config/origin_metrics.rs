//! Origin host metrics to scrape: the `-origin-metrics*` / `-nginx-metrics` flags.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::cli::OriginMetricsArgs;
use super::parse::{duration_in, port, redact_url};
use super::problems::Problems;

/// Default node_exporter port for `-origin-metrics-host`.
pub const DEFAULT_NODE_PORT: u16 = 9100;
/// Default nginx exporter port for `-origin-metrics-host`.
pub const DEFAULT_NGINX_PORT: u16 = 9113;
/// Default `-origin-metrics-interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// Default `-origin-metrics-window`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
/// Allowed `-origin-metrics-interval`.
pub const INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_secs(60));
/// Allowed `-origin-metrics-window`.
pub const WINDOW_RANGE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(300));

/// Validated origin-metrics settings; present only when an exporter is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginMetricsConfig {
    /// node_exporter `/metrics` URL.
    pub node_url: Option<Url>,
    /// nginx exporter `/metrics` URL.
    pub nginx_url: Option<Url>,
    /// Time between scrapes of each exporter.
    pub interval: Duration,
    /// Trailing window of the p50/max figures.
    pub window: Duration,
    /// Per-scrape timeout: the interval, within 1–5 s.
    pub timeout: Duration,
    /// Interfaces summed for the network rates.
    pub interfaces: InterfaceFilter,
}

impl OriginMetricsConfig {
    /// Settings for the given URLs with every other value at its default.
    pub fn new(node_url: Option<Url>, nginx_url: Option<Url>) -> Self {
        OriginMetricsConfig {
            node_url,
            nginx_url,
            interval: DEFAULT_INTERVAL,
            window: DEFAULT_WINDOW,
            timeout: timeout_for(DEFAULT_INTERVAL),
            interfaces: InterfaceFilter::default(),
        }
    }
}

/// An interface selection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InterfaceFilter {
    /// Everything except `lo` and the virtual kinds
    /// (`crate::origin_metrics::interfaces::VIRTUAL_PREFIXES`).
    #[default]
    Physical,
    /// Exactly these names (an entry ending in `*` matches by prefix).
    Only(Vec<String>),
}

impl InterfaceFilter {
    /// Parse `-origin-metrics-interfaces`: comma-separated names, `*` suffix = prefix.
    pub fn parse(list: &str) -> Result<Self, String> {
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(format!(
                "-origin-metrics-interfaces: '{list}' names no interface (e.g. -origin-metrics-interfaces eth0,ens3)"
            ));
        }
        for n in &names {
            let stem = n.strip_suffix('*').unwrap_or(n);
            if stem.contains('*')
                || n.len() > 64
                || n.chars().any(|c| c.is_whitespace() || c == '/' || c == '"')
            {
                return Err(format!(
                    "-origin-metrics-interfaces: '{n}' is not an interface name (a trailing * matches a prefix: eth*)"
                ));
            }
        }
        Ok(InterfaceFilter::Only(names))
    }
}

impl fmt::Display for InterfaceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterfaceFilter::Physical => f.write_str("all but loopback and virtual"),
            InterfaceFilter::Only(n) => f.write_str(&n.join(",")),
        }
    }
}

/// The scrape timeout for an interval.
pub fn timeout_for(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(1), Duration::from_secs(5))
}

fn parse_url(flag: &str, s: &str) -> Result<Url, String> {
    let u = Url::parse(s.trim()).map_err(|e| {
        format!("{flag}: '{s}' is not a valid URL: {e} (e.g. {flag} http://origin:9100/metrics)")
    })?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "{flag}: '{}' must be http:// or https://",
            redact_url(&u)
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{flag}: '{}' has no host", redact_url(&u)));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "{flag}: credentials in the URL are not supported ('{}')",
            redact_url(&u)
        ));
    }
    Ok(u)
}

fn parse_host_url(host: &str, port: u16) -> Result<Url, String> {
    let h = host.trim();
    if h.is_empty() || h.contains('/') || h.contains('@') || h.contains('?') {
        return Err(format!(
            "-origin-metrics-host: '{host}' is not a host name or IP (give a bare host like 10.177.0.10; for a full URL use -origin-metrics / -nginx-metrics)"
        ));
    }
    let bracketed = if h.starts_with('[') {
        h.to_string()
    } else if h.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{h}]")
    } else if h.contains(':') {
        return Err(format!(
            "-origin-metrics-host: '{host}' must not carry a port; use -origin-metrics-node-port / -origin-metrics-nginx-port"
        ));
    } else {
        h.to_string()
    };
    let u = Url::parse(&format!("http://{bracketed}:{port}/metrics")).map_err(|_| {
        format!("-origin-metrics-host: '{host}' is not a host name or IP (e.g. -origin-metrics-host 10.177.0.10)")
    })?;
    Ok(u)
}

/// Validate the origin-metrics flags of `a`, noting one message per problem in `p`.
/// `None` when no exporter is configured (or when there were problems).
pub fn from_args(a: &OriginMetricsArgs, p: &mut Problems) -> Option<OriginMetricsConfig> {
    let before = p.len();
    let mut push = |r: Result<(), String>| {
        let _ = p.ok(r);
    };
    let mut node_url = None;
    let mut nginx_url = None;
    if let Some(s) = &a.origin_metrics {
        push(parse_url("-origin-metrics", s).map(|u| node_url = Some(u)));
    }
    if let Some(s) = &a.nginx_metrics {
        push(parse_url("-nginx-metrics", s).map(|u| nginx_url = Some(u)));
    }
    let mut node_port = DEFAULT_NODE_PORT;
    let mut nginx_port = DEFAULT_NGINX_PORT;
    if let Some(s) = &a.origin_metrics_node_port {
        push(port("-origin-metrics-node-port", s).map(|p| node_port = p));
    }
    if let Some(s) = &a.origin_metrics_nginx_port {
        push(port("-origin-metrics-nginx-port", s).map(|p| nginx_port = p));
    }
    match &a.origin_metrics_host {
        Some(host) => {
            if a.origin_metrics.is_some() && a.nginx_metrics.is_some() {
                push(Err("-origin-metrics-host has no effect when both -origin-metrics and -nginx-metrics are given; drop one of them".into()));
            }
            // A bad host is one problem, reported once for both derived URLs.
            match (
                parse_host_url(host, node_port),
                parse_host_url(host, nginx_port),
            ) {
                (Err(e), _) | (_, Err(e)) => push(Err(e)),
                (Ok(node), Ok(nginx)) => {
                    if a.origin_metrics.is_none() {
                        node_url = Some(node);
                    }
                    if a.nginx_metrics.is_none() {
                        nginx_url = Some(nginx);
                    }
                }
            }
            if a.origin_metrics.is_some() && a.origin_metrics_node_port.is_some() {
                push(Err(
                    "-origin-metrics-node-port has no effect with an explicit -origin-metrics URL"
                        .into(),
                ));
            }
            if a.nginx_metrics.is_some() && a.origin_metrics_nginx_port.is_some() {
                push(Err(
                    "-origin-metrics-nginx-port has no effect with an explicit -nginx-metrics URL"
                        .into(),
                ));
            }
        }
        None => {
            for (flag, given) in [
                ("-origin-metrics-node-port", &a.origin_metrics_node_port),
                ("-origin-metrics-nginx-port", &a.origin_metrics_nginx_port),
            ] {
                if given.is_some() {
                    push(Err(format!("{flag} needs -origin-metrics-host")));
                }
            }
        }
    }
    let enabled =
        a.origin_metrics.is_some() || a.nginx_metrics.is_some() || a.origin_metrics_host.is_some();
    if !enabled {
        for (flag, given) in [
            ("-origin-metrics-interval", &a.origin_metrics_interval),
            ("-origin-metrics-window", &a.origin_metrics_window),
            ("-origin-metrics-interfaces", &a.origin_metrics_interfaces),
        ] {
            if given.is_some() {
                push(Err(format!(
                    "{flag} has no effect without -origin-metrics, -nginx-metrics or -origin-metrics-host"
                )));
            }
        }
        return None;
    }

    let mut interval = DEFAULT_INTERVAL;
    let mut window = DEFAULT_WINDOW;
    let mut interval_ok = true;
    let mut window_ok = true;
    if let Some(s) = &a.origin_metrics_interval {
        match duration_in("-origin-metrics-interval", s, INTERVAL_RANGE, "2s") {
            Ok(d) => interval = d,
            Err(e) => {
                interval_ok = false;
                push(Err(e));
            }
        }
    }
    if let Some(s) = &a.origin_metrics_window {
        match duration_in("-origin-metrics-window", s, WINDOW_RANGE, "2s") {
            Ok(d) => window = d,
            Err(e) => {
                window_ok = false;
                push(Err(e));
            }
        }
    }
    if interval_ok && window_ok && window < interval * 2 {
        push(Err(format!(
            "-origin-metrics-window: {} must be at least twice -origin-metrics-interval ({})",
            humantime::format_duration(window),
            humantime::format_duration(interval)
        )));
    }
    let mut interfaces = InterfaceFilter::default();
    if let Some(s) = &a.origin_metrics_interfaces {
        if a.origin_metrics.is_none() && a.origin_metrics_host.is_none() {
            push(Err(
                "-origin-metrics-interfaces needs a node_exporter (-origin-metrics URL or -origin-metrics-host)".into(),
            ));
        }
        push(InterfaceFilter::parse(s).map(|f| interfaces = f));
    }
    if p.len() > before {
        return None;
    }
    Some(OriginMetricsConfig {
        node_url,
        nginx_url,
        interval,
        window,
        timeout: timeout_for(interval),
        interfaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::parse_from;

    fn om(args: &[&str]) -> (Option<OriginMetricsConfig>, Vec<String>) {
        let mut v = vec!["hls-swarm"];
        v.extend_from_slice(args);
        let cli = parse_from(v).unwrap_or_else(|e| panic!("{e}"));
        let mut p = Problems::new();
        let c = from_args(&cli.run.origin_metrics_args, &mut p);
        (c, p.finish(()).err().map(|e| e.0).unwrap_or_default())
    }

    fn ok(args: &[&str]) -> OriginMetricsConfig {
        let (c, errs) = om(args);
        assert!(errs.is_empty(), "{errs:?}");
        c.unwrap_or_else(|| panic!("configured"))
    }

    #[test]
    fn off_by_default() {
        let (c, errs) = om(&[]);
        assert!(c.is_none() && errs.is_empty());
    }

    #[test]
    fn host_derives_both_urls_and_explicit_urls_win() {
        let c = ok(&["-origin-metrics-host", "10.177.0.10"]);
        assert_eq!(
            c.node_url.map(String::from).as_deref(),
            Some("http://10.177.0.10:9100/metrics")
        );
        assert_eq!(
            c.nginx_url.map(String::from).as_deref(),
            Some("http://10.177.0.10:9113/metrics")
        );
        assert_eq!((c.interval, c.window), (DEFAULT_INTERVAL, DEFAULT_WINDOW));
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.interfaces, InterfaceFilter::Physical);

        let c = ok(&[
            "-origin-metrics-host",
            "::1",
            "-origin-metrics-nginx-port",
            "19113",
            "-origin-metrics",
            "https://n.example/node",
        ]);
        assert_eq!(
            c.node_url.map(String::from).as_deref(),
            Some("https://n.example/node")
        );
        assert_eq!(
            c.nginx_url.map(String::from).as_deref(),
            Some("http://[::1]:19113/metrics")
        );

        let c = ok(&["-nginx-metrics", "http://127.0.0.1:9113/metrics"]);
        assert!(c.node_url.is_none());
    }

    #[test]
    fn interval_window_interfaces() {
        let c = ok(&[
            "-origin-metrics",
            "http://h:9100/metrics",
            "-origin-metrics-interval",
            "500ms",
            "-origin-metrics-window",
            "10s",
            "-origin-metrics-interfaces",
            "eth0,ens*",
        ]);
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.window, Duration::from_secs(10));
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert!(c.interfaces.selects("ens3") && !c.interfaces.selects("eth1"));
    }

    #[test]
    fn every_problem_is_reported() {
        let (c, errs) = om(&[
            "-origin-metrics",
            "ftp://h/metrics",
            "-nginx-metrics",
            "not a url",
            "-origin-metrics-interval",
            "100ms",
            "-origin-metrics-window",
            "5m1s",
            "-origin-metrics-interfaces",
            ",",
        ]);
        assert!(c.is_none());
        let text = errs.join("\n");
        for flag in [
            "-origin-metrics:",
            "-nginx-metrics:",
            "-origin-metrics-interval:",
            "-origin-metrics-window:",
            "-origin-metrics-interfaces:",
        ] {
            assert!(text.contains(flag), "{flag} missing in {text}");
        }
        assert_eq!(errs.len(), 5, "{text}");
    }

    #[test]
    fn window_must_cover_two_intervals() {
        let (_, errs) = om(&[
            "-origin-metrics-host",
            "h",
            "-origin-metrics-interval",
            "30s",
            "-origin-metrics-window",
            "45s",
        ]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("at least twice"), "{errs:?}");
        assert!(
            om(&["-origin-metrics-host", "h", "-origin-metrics-window", "9s"])
                .1
                .len()
                == 1
        );
    }

    #[test]
    fn flags_without_effect_are_errors() {
        let (_, errs) = om(&[
            "-origin-metrics-interval",
            "2s",
            "-origin-metrics-node-port",
            "9100",
        ]);
        assert_eq!(errs.len(), 2, "{errs:?}");
        let (_, errs) = om(&[
            "-nginx-metrics",
            "http://h:9113/metrics",
            "-origin-metrics-interfaces",
            "eth0",
        ]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let (_, errs) = om(&[
            "-origin-metrics-host",
            "h",
            "-origin-metrics",
            "http://a/m",
            "-nginx-metrics",
            "http://b/m",
        ]);
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn bad_hosts_and_ports() {
        for args in [
            &["-origin-metrics-host", "http://h:9100/metrics"][..],
            &["-origin-metrics-host", "h:9100"],
            &[
                "-origin-metrics-host",
                "h",
                "-origin-metrics-node-port",
                "0",
            ],
            &[
                "-origin-metrics-host",
                "h",
                "-origin-metrics-nginx-port",
                "70000",
            ],
            &["-origin-metrics", "http://u:pw@h:9100/metrics"],
        ] {
            let (c, errs) = om(args);
            assert!(c.is_none() && errs.len() == 1, "{args:?}: {errs:?}");
        }
    }
}

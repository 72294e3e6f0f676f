//! The pure core: scraped exporter text in, origin figures out. No I/O and no clock of
//! its own — every call carries the time of the scrape, so tests drive it with a fake
//! clock.
//!
//! Rates come from counter deltas between two successful scrapes, series by series
//! (matched by labels). The first scrape gives no rate; neither does a scrape where any
//! counter went backwards (a reset: host reboot, nginx restart) — it becomes the new
//! baseline and is counted. A failed scrape keeps the previous baseline, so the next
//! success yields the mean rate over the gap.

use std::collections::BTreeMap;
use std::time::Duration;

use super::window::Figure;
use crate::config::InterfaceFilter;
use crate::metrics::parse::{self as prom, Families};
use crate::stats::origin::{OriginStats, Source, SourceStats};

/// node_exporter families read.
pub const NODE_CPU: &str = "node_cpu_seconds_total";
/// node_exporter memory total.
pub const NODE_MEM_TOTAL: &str = "node_memory_MemTotal_bytes";
/// node_exporter available memory (kernel ≥ 3.14).
pub const NODE_MEM_AVAILABLE: &str = "node_memory_MemAvailable_bytes";
/// Fallback parts of "available" on old kernels.
const NODE_MEM_FREE: &str = "node_memory_MemFree_bytes";
const NODE_MEM_BUFFERS: &str = "node_memory_Buffers_bytes";
const NODE_MEM_CACHED: &str = "node_memory_Cached_bytes";
/// node_exporter received bytes per device.
pub const NODE_NET_RX: &str = "node_network_receive_bytes_total";
/// node_exporter transmitted bytes per device.
pub const NODE_NET_TX: &str = "node_network_transmit_bytes_total";
/// nginx exporter active connections.
pub const NGINX_ACTIVE: &str = "nginx_connections_active";
/// nginx exporter request counter.
pub const NGINX_REQUESTS: &str = "nginx_http_requests_total";
/// nginx exporter: 1 when it could read stub_status.
pub const NGINX_UP: &str = "nginx_up";

const NODE_FAMILIES: [&str; 8] = [
    NODE_CPU,
    NODE_MEM_TOTAL,
    NODE_MEM_AVAILABLE,
    NODE_MEM_FREE,
    NODE_MEM_BUFFERS,
    NODE_MEM_CACHED,
    NODE_NET_RX,
    NODE_NET_TX,
];
const NGINX_FAMILIES: [&str; 3] = [NGINX_ACTIVE, NGINX_REQUESTS, NGINX_UP];

/// What one node_exporter scrape said. A field is `None` when its family was absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSample {
    /// `(cpu, mode)` → seconds.
    pub cpu: Option<BTreeMap<(String, String), f64>>,
    /// `MemTotal`.
    pub memory_total: Option<f64>,
    /// `MemAvailable` (or `MemFree + Buffers + Cached` on kernels without it).
    pub memory_available: Option<f64>,
    /// device → received bytes.
    pub net_rx: Option<BTreeMap<String, f64>>,
    /// device → transmitted bytes.
    pub net_tx: Option<BTreeMap<String, f64>>,
    /// Families the figures need that were absent.
    pub missing: Vec<String>,
}

impl NodeSample {
    /// Parse node_exporter's text. Fails on non-Prometheus text, and when none of the
    /// needed families is there (the URL is probably not a node_exporter).
    pub fn from_text(text: &str) -> Result<Self, String> {
        let fam = prom::parse(text, |n| NODE_FAMILIES.contains(&n)).map_err(|e| e.to_string())?;
        Self::from_families(&fam)
    }

    /// Pick the needed figures out of parsed families.
    pub fn from_families(fam: &Families) -> Result<Self, String> {
        let by_labels = |name: &str, label: &str| {
            fam.get(name).map(|samples| {
                samples
                    .iter()
                    .filter_map(|s| Some((s.label(label)?.to_string(), s.value)))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        let cpu = fam.get(NODE_CPU).map(|samples| {
            samples
                .iter()
                .filter_map(|s| {
                    Some((
                        (s.label("cpu")?.to_string(), s.label("mode")?.to_string()),
                        s.value,
                    ))
                })
                .collect::<BTreeMap<_, _>>()
        });
        let memory_total = fam.scalar(NODE_MEM_TOTAL);
        let memory_available = fam.scalar(NODE_MEM_AVAILABLE).or_else(|| {
            match (
                fam.scalar(NODE_MEM_FREE),
                fam.scalar(NODE_MEM_BUFFERS),
                fam.scalar(NODE_MEM_CACHED),
            ) {
                (Some(f), Some(b), Some(c)) => Some(f + b + c),
                (Some(f), _, _) => Some(f),
                _ => None,
            }
        });
        let s = NodeSample {
            cpu,
            memory_total,
            memory_available,
            net_rx: by_labels(NODE_NET_RX, "device"),
            net_tx: by_labels(NODE_NET_TX, "device"),
            missing: Vec::new(),
        };
        let mut missing = Vec::new();
        if s.cpu.is_none() {
            missing.push(NODE_CPU.to_string());
        }
        if s.memory_total.is_none() {
            missing.push(NODE_MEM_TOTAL.to_string());
        }
        if s.memory_available.is_none() {
            missing.push(NODE_MEM_AVAILABLE.to_string());
        }
        if s.net_rx.is_none() {
            missing.push(NODE_NET_RX.to_string());
        }
        if s.net_tx.is_none() {
            missing.push(NODE_NET_TX.to_string());
        }
        if missing.len() == 5 {
            return Err(format!(
                "no node_exporter metrics ({NODE_CPU}, {NODE_MEM_TOTAL}, {NODE_NET_RX}, …) in the response; is this a node_exporter /metrics URL?"
            ));
        }
        Ok(NodeSample { missing, ..s })
    }
}

/// What one nginx exporter scrape said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NginxSample {
    /// `nginx_connections_active`.
    pub connections_active: Option<f64>,
    /// `nginx_http_requests_total`.
    pub requests_total: Option<f64>,
    /// Families the figures need that were absent.
    pub missing: Vec<String>,
}

impl NginxSample {
    /// Parse the nginx exporter's text. Fails on non-Prometheus text, on `nginx_up 0`
    /// (the exporter cannot read stub_status) and when neither figure is there.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let fam = prom::parse(text, |n| NGINX_FAMILIES.contains(&n)).map_err(|e| e.to_string())?;
        Self::from_families(&fam)
    }

    /// Pick the needed figures out of parsed families.
    pub fn from_families(fam: &Families) -> Result<Self, String> {
        if fam.scalar(NGINX_UP) == Some(0.0) {
            return Err(
                "nginx_up is 0: the exporter cannot read nginx's stub_status (is nginx running, is -nginx.scrape-uri right?)"
                    .into(),
            );
        }
        let connections_active = fam.scalar(NGINX_ACTIVE);
        let requests_total = fam.scalar(NGINX_REQUESTS);
        let mut missing = Vec::new();
        if connections_active.is_none() {
            missing.push(NGINX_ACTIVE.to_string());
        }
        if requests_total.is_none() {
            missing.push(NGINX_REQUESTS.to_string());
        }
        if missing.len() == 2 {
            return Err(format!(
                "no nginx exporter metrics ({NGINX_ACTIVE}, {NGINX_REQUESTS}) in the response; is this an nginx-prometheus-exporter /metrics URL?"
            ));
        }
        Ok(NginxSample {
            connections_active,
            requests_total,
            missing,
        })
    }
}

/// Per-series counter deltas over the series present in both maps; `None` if any of
/// them went backwards (a reset).
fn deltas<'a, K: Ord>(
    prev: &BTreeMap<K, f64>,
    cur: &'a BTreeMap<K, f64>,
) -> Option<Vec<(&'a K, f64)>> {
    let mut out = Vec::with_capacity(cur.len());
    for (k, v) in cur {
        if let Some(p) = prev.get(k) {
            let d = v - p;
            if d < 0.0 {
                return None;
            }
            out.push((k, d));
        }
    }
    Some(out)
}

/// The outcome of comparing a counter with its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rate {
    /// No baseline yet, or no time passed.
    NoBase,
    /// A counter went backwards.
    Reset,
    /// Units per second.
    PerSecond(f64),
}

/// A per-device byte counter with its baseline.
#[derive(Debug, Default)]
struct DeviceCounter {
    base: Option<(Duration, BTreeMap<String, f64>)>,
}

impl DeviceCounter {
    fn update(&mut self, at: Duration, cur: BTreeMap<String, f64>) -> Rate {
        let rate = match &self.base {
            None => Rate::NoBase,
            Some((t, prev)) => {
                let dt = at.saturating_sub(*t).as_secs_f64();
                match deltas(prev, &cur) {
                    None => Rate::Reset,
                    Some(_) if dt <= 0.0 => Rate::NoBase,
                    Some(d) => Rate::PerSecond(d.iter().map(|(_, v)| v).sum::<f64>() / dt),
                }
            }
        };
        self.base = Some((at, cur));
        rate
    }
}

#[derive(Debug, Default)]
struct SourceState {
    url: String,
    up: bool,
    ok: u64,
    errors: u64,
    resets: u64,
    last_error: Option<(Duration, String)>,
    last_ok: Option<Duration>,
    missing: Vec<String>,
}

impl SourceState {
    fn new(url: String) -> Self {
        SourceState {
            url,
            ..Default::default()
        }
    }

    fn view(&self) -> SourceStats {
        SourceStats {
            url: self.url.clone(),
            up: self.up,
            scrapes_ok: self.ok,
            scrape_errors: self.errors,
            counter_resets: self.resets,
            last_error: self.last_error.as_ref().map(|(_, e)| e.clone()),
            last_success_at_seconds: self.last_ok.map(|d| d.as_secs_f64()),
            missing_families: self.missing.clone(),
        }
    }
}

/// Turns scrapes into origin figures (see the module docs).
#[derive(Debug)]
pub struct OriginSampler {
    interval: Duration,
    window: Duration,
    interfaces: InterfaceFilter,
    node: Option<SourceState>,
    nginx: Option<SourceState>,
    cpu_base: Option<BTreeMap<(String, String), f64>>,
    rx: DeviceCounter,
    tx: DeviceCounter,
    requests_base: Option<(Duration, f64)>,
    cpu: Figure,
    cpu_count: Option<u64>,
    memory_used: Figure,
    memory_total: Option<f64>,
    net_rx: Figure,
    net_tx: Figure,
    selected: Vec<String>,
    connections: Figure,
    requests: Figure,
}

impl OriginSampler {
    /// A sampler for the configured exporters (their URLs are only shown, never fetched
    /// here), the scrape `interval` (shown), the trailing `window` and the interfaces.
    pub fn new(
        node_url: Option<String>,
        nginx_url: Option<String>,
        interval: Duration,
        window: Duration,
        interfaces: InterfaceFilter,
    ) -> Self {
        OriginSampler {
            interval,
            window,
            interfaces,
            node: node_url.map(SourceState::new),
            nginx: nginx_url.map(SourceState::new),
            cpu_base: None,
            rx: DeviceCounter::default(),
            tx: DeviceCounter::default(),
            requests_base: None,
            cpu: Figure::default(),
            cpu_count: None,
            memory_used: Figure::default(),
            memory_total: None,
            net_rx: Figure::default(),
            net_tx: Figure::default(),
            selected: Vec::new(),
            connections: Figure::default(),
            requests: Figure::default(),
        }
    }

    fn state(&mut self, source: Source) -> &mut SourceState {
        let slot = match source {
            Source::Node => &mut self.node,
            Source::Nginx => &mut self.nginx,
        };
        // A scrape of an unconfigured source (only in tests) registers it.
        slot.get_or_insert_with(|| SourceState::new(String::new()))
    }

    /// A scrape of `source` that returned `text` at `at` (run time).
    pub fn scraped(&mut self, source: Source, at: Duration, text: &str) {
        match source {
            Source::Node => match NodeSample::from_text(text) {
                Ok(s) => self.observe_node(at, s),
                Err(e) => self.failed(source, at, e),
            },
            Source::Nginx => match NginxSample::from_text(text) {
                Ok(s) => self.observe_nginx(at, s),
                Err(e) => self.failed(source, at, e),
            },
        }
    }

    /// A failed scrape: counted, its message kept, the source's latest figures become
    /// unknown. Baselines are kept.
    pub fn failed(&mut self, source: Source, at: Duration, error: String) {
        let st = self.state(source);
        st.up = false;
        st.errors += 1;
        st.last_error = Some((at, error));
        match source {
            Source::Node => {
                self.cpu.unknown();
                self.memory_used.unknown();
                self.net_rx.unknown();
                self.net_tx.unknown();
            }
            Source::Nginx => {
                self.connections.unknown();
                self.requests.unknown();
            }
        }
    }

    fn succeeded(&mut self, source: Source, at: Duration, missing: Vec<String>) {
        let st = self.state(source);
        st.up = true;
        st.ok += 1;
        st.last_ok = Some(at);
        st.missing = missing;
    }

    /// A successful node_exporter scrape at `at`.
    pub fn observe_node(&mut self, at: Duration, s: NodeSample) {
        let window = self.window;
        let mut reset = false;

        match s.cpu {
            Some(cur) => {
                let cpus: std::collections::BTreeSet<&str> =
                    cur.keys().map(|(c, _)| c.as_str()).collect();
                self.cpu_count = Some(cpus.len() as u64);
                let pct = match self.cpu_base.as_ref().map(|prev| deltas(prev, &cur)) {
                    None => None,
                    Some(None) => {
                        reset = true;
                        None
                    }
                    Some(Some(d)) => {
                        let total: f64 = d.iter().map(|(_, v)| v).sum();
                        let idle: f64 = d
                            .iter()
                            .filter(|((_, mode), _)| mode == "idle" || mode == "iowait")
                            .map(|(_, v)| v)
                            .sum();
                        (total > 0.0).then(|| ((total - idle) / total * 100.0).clamp(0.0, 100.0))
                    }
                };
                match pct {
                    Some(p) => self.cpu.record(at, p, window),
                    None => self.cpu.unknown(),
                }
                self.cpu_base = Some(cur);
            }
            None => self.cpu.unknown(),
        }

        self.memory_total = s.memory_total;
        match (s.memory_total, s.memory_available) {
            (Some(t), Some(a)) => self.memory_used.record(at, (t - a).max(0.0), window),
            _ => self.memory_used.unknown(),
        }

        let interfaces = &self.interfaces;
        let select = |m: BTreeMap<String, f64>| -> BTreeMap<String, f64> {
            m.into_iter()
                .filter(|(d, _)| interfaces.selects(d))
                .collect()
        };
        let mut selected = Vec::new();
        for (cur, counter, figure) in [
            (s.net_rx, &mut self.rx, &mut self.net_rx),
            (s.net_tx, &mut self.tx, &mut self.net_tx),
        ] {
            let Some(cur) = cur else {
                figure.unknown();
                continue;
            };
            let cur = select(cur);
            if selected.is_empty() {
                selected = cur.keys().cloned().collect();
            }
            match counter.update(at, cur) {
                Rate::PerSecond(r) => figure.record(at, r, window),
                Rate::Reset => {
                    reset = true;
                    figure.unknown();
                }
                Rate::NoBase => figure.unknown(),
            }
        }
        self.selected = selected;
        if reset {
            self.state(Source::Node).resets += 1;
        }
        self.succeeded(Source::Node, at, s.missing);
    }

    /// A successful nginx exporter scrape at `at`.
    pub fn observe_nginx(&mut self, at: Duration, s: NginxSample) {
        let window = self.window;
        match s.connections_active {
            Some(c) => self.connections.record(at, c, window),
            None => self.connections.unknown(),
        }
        let mut reset = false;
        match s.requests_total {
            Some(cur) => {
                let rate = match self.requests_base {
                    Some((_, prev)) if cur < prev => {
                        reset = true;
                        None
                    }
                    Some((t, prev)) if at > t => {
                        Some((cur - prev) / at.saturating_sub(t).as_secs_f64())
                    }
                    _ => None,
                };
                match rate {
                    Some(r) => self.requests.record(at, r, window),
                    None => self.requests.unknown(),
                }
                self.requests_base = Some((at, cur));
            }
            None => self.requests.unknown(),
        }
        if reset {
            self.state(Source::Nginx).resets += 1;
        }
        self.succeeded(Source::Nginx, at, s.missing);
    }

    /// The view as of `now` (run time).
    pub fn stats(&self, now: Duration) -> OriginStats {
        let w = self.window;
        let sources = [
            (Source::Node, self.node.as_ref()),
            (Source::Nginx, self.nginx.as_ref()),
        ];
        let last_error = sources
            .iter()
            .filter_map(|(src, st)| {
                let (at, e) = st.and_then(|s| s.last_error.as_ref())?;
                Some((*at, format!("{}: {e}", src.display_name())))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, e)| e);
        let sum = |f: fn(&SourceState) -> u64| sources.iter().filter_map(|(_, s)| *s).map(f).sum();
        OriginStats {
            interval_seconds: self.interval.as_secs_f64(),
            window_seconds: w.as_secs_f64(),
            node: self.node.as_ref().map(SourceState::view),
            nginx: self.nginx.as_ref().map(SourceState::view),
            cpu_percent: self.cpu.stats(now, w),
            cpu_count: self.cpu_count,
            memory_used_bytes: self.memory_used.stats(now, w),
            memory_total_bytes: self.memory_total,
            net_rx_bytes_per_second: self.net_rx.stats(now, w),
            net_tx_bytes_per_second: self.net_tx.stats(now, w),
            interfaces: self.selected.clone(),
            nginx_connections_active: self.connections.stats(now, w),
            nginx_requests_per_second: self.requests.stats(now, w),
            scrapes_ok: sum(|s| s.ok),
            scrape_errors: sum(|s| s.errors),
            last_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Canned node_exporter text: 2 CPUs with the given (idle, user) seconds each, memory,
    /// and rx/tx byte counters for eth0, lo and a veth.
    fn node_text(idle: f64, user: f64, eth_rx: f64, eth_tx: f64, lo: f64) -> String {
        let mut s = String::from(
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n",
        );
        for cpu in 0..2 {
            for (mode, v) in [
                ("idle", idle),
                ("iowait", 1.0),
                ("system", 2.0),
                ("user", user),
            ] {
                s += &format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {v}\n");
            }
        }
        s += "# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 8e+09\n";
        s += "node_memory_MemAvailable_bytes 6e+09\nnode_memory_MemFree_bytes 1e+09\n";
        for (dev, rx, tx) in [
            ("eth0", eth_rx, eth_tx),
            ("lo", lo, lo),
            ("veth12ab", lo, lo),
        ] {
            s += &format!("node_network_receive_bytes_total{{device=\"{dev}\"}} {rx}\n");
            s += &format!("node_network_transmit_bytes_total{{device=\"{dev}\"}} {tx}\n");
        }
        s
    }

    fn nginx_text(active: f64, requests: f64) -> String {
        format!(
            "# HELP nginx_connections_active Active client connections\n# TYPE nginx_connections_active gauge\n\
             nginx_connections_active {active}\nnginx_connections_accepted 9\nnginx_http_requests_total {requests}\nnginx_up 1\n"
        )
    }

    fn sampler() -> OriginSampler {
        OriginSampler::new(
            Some("http://o:9100/metrics".into()),
            Some("http://o:9113/metrics".into()),
            Duration::from_secs(2),
            WINDOW,
            InterfaceFilter::default(),
        )
    }

    #[test]
    fn first_sample_gives_no_rate_second_does() {
        let mut s = sampler();
        s.scraped(
            Source::Node,
            t(0),
            &node_text(100.0, 100.0, 1000.0, 5000.0, 7.0),
        );
        let v = s.stats(t(0));
        assert_eq!(v.cpu_percent.last, None, "CPU since boot is never reported");
        assert_eq!(v.net_rx_bytes_per_second.last, None);
        assert_eq!(
            v.memory_used_bytes.last,
            Some(2e9),
            "gauges need no baseline"
        );
        assert_eq!(v.memory_total_bytes, Some(8e9));
        assert_eq!(v.cpu_count, Some(2));
        assert_eq!(v.interfaces, vec!["eth0".to_string()]);

        // 2 s later: per CPU idle +0.5 s, user +1.5 s (iowait/system unchanged) → 75 % busy.
        // eth0 rx +4000 B, tx +10000 B over 2 s; lo and veth move a lot but are excluded.
        s.scraped(
            Source::Node,
            t(2000),
            &node_text(100.5, 101.5, 5000.0, 15000.0, 9e9),
        );
        let v = s.stats(t(2000));
        assert_eq!(v.cpu_percent.last, Some(75.0));
        assert_eq!(v.net_rx_bytes_per_second.last, Some(2000.0));
        assert_eq!(v.net_tx_bytes_per_second.last, Some(5000.0));
        let node = v.node.unwrap_or_default();
        assert_eq!((node.scrapes_ok, node.scrape_errors), (2, 0));
        assert!(node.up);
        assert!(node.missing_families.is_empty());
        assert_eq!(v.scrapes_ok, 2);
    }

    #[test]
    fn iowait_counts_as_idle() {
        let mut s = sampler();
        let text = |iowait: f64, user: f64| {
            format!(
                "node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} 10\n\
                 node_cpu_seconds_total{{cpu=\"0\",mode=\"iowait\"}} {iowait}\n\
                 node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {user}\n"
            )
        };
        s.scraped(Source::Node, t(0), &text(0.0, 0.0));
        s.scraped(Source::Node, t(1000), &text(0.75, 0.25));
        assert_eq!(s.stats(t(1000)).cpu_percent.last, Some(25.0));
    }

    #[test]
    fn explicit_interfaces_are_summed() {
        let mut s = OriginSampler::new(
            None,
            None,
            Duration::from_secs(1),
            WINDOW,
            InterfaceFilter::parse("eth0,lo").unwrap_or_else(|e| panic!("{e}")),
        );
        s.scraped(Source::Node, t(0), &node_text(1.0, 1.0, 0.0, 0.0, 0.0));
        s.scraped(
            Source::Node,
            t(1000),
            &node_text(2.0, 2.0, 100.0, 10.0, 1000.0),
        );
        let v = s.stats(t(1000));
        assert_eq!(v.net_rx_bytes_per_second.last, Some(1100.0));
        assert_eq!(v.net_tx_bytes_per_second.last, Some(1010.0));
        assert_eq!(v.interfaces, vec!["eth0".to_string(), "lo".to_string()]);
    }

    #[test]
    fn counter_resets_give_no_rate_and_rebase() {
        let mut s = sampler();
        s.scraped(
            Source::Node,
            t(0),
            &node_text(1000.0, 1000.0, 1e6, 1e6, 0.0),
        );
        s.scraped(
            Source::Node,
            t(2000),
            &node_text(1001.0, 1001.0, 2e6, 2e6, 0.0),
        );
        assert_eq!(s.stats(t(2000)).cpu_percent.last, Some(50.0));
        // The host rebooted: every counter is small again.
        s.scraped(
            Source::Node,
            t(4000),
            &node_text(5.0, 5.0, 100.0, 100.0, 0.0),
        );
        let v = s.stats(t(4000));
        assert_eq!(v.cpu_percent.last, None, "no rate across a reset");
        assert_eq!(v.net_rx_bytes_per_second.last, None);
        assert_eq!(v.node.as_ref().map(|n| n.counter_resets), Some(1));
        assert_eq!(v.node.as_ref().map(|n| n.scrape_errors), Some(0));
        // The reset sample is the new baseline.
        s.scraped(
            Source::Node,
            t(6000),
            &node_text(6.0, 5.0, 300.0, 100.0, 0.0),
        );
        let v = s.stats(t(6000));
        assert_eq!(v.cpu_percent.last, Some(0.0));
        assert_eq!(v.net_rx_bytes_per_second.last, Some(100.0));
        // The window still holds the pre-reset values.
        assert_eq!(v.cpu_percent.window_max, Some(50.0));

        // nginx restarted: its request counter starts over.
        s.scraped(Source::Nginx, t(0), &nginx_text(3.0, 1000.0));
        s.scraped(Source::Nginx, t(2000), &nginx_text(3.0, 1200.0));
        assert_eq!(s.stats(t(2000)).nginx_requests_per_second.last, Some(100.0));
        s.scraped(Source::Nginx, t(4000), &nginx_text(1.0, 4.0));
        let v = s.stats(t(4000));
        assert_eq!(v.nginx_requests_per_second.last, None);
        assert_eq!(v.nginx_connections_active.last, Some(1.0));
        assert_eq!(v.nginx.as_ref().map(|n| n.counter_resets), Some(1));
        s.scraped(Source::Nginx, t(5000), &nginx_text(1.0, 14.0));
        assert_eq!(s.stats(t(5000)).nginx_requests_per_second.last, Some(10.0));
    }

    #[test]
    fn nginx_rates_windows_and_connections() {
        let mut s = sampler();
        // 1 s apart: 10, 30, 20, 40 req/s; connections 5, 7, 6, 9, 8.
        let mut total = 0.0;
        for (i, (rps, conns)) in [
            (0.0, 5.0),
            (10.0, 7.0),
            (30.0, 6.0),
            (20.0, 9.0),
            (40.0, 8.0),
        ]
        .iter()
        .enumerate()
        {
            total += rps;
            s.scraped(
                Source::Nginx,
                t(i as u64 * 1000),
                &nginx_text(*conns, total),
            );
        }
        let v = s.stats(t(4000));
        let r = v.nginx_requests_per_second;
        assert_eq!(r.last, Some(40.0));
        assert_eq!(r.window_p50, Some(20.0));
        assert_eq!(r.window_max, Some(40.0));
        assert_eq!(r.samples, 4);
        let c = v.nginx_connections_active;
        assert_eq!(
            (c.last, c.window_p50, c.window_max),
            (Some(8.0), Some(7.0), Some(9.0))
        );
        // 12 s later with no scrapes the window is empty but the run figures remain.
        let v = s.stats(t(16_000));
        assert_eq!(v.nginx_requests_per_second.window_max, None);
        assert_eq!(v.nginx_requests_per_second.run_max, Some(40.0));
        assert!(v.node.is_some_and(|n| n.scrapes_ok == 0));
    }

    #[test]
    fn failures_are_counted_kept_and_clear_the_latest_values() {
        let mut s = sampler();
        s.scraped(Source::Nginx, t(0), &nginx_text(2.0, 10.0));
        s.failed(Source::Nginx, t(1000), "timeout after 2s".into());
        let v = s.stats(t(1000));
        assert_eq!(v.nginx_connections_active.last, None);
        assert_eq!(v.nginx_connections_active.window_max, Some(2.0));
        let n = v.nginx.clone().unwrap_or_default();
        assert_eq!((n.scrapes_ok, n.scrape_errors, n.up), (1, 1, false));
        assert_eq!(
            v.last_error.as_deref(),
            Some("nginx exporter: timeout after 2s")
        );
        // Garbage and HTML count as failures too.
        s.scraped(Source::Node, t(1500), "<html>502</html>");
        s.scraped(Source::Nginx, t(2000), "\u{0}\u{1}binary");
        let v = s.stats(t(2000));
        assert_eq!(v.scrape_errors, 3);
        assert!(
            v.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("nginx exporter: not Prometheus text")),
            "{:?}",
            v.last_error
        );
        // The baseline survives failures: the next success gives the mean rate over the gap.
        s.scraped(Source::Nginx, t(3000), &nginx_text(2.0, 40.0));
        let v = s.stats(t(3000));
        assert_eq!(v.nginx_requests_per_second.last, Some(10.0));
        assert!(v.nginx.is_some_and(|n| n.up));
    }

    #[test]
    fn missing_family_leaves_that_figure_unknown() {
        let mut s = sampler();
        // node_exporter with the cpu collector off.
        let no_cpu = |rx: f64| {
            format!(
                "node_memory_MemTotal_bytes 100\nnode_memory_MemAvailable_bytes 40\n\
                 node_network_receive_bytes_total{{device=\"eth0\"}} {rx}\n\
                 node_network_transmit_bytes_total{{device=\"eth0\"}} 0\n"
            )
        };
        s.scraped(Source::Node, t(0), &no_cpu(0.0));
        s.scraped(Source::Node, t(1000), &no_cpu(500.0));
        let v = s.stats(t(1000));
        assert_eq!(v.cpu_percent, Default::default());
        assert_eq!(v.cpu_count, None);
        assert_eq!(v.memory_used_bytes.last, Some(60.0));
        assert_eq!(v.net_rx_bytes_per_second.last, Some(500.0));
        let node = v.node.unwrap_or_default();
        assert_eq!(node.scrape_errors, 0);
        assert_eq!(node.missing_families, vec![NODE_CPU.to_string()]);

        // No node families at all: the URL is wrong, which is an error.
        s.scraped(Source::Node, t(2000), &nginx_text(1.0, 1.0));
        let v = s.stats(t(2000));
        assert_eq!(v.node.as_ref().map(|n| n.scrape_errors), Some(1));
        assert!(
            v.last_error
                .unwrap_or_default()
                .contains("is this a node_exporter")
        );

        // nginx exporter without the request counter.
        s.scraped(
            Source::Nginx,
            t(0),
            "nginx_connections_active 4\nnginx_up 1\n",
        );
        let v = s.stats(t(0));
        assert_eq!(v.nginx_connections_active.last, Some(4.0));
        assert_eq!(
            v.nginx.map(|n| n.missing_families),
            Some(vec![NGINX_REQUESTS.to_string()])
        );
    }

    #[test]
    fn memory_falls_back_to_free_buffers_cached() {
        let f = prom::parse(
            "node_memory_MemTotal_bytes 100\nnode_memory_MemFree_bytes 10\nnode_memory_Buffers_bytes 5\nnode_memory_Cached_bytes 25\n",
            |_| true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = NodeSample::from_families(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.memory_available, Some(40.0));
    }

    #[test]
    fn nginx_up_zero_is_a_failure() {
        let mut s = sampler();
        s.scraped(Source::Nginx, t(0), "nginx_up 0\n");
        let v = s.stats(t(0));
        assert_eq!(v.scrape_errors, 1);
        assert!(v.last_error.unwrap_or_default().contains("nginx_up is 0"));
    }

    #[test]
    fn cpu_hotplug_uses_the_cpus_present_in_both_scrapes() {
        let mut s = sampler();
        let one = "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 10\n";
        let two = "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 11\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 10\n\
                   node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 0\nnode_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 500\n";
        s.scraped(Source::Node, t(0), one);
        s.scraped(Source::Node, t(1000), two);
        let v = s.stats(t(1000));
        assert_eq!(v.cpu_percent.last, Some(0.0));
        assert_eq!(v.cpu_count, Some(2));
    }
}

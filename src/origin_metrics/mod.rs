//! Origin metrics: what the origin host itself went through during the run, scraped from
//! its node_exporter (CPU, memory, network) and nginx exporter (connections, requests).
//!
//! Pure core, thin shell (DESIGN.md principle 6):
//!
//! * the exporters' scrapes are read with [`crate::metrics::parse`] (the one Prometheus
//!   text-format parser), keeping only wanted families;
//! * [`sampler::OriginSampler`] — scrape text + time in, figures out: rates from counter
//!   deltas (first sample and counter resets give no rate), interface selection
//!   ([`interfaces`]), bounded trailing windows and run-long p50/max ([`window`]);
//! * [`scrape::OriginScraper`] — one task per exporter, with timeout and body cap;
//!   failures are counted and shown, never fatal.
//!
//! The swarm reads [`view::OriginStats`] from the scraper once per tick into
//! `Snapshot::origin`; sinks render it ([`report`], [`export`], the JSON report).
//! User documentation: docs/origin-metrics.md.

pub mod export;
pub mod interfaces;
pub mod report;
pub mod sampler;
pub mod scrape;
pub mod view;
pub mod window;

pub use export::{origin_metric_families, write_families, write_prometheus};
pub use sampler::{OriginSampler, Source};
pub use scrape::OriginScraper;
pub use view::{FigureStats, OriginStats, SourceStats};

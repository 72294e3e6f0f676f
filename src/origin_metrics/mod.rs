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
//! The swarm reads [`OriginStats`] (defined in [`crate::stats::origin`], as the Snapshot
//! carries it) from the scraper once per tick into `Snapshot::origin`; sinks render it
//! (`output::origin` for the summary, the progress and status lines, the TUI reads it as
//! is, `metrics::origin` for /metrics, the JSON report).
//! User documentation: docs/origin-metrics.md.

pub mod interfaces;
pub mod sampler;
pub mod scrape;
pub mod window;

pub use crate::stats::origin::{FigureStats, OriginStats, Source, SourceStats};
pub use sampler::OriginSampler;
pub use scrape::OriginScraper;

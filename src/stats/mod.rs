//! Stats pipeline: events in, one merged Snapshot per tick out, and the end-of-run report
//! model. Every figure a sink shows is computed here, once (DESIGN.md principle 3).
//!
//! Viewers → [`hub::EventSink`] (bounded, lossy, counted) → per-shard
//! [`accumulator::Accumulator`] → [`collector::Collector`] (once per tick) →
//! [`snapshot::Snapshot`] (named figures: [`totals::Totals`], [`percentiles::Percentiles`],
//! window rates, [`distribution::Distributions`] for bucketed sinks) → every live sink.
//! Each tick also goes into the run's [`series::Series`] (downsampled history). When the
//! run ends, [`report::RunReport`] holds the final snapshot and the series, and
//! [`sections::Sections`] computes the sections the written reports lay out.

pub mod abr;
pub mod accumulator;
pub mod collector;
pub mod distribution;
pub mod event;
pub mod ffmpeg;
pub mod gauges;
pub mod histogram_codec;
pub mod hub;
pub mod lag;
pub mod link_rates;
pub mod live;
pub mod merge;
pub mod origin;
pub mod percentiles;
pub mod report;
pub mod request_log;
pub mod sections;
pub mod series;
pub mod sessions;
pub mod snapshot;
pub mod streams;
pub mod totals;
pub mod viewer_state;
pub mod viewers;

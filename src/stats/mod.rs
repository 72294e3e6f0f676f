//! Stats pipeline: events in, one merged Snapshot per tick out.
//!
//! Viewers → [`hub::EventSink`] (bounded, lossy, counted) → per-shard
//! [`accumulator::Accumulator`] → [`collector::Collector`] (once per tick) →
//! [`snapshot::Snapshot`] → every sink.

pub mod accumulator;
pub mod collector;
pub mod distribution;
pub mod event;
pub mod ffmpeg;
pub mod gauges;
pub mod hub;
pub mod lag;
pub mod live;
pub mod origin;
pub mod percentiles;
pub mod report;
pub mod sections;
pub mod series;
pub mod snapshot;
pub mod totals;
pub mod viewer_state;
pub mod viewers;

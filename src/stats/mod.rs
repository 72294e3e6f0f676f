//! Stats pipeline: events in, one merged Snapshot per tick out.
//!
//! Viewers → [`hub::EventSink`] (bounded, lossy, counted) → per-shard
//! [`accumulator::Accumulator`] → [`collector::Collector`] (once per tick) →
//! [`snapshot::Snapshot`] → every sink.

pub mod accumulator;
pub mod collector;
pub mod event;
pub mod ffmpeg;
pub mod gauges;
pub mod hub;
pub mod lag;
pub mod live;
pub mod snapshot;
pub mod viewer_state;
pub mod viewers;

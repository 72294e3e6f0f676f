//! The Prometheus endpoint (`-metrics ADDR`): [`server`] serves `/metrics`, `/healthz`
//! and `/readyz`; [`render`] turns one tick's Snapshot into the `hls_swarm_*` families
//! documented in docs/metrics.md; [`collector`] is the `prometheus` crate's collector over
//! the snapshot feed; [`text`] builds the crate's metric families and encodes (and reads
//! back, through [`parse`], the one reader of the format) the text format; [`linger`]
//! keeps the endpoint up after the run (`--metrics-linger`).

pub mod collector;
pub mod linger;
pub mod origin;
pub mod parse;
pub mod render;
pub mod server;
pub mod text;

pub use render::Info;
pub use server::{MetricsServer, Readiness};

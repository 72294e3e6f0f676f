//! Viewer engines. Both produce the same events (DESIGN.md principle 1).

pub mod ffmpeg;
pub mod http;
pub mod native;
pub mod reload;
pub mod request_meter;
pub mod runtimes;
pub mod sequence;

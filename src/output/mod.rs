//! Sinks: they render the Snapshot and compute nothing of their own (DESIGN.md principle 3).

pub mod html;
pub mod json;
pub mod origin_view;
pub mod progress;
pub mod summary;
pub mod tui;

//! Sinks: they render the Snapshot and compute nothing of their own (DESIGN.md principle 3).

pub mod console;
pub mod file;
pub mod format;
pub mod html;
pub mod interim;
pub mod json;
pub mod origin_view;
pub mod progress;
pub mod series;
pub mod summary;
pub mod tui;

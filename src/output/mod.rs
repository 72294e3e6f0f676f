//! Sinks: they format what Stats computed and compute nothing of their own (DESIGN.md
//! principle 3). Live sinks subscribe to the run's snapshot feed ([`progress`], [`tui`]);
//! the written ones take the finished run's report ([`summary`], [`json`], [`html`]);
//! [`origin`] renders the origin host's figures for both.
//! No sink knows the swarm, and the swarm knows none of them.

pub mod html;
pub mod interim;
pub mod json;
pub mod origin;
pub mod progress;
pub mod summary;
pub mod tui;

//! HLS playlists: model, parsing, URL resolution, variant selection and live start position.
//!
//! Pure code, no I/O. [`parse`] turns a fetched body into a [`Playlist`] whose URIs are all
//! absolute. Covers RFC 8216 plus the rfc8216bis low-latency tags (`EXT-X-SERVER-CONTROL`,
//! `EXT-X-PART-INF`, `EXT-X-PART`, `EXT-X-PRELOAD-HINT`, `EXT-X-SKIP`,
//! `EXT-X-RENDITION-REPORT`) and `EXT-X-GAP`.
//!
//! The parser is our own line-oriented pass rather than `m3u8-rs` 6.0.1, because that crate
//! loses what a client needs (each point checked against 6.0.1): it reads `EXTINF` as `f32`
//! (2.002 becomes 2.0020001), attaches an `EXT-X-MAP` only to the segment right after it (the
//! RFC applies it to every following segment), drops tags after the last segment URI
//! (trailing `EXT-X-PART`, `EXT-X-PRELOAD-HINT`, `EXT-X-RENDITION-REPORT`), turns a malformed
//! `#EXTINF` into a silent zero duration, treats a last tag line without a newline as a
//! segment URI, and rejects a byte-order mark.
//! `tests/hls_parse.rs` still cross-checks the two parsers on well-formed playlists.

#![warn(missing_docs)]

pub mod attributes;
mod datetime;
mod error;
mod model;
mod parser;
mod select;
pub mod timing;

pub use datetime::parse_date_time;
pub use error::PlaylistError;
pub use model::{
    ByteRange, InitSection, MasterPlaylist, MediaPlaylist, Part, Playlist, PlaylistType,
    PreloadHint, PreloadHintType, Rendition, RenditionReport, RenditionType, Segment,
    ServerControl, Variant,
};
pub use parser::parse;
pub use select::{
    ParseVariantChoiceError, VariantChoice, audio_renditions_for, ladder, select_variants,
};

#[cfg(test)]
mod tests;

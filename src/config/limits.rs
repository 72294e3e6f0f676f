//! Safety limits on what one viewer takes in.

use super::cli::RunArgs;
use super::parse::{count, size};
use super::problems::Problems;

/// Default `--max-playlist-size` in bytes.
pub const DEFAULT_MAX_PLAYLIST_SIZE: u64 = 8 << 20;
/// Default `--max-tracks`.
pub const DEFAULT_MAX_TRACKS: usize = 16;

/// Per-viewer limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--max-playlist-size`: largest playlist body read into memory, in bytes.
    pub max_playlist_size: u64,
    /// `--max-tracks`: most tracks one viewer plays.
    pub max_tracks: usize,
}

impl Limits {
    /// Validate `--max-playlist-size` and `--max-tracks`.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        Limits {
            max_playlist_size: p.or(
                size("--max-playlist-size", &a.max_playlist_size),
                DEFAULT_MAX_PLAYLIST_SIZE,
            ),
            max_tracks: p.or(
                count("--max-tracks", &a.max_tracks, 1, 10_000).map(|n| n as usize),
                DEFAULT_MAX_TRACKS,
            ),
        }
    }
}

//! URL layout of the origin (pure parsing).
//!
//! | Path                   | Resource                                        |
//! |------------------------|-------------------------------------------------|
//! | `/master.m3u8`         | master playlist                                 |
//! | `/v{i}/playlist.m3u8`  | media playlist of variant i (0-based)           |
//! | `/v{i}/seg{N}.ts`      | segment with media sequence number N of variant i |
//! | `/v{i}/seg{N}.{k}.ts`  | LL-HLS part k of segment N (with `--part-duration`) |
//! | `/a/playlist.m3u8`     | audio rendition playlist (`--audio-rendition`)  |
//! | `/a/seg{N}.ts`         | audio rendition segment N                       |
//! | `/health`              | `200 ok`                                        |
//! | `/ch{c}/…`             | channel c's copy of any path above but `/health` (`--channels`) |
//!
//! Numbers are plain decimal without leading zeros; the query string is ignored.

/// A media track: one variant, or the audio rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Variant `i` of the ladder.
    Variant(usize),
    /// The separate audio rendition.
    Audio,
}

/// What a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/master.m3u8`.
    Master,
    /// A media playlist.
    Playlist(Track),
    /// A segment.
    Segment(Track, u64),
    /// An LL-HLS part: segment N, part k.
    Part(Track, u64, u64),
    /// `/health`.
    Health,
    /// Anything else.
    NotFound,
}

/// Parses a request path (query already stripped or ignored).
pub fn route(path: &str) -> Route {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    match path {
        "/master.m3u8" => return Route::Master,
        "/health" => return Route::Health,
        _ => {}
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Route::NotFound;
    };
    let Some((dir, file)) = rest.split_once('/') else {
        return Route::NotFound;
    };
    let track = if dir == "a" {
        Track::Audio
    } else if let Some(i) = dir.strip_prefix('v').and_then(number) {
        match usize::try_from(i) {
            Ok(i) => Track::Variant(i),
            Err(_) => return Route::NotFound,
        }
    } else {
        return Route::NotFound;
    };
    if file == "playlist.m3u8" {
        return Route::Playlist(track);
    }
    let Some(stem) = file.strip_prefix("seg").and_then(|f| f.strip_suffix(".ts")) else {
        return Route::NotFound;
    };
    if let Some((n, k)) = stem.split_once('.') {
        return match (number(n), number(k)) {
            (Some(n), Some(k)) => Route::Part(track, n, k),
            _ => Route::NotFound,
        };
    }
    match number(stem) {
        Some(n) => Route::Segment(track, n),
        None => Route::NotFound,
    }
}

/// Splits a request path into its channel and the path within the channel: `/ch{c}/rest`
/// is channel `c` (when `c < channels`) with path `/rest`; any other path is channel 0's
/// as it is. `None` for a `/ch{c}/` prefix naming no channel served.
pub fn channel(path: &str, channels: u32) -> (Option<u32>, &str) {
    let Some(rest) = path.strip_prefix("/ch") else {
        return (Some(0), path);
    };
    let Some(slash) = rest.find('/') else {
        return (Some(0), path);
    };
    match number(&rest[..slash]) {
        Some(c) if c < u64::from(channels) => (Some(c as u32), &rest[slash..]),
        Some(_) => (None, path),
        None => (Some(0), path),
    }
}

/// A canonical decimal u64 ("0" or no leading zero).
fn number(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_paths() {
        assert_eq!(route("/master.m3u8"), Route::Master);
        assert_eq!(route("/master.m3u8?x=1"), Route::Master);
        assert_eq!(route("/health"), Route::Health);
        assert_eq!(
            route("/v0/playlist.m3u8"),
            Route::Playlist(Track::Variant(0))
        );
        assert_eq!(route("/v12/seg0.ts"), Route::Segment(Track::Variant(12), 0));
        assert_eq!(route("/a/seg1234.ts"), Route::Segment(Track::Audio, 1234));
        assert_eq!(route("/a/playlist.m3u8"), Route::Playlist(Track::Audio));
        assert_eq!(
            route("/v1/seg12.3.ts"),
            Route::Part(Track::Variant(1), 12, 3)
        );
        assert_eq!(
            route("/v0/seg0.0.ts?x"),
            Route::Part(Track::Variant(0), 0, 0)
        );
    }

    #[test]
    fn channel_prefixes_split_off() {
        assert_eq!(channel("/master.m3u8", 1), (Some(0), "/master.m3u8"));
        assert_eq!(channel("/ch0/master.m3u8", 1), (Some(0), "/master.m3u8"));
        assert_eq!(channel("/ch19/v1/seg3.ts", 20), (Some(19), "/v1/seg3.ts"));
        assert_eq!(channel("/ch20/v1/seg3.ts", 20), (None, "/ch20/v1/seg3.ts"));
        assert_eq!(
            channel("/ch01/master.m3u8", 20),
            (Some(0), "/ch01/master.m3u8")
        );
        assert_eq!(route(channel("/ch01/master.m3u8", 20).1), Route::NotFound);
        assert_eq!(channel("/chx", 20), (Some(0), "/chx"));
    }

    #[test]
    fn rejects_everything_else() {
        for p in [
            "",
            "/",
            "master.m3u8",
            "/v/playlist.m3u8",
            "/v01/seg1.ts",
            "/v0/seg01.ts",
            "/v0/seg.ts",
            "/v0/seg-1.ts",
            "/v0/seg+1.ts",
            "/v0/seg99999999999999999999999.ts",
            "/v0/seg1.ts/x",
            "/x/seg1.ts",
            "/v0/playlist.m3u",
            "/v0//seg1.ts",
            "/V0/seg1.ts",
            "/v0/seg1..ts",
            "/v0/seg1.01.ts",
            "/v0/seg1.2.3.ts",
            "/v0/seg.1.ts",
        ] {
            assert_eq!(route(p), Route::NotFound, "{p:?}");
        }
    }
}

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

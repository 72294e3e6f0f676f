//! What kind of request FFmpeg made: master playlist, media playlist, init section or
//! segment.
//!
//! The proxy sees every body, so a playlist is classified by its content: a body starting
//! with `#EXTM3U` is a master when it lists `#EXT-X-STREAM-INF` variants, else a media
//! playlist; `EXT-X-MAP` URIs of media playlists are remembered (bounded) so requests for
//! them count as init sections. A response without a playlist body (an error status, a
//! segment) is classified by its URL: a URL known to be a master (the entry URL, or one
//! whose body was a master) → master; a remembered init URI → init; a path ending in
//! `.m3u8`/`.m3u` → media playlist; anything else → segment (AES keys included).

use std::collections::VecDeque;
use std::sync::Mutex;

use url::Url;

use crate::stats::event::RequestKind;

/// Remembered master URLs.
const MAX_MASTERS: usize = 16;
/// Remembered init-section URLs.
const MAX_INITS: usize = 64;

/// Classification by path alone (stderr lines carry only the request path).
#[derive(Debug, Clone)]
pub struct Classifier {
    master_path: Option<String>,
}

impl Classifier {
    /// `master` is the entry URL when it is a master playlist.
    pub fn new(master: Option<&Url>) -> Self {
        Classifier {
            master_path: master.map(path_and_query),
        }
    }

    /// Kind of a request for `path` (origin-form: path and query).
    pub fn kind_of_path(&self, path: &str) -> RequestKind {
        kind_of_path(path, self.master_path.as_deref() == Some(path))
    }
}

fn path_and_query(u: &Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Kind by path: master if known to be one, `.m3u8`/`.m3u` → media playlist, else segment.
pub fn kind_of_path(path: &str, known_master: bool) -> RequestKind {
    if known_master {
        return RequestKind::Master;
    }
    let p = path.split(['?', '#']).next().unwrap_or(path);
    let lower = p.to_ascii_lowercase();
    if lower.ends_with(".m3u8") || lower.ends_with(".m3u") {
        RequestKind::Playlist
    } else {
        RequestKind::Segment
    }
}

/// What a playlist body says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// A multivariant playlist.
    Master,
    /// A media playlist and the init-section URLs it references.
    Media(Vec<Url>),
}

/// Whether a body (or its first bytes) starts like a playlist.
pub fn looks_like_playlist(first: &[u8]) -> bool {
    let b = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let b = &b[start..];
    let n = b.len().min(7);
    n > 0 && b[..n] == b"#EXTM3U"[..n]
}

/// Classify a complete playlist body fetched from `url`.
pub fn body_kind(body: &[u8], url: &Url) -> Option<BodyKind> {
    if !looks_like_playlist(body) {
        return None;
    }
    if contains(body, b"#EXT-X-STREAM-INF") {
        return Some(BodyKind::Master);
    }
    let mut inits = Vec::new();
    if contains(body, b"#EXT-X-MAP")
        && let Ok(crate::hls::Playlist::Media(pl)) = crate::hls::parse(body, url)
    {
        for s in &pl.segments {
            if let Some(m) = &s.map
                && !inits.contains(&m.uri)
            {
                inits.push(m.uri.clone());
            }
        }
    }
    Some(BodyKind::Media(inits))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The proxy's classifier: learns masters and init sections from the bodies it forwards.
#[derive(Debug)]
pub struct Learner {
    masters: Mutex<VecDeque<String>>,
    inits: Mutex<VecDeque<String>>,
}

impl Learner {
    /// `master` is the entry URL when it is a master playlist.
    pub fn new(master: Option<&Url>) -> Self {
        let mut masters = VecDeque::new();
        if let Some(m) = master {
            masters.push_back(m.as_str().to_string());
        }
        Learner {
            masters: Mutex::new(masters),
            inits: Mutex::new(VecDeque::new()),
        }
    }

    /// Kind of a finished request for `url`; `body` is the playlist body if it looked like
    /// one (and the response was a success).
    pub fn kind(&self, url: &Url, body: Option<&[u8]>) -> RequestKind {
        if let Some(kind) = body.and_then(|b| body_kind(b, url)) {
            return match kind {
                BodyKind::Master => {
                    remember(&self.masters, url.as_str(), MAX_MASTERS);
                    RequestKind::Master
                }
                BodyKind::Media(inits) => {
                    for i in inits {
                        remember(&self.inits, i.as_str(), MAX_INITS);
                    }
                    RequestKind::Playlist
                }
            };
        }
        if known(&self.masters, url.as_str()) {
            return RequestKind::Master;
        }
        if known(&self.inits, url.as_str()) {
            return RequestKind::Init;
        }
        kind_of_path(url.path(), false)
    }
}

fn remember(set: &Mutex<VecDeque<String>>, url: &str, cap: usize) {
    if let Ok(mut s) = set.lock()
        && !s.iter().any(|u| u == url)
    {
        if s.len() >= cap {
            s.pop_front();
        }
        s.push_back(url.to_string());
    }
}

fn known(set: &Mutex<VecDeque<String>>, url: &str) -> bool {
    set.lock().is_ok_and(|s| s.iter().any(|u| u == url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn paths() {
        let c = Classifier::new(Some(&u("https://h/live/master.m3u8?t=1")));
        assert_eq!(c.kind_of_path("/live/master.m3u8?t=1"), RequestKind::Master);
        assert_eq!(
            c.kind_of_path("/live/v0/playlist.M3U8"),
            RequestKind::Playlist
        );
        assert_eq!(
            c.kind_of_path("/live/v0/seg1.ts?x=.m3u8"),
            RequestKind::Segment
        );
        assert_eq!(c.kind_of_path("/a/seg1.m4s"), RequestKind::Segment);
    }

    #[test]
    fn bodies_decide_playlists_and_teach_masters_and_inits() {
        let l = Learner::new(None);
        let master = u("http://h/other.m3u8");
        assert_eq!(
            l.kind(
                &master,
                Some(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0.m3u8\n")
            ),
            RequestKind::Master
        );
        // Later failures of that URL (no body) are still masters.
        assert_eq!(l.kind(&master, None), RequestKind::Master);
        let media = u("http://h/v0/prog.m3u8");
        let body =
            b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\ns1.m4s\n";
        assert_eq!(l.kind(&media, Some(body)), RequestKind::Playlist);
        assert_eq!(l.kind(&u("http://h/v0/init.mp4"), None), RequestKind::Init);
        assert_eq!(l.kind(&u("http://h/v0/s1.m4s"), None), RequestKind::Segment);
        // A 404 for a media playlist: no body, by path.
        assert_eq!(
            l.kind(&u("http://h/v9/x.m3u8"), None),
            RequestKind::Playlist
        );
    }

    #[test]
    fn playlist_sniffing() {
        assert!(looks_like_playlist(b"\xEF\xBB\xBF#EXTM3U\n"));
        assert!(looks_like_playlist(b"  \n#EXTM3U"));
        assert!(looks_like_playlist(b"#EXT"), "a first chunk may be short");
        assert!(!looks_like_playlist(b"\x47\x40\x00"));
        assert!(!looks_like_playlist(b""));
    }
}

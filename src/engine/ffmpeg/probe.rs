//! The variant probe: what FFmpeg is given to play, decided once at start with the core
//! playlist parser (no ffprobe).
//!
//! * A media playlist URL is played as is (`-map 0`).
//! * A master with `-variant all`: the master, `-map 0` (FFmpeg plays every variant).
//! * A master with `highest`/`lowest`/`first`: the chosen variant's media playlist directly
//!   (`-map 0`), so FFmpeg loads nothing else — unless the variant takes its audio from a
//!   separate rendition, then the master with `-map 0:p:<index>` (FFmpeg numbers the
//!   programs of a master 0, 1, … in variant order, and a program includes its audio).
//!
//! The probe also reads the target duration (for the default stall threshold) and the
//! media FFmpeg tunes in behind the live edge (it starts three segments from the end). Its
//! requests are real requests to the origin and are reported like every other.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::command::MapChoice;
use crate::engine::http::{Connections, Fetch, HttpSettings};
use crate::hls::{self, MediaPlaylist, Playlist, VariantChoice};
use crate::stats::event::RequestKind;
use crate::stats::hub::EventSink;

/// Segments from the end FFmpeg's HLS demuxer starts at (`-live_start_index -3`).
pub const FFMPEG_LIVE_START_SEGMENTS: usize = 3;

/// What FFmpeg plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The URL given to FFmpeg.
    pub input: Url,
    /// Its stream mapping.
    pub map: MapChoice,
    /// The entry URL when it is a master playlist.
    pub master: Option<Url>,
    /// Target duration of the media playlist played (None when unknown).
    pub target_duration: Option<Duration>,
    /// Media between where FFmpeg starts and the live edge (zero for VOD / unknown).
    pub tune_in_latency: Duration,
}

impl Choice {
    /// The probe-failure fallback: the URL as given, FFmpeg's own stream choice.
    pub fn fallback(url: &Url) -> Choice {
        Choice {
            input: url.clone(),
            map: MapChoice::FfmpegDefault,
            master: None,
            target_duration: None,
            tune_in_latency: Duration::ZERO,
        }
    }
}

/// Decide from an already-parsed entry playlist (pure); `media` is the media playlist of
/// the variant that will be played (fetched by the caller), if any.
pub fn decide(
    entry_url: &Url,
    entry: &Playlist,
    choice: VariantChoice,
) -> Result<Decision, String> {
    match entry {
        Playlist::Media(_) => Ok(Decision {
            input: entry_url.clone(),
            map: MapChoice::All,
            master: None,
            media_url: None,
        }),
        Playlist::Master(m) => {
            let chosen = hls::select_variants(m, choice);
            let Some(first) = chosen.first() else {
                return Err("the master playlist lists no variants".into());
            };
            let index = m
                .variants
                .iter()
                .position(|v| std::ptr::eq(v, *first))
                .unwrap_or(0);
            let (input, map) = if choice == VariantChoice::All {
                (entry_url.clone(), MapChoice::All)
            } else if hls::audio_renditions_for(m, first).is_empty() {
                (first.uri.clone(), MapChoice::All)
            } else {
                (entry_url.clone(), MapChoice::Program(index))
            };
            Ok(Decision {
                input,
                map,
                master: Some(entry_url.clone()),
                media_url: Some(first.uri.clone()),
            })
        }
    }
}

/// The pure part of a [`Choice`], before the media playlist is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// URL given to FFmpeg.
    pub input: Url,
    /// Mapping.
    pub map: MapChoice,
    /// Entry URL if it is a master.
    pub master: Option<Url>,
    /// Media playlist to read for the target duration (None: the entry is one).
    pub media_url: Option<Url>,
}

/// Media FFmpeg starts behind the live edge: the last three segments of a live playlist.
pub fn tune_in_latency(pl: &MediaPlaylist) -> Duration {
    if pl.end_list {
        return Duration::ZERO;
    }
    pl.segments
        .iter()
        .rev()
        .take(FFMPEG_LIVE_START_SEGMENTS)
        .map(|s| s.duration)
        .sum()
}

fn report(sink: Option<&EventSink>, kind: RequestKind, f: &Fetch) {
    if let Some(s) = sink {
        s.send_request(f.request_done(kind, f.error, false), &f.final_url);
    }
}

async fn fetch(
    conn: &mut Connections,
    url: &Url,
    sink: Option<&EventSink>,
    unparsed_kind: RequestKind,
) -> Result<(Playlist, Url), String> {
    let f = conn.get(url, None, true).await;
    let parsed = match (&f.error, &f.body) {
        (None, Some(b)) => Some(hls::parse(b, &f.final_url)),
        _ => None,
    };
    let kind = match &parsed {
        Some(Ok(Playlist::Master(_))) => RequestKind::Master,
        Some(Ok(Playlist::Media(_))) => RequestKind::Playlist,
        _ => unparsed_kind,
    };
    report(sink, kind, &f);
    match (f.error, parsed) {
        (Some(e), _) => Err(format!(
            "GET {}: {}{}",
            crate::config::parse::redact_url(url),
            e.as_str(),
            f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
        )),
        (None, Some(Ok(pl))) => Ok((pl, f.final_url)),
        (None, Some(Err(e))) => Err(format!(
            "{} is not a valid playlist: {e}",
            crate::config::parse::redact_url(url)
        )),
        (None, None) => Err("empty response".into()),
    }
}

/// Fetch the entry (and the played media playlist) and decide what FFmpeg plays. Every
/// request is reported to `sink`.
pub async fn choose(
    url: &Url,
    choice: VariantChoice,
    settings: Arc<HttpSettings>,
    user_agent: &str,
    sink: Option<&EventSink>,
) -> Result<Choice, String> {
    let mut conn = Connections::new(settings, user_agent.to_string());
    let (entry, entry_final) = fetch(&mut conn, url, sink, RequestKind::Master).await?;
    let d = decide(&entry_final, &entry, choice)?;
    let media = match (&entry, &d.media_url) {
        (Playlist::Media(pl), _) => pl.clone(),
        (Playlist::Master(_), Some(media_url)) => {
            match fetch(&mut conn, media_url, sink, RequestKind::Playlist).await? {
                (Playlist::Media(pl), _) => pl,
                (Playlist::Master(_), _) => {
                    return Err(format!(
                        "variant {} is a master playlist, not a media playlist",
                        crate::config::parse::redact_url(media_url)
                    ));
                }
            }
        }
        (Playlist::Master(_), None) => return Err("no variant to play".into()),
    };
    // The default stall threshold derives from the target duration: clamp absurd timing
    // (TARGETDURATION:0 would make every moment a stall) as the native engine does.
    let mut media = media;
    if hls::timing::clamp(&mut media).any() {
        tracing::warn!(
            target_duration = ?media.target_duration,
            "absurd playlist timing clamped for the stall threshold"
        );
    }
    Ok(Choice {
        input: d.input,
        map: d.map,
        master: d.master,
        target_duration: Some(media.target_duration),
        tune_in_latency: tune_in_latency(&media),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn master(body: &str) -> Playlist {
        hls::parse(body.as_bytes(), &u("http://o/live/master.m3u8"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const MUXED: &str = "#EXTM3U\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=200000\nv0/p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2000000\nv2/p.m3u8\n";

    const SEPARATE_AUDIO: &str = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,URI=\"a/p.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"a\"\nv1/p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=200000,AUDIO=\"a\"\nv0/p.m3u8\n";

    #[test]
    fn muxed_variants_are_played_by_their_media_playlist() {
        let m = u("http://o/live/master.m3u8");
        let d = decide(&m, &master(MUXED), VariantChoice::Lowest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.input, u("http://o/live/v0/p.m3u8"));
        assert_eq!(d.map, MapChoice::All);
        assert_eq!(d.master, Some(m.clone()));
        let d =
            decide(&m, &master(MUXED), VariantChoice::Highest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.input, u("http://o/live/v2/p.m3u8"));
        let d = decide(&m, &master(MUXED), VariantChoice::All).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.input, d.map), (m.clone(), MapChoice::All));
        assert_eq!(d.media_url, Some(u("http://o/live/v1/p.m3u8")));
    }

    #[test]
    fn separate_audio_maps_the_program_of_the_master() {
        let m = u("http://o/live/master.m3u8");
        let d = decide(&m, &master(SEPARATE_AUDIO), VariantChoice::Lowest)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.input, d.map), (m, MapChoice::Program(1)));
    }

    #[test]
    fn tune_in_is_the_last_three_segments_of_a_live_playlist() {
        let pl = hls::parse(
            b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na\n#EXTINF:2,\nb\n#EXTINF:1.5,\nc\n#EXTINF:2,\nd\n",
            &u("http://o/p.m3u8"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Playlist::Media(pl) = pl else {
            panic!("media")
        };
        assert_eq!(tune_in_latency(&pl), Duration::from_millis(5500));
    }
}

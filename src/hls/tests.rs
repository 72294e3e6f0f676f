//! Unit tests for the playlist parser and helpers, with inline playlists.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use super::*;

fn base() -> Url {
    Url::parse("https://cdn.example.com/live/stream/index.m3u8?token=abc").expect("base URL")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

fn media(body: &str) -> MediaPlaylist {
    match parse(body.as_bytes(), &base()) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("expected a media playlist, got {other:?}"),
    }
}

fn master(body: &str) -> MasterPlaylist {
    match parse(body.as_bytes(), &base()) {
        Ok(Playlist::Master(m)) => m,
        other => panic!("expected a master playlist, got {other:?}"),
    }
}

fn err(body: &str) -> PlaylistError {
    match parse(body.as_bytes(), &base()) {
        Err(e) => e,
        Ok(p) => panic!("expected an error, got {p:?}"),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A live playlist with `n` segments of `dur` seconds starting at MSN `seq`.
fn live(n: usize, dur: f64, td: u64, seq: u64, extra_header: &str) -> String {
    let mut s = format!(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{td}\n#EXT-X-MEDIA-SEQUENCE:{seq}\n{extra_header}"
    );
    for i in 0..n {
        s.push_str(&format!("#EXTINF:{dur},\nseg{}.ts\n", seq + i as u64));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Master playlists and variant selection
// ---------------------------------------------------------------------------------------------

const MASTER: &str = r#"#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="Deutsch",LANGUAGE="de",DEFAULT=YES,AUTOSELECT=YES,URI="audio/de.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="ac3",NAME="Main",URI="/surround/main.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="ac3",NAME="Commentary",URI="/surround/comm.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="muxed",NAME="Main",DEFAULT=YES
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="muxed",NAME="Alt",URI="alt.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",URI="subs/en.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",AUDIO="aac"
https://other.example.net/hi/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,AUDIO="ac3"
hi-ac3/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="muxed",VIDEO="v"
low2/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="iframes.m3u8"
"#;

#[test]
fn master_variants_and_renditions() {
    let m = master(MASTER);
    assert_eq!(m.variants.len(), 4, "I-frame streams are not variants");
    let v = &m.variants[0];
    assert_eq!(
        v.uri,
        url("https://cdn.example.com/live/stream/low/index.m3u8")
    );
    assert_eq!(v.bandwidth, 800_000);
    assert_eq!(v.average_bandwidth, Some(700_000));
    assert_eq!(v.resolution, Some((640, 360)));
    assert_eq!(v.codecs.as_deref(), Some("avc1.4d401e,mp4a.40.2"));
    assert_eq!(v.audio_group.as_deref(), Some("aac"));
    assert_eq!(v.subtitles_group.as_deref(), Some("subs"));
    assert_eq!(v.video_group, None);
    assert_eq!(
        m.variants[1].uri,
        url("https://other.example.net/hi/index.m3u8")
    );
    assert_eq!(m.variants[1].average_bandwidth, None);
    assert_eq!(m.variants[3].video_group.as_deref(), Some("v"));

    assert_eq!(m.renditions.len(), 8);
    let de = &m.renditions[1];
    assert_eq!(de.kind, RenditionType::Audio);
    assert_eq!(de.group_id, "aac");
    assert_eq!(de.name, "Deutsch");
    assert_eq!(de.language.as_deref(), Some("de"));
    assert!(de.default && de.autoselect);
    assert_eq!(
        de.uri,
        Some(url("https://cdn.example.com/live/stream/audio/de.m3u8"))
    );
    assert!(!m.renditions[0].default);
    assert_eq!(
        m.renditions[2].uri,
        Some(url("https://cdn.example.com/surround/main.m3u8"))
    );
    assert_eq!(m.renditions[6].kind, RenditionType::Subtitles);
    assert_eq!(m.renditions[7].kind, RenditionType::ClosedCaptions);
    assert_eq!(m.renditions[7].uri, None);
}

fn uris(vs: &[&Variant]) -> Vec<String> {
    vs.iter().map(|v| v.uri.path().to_owned()).collect()
}

#[test]
fn select_variants_by_choice() {
    let m = master(MASTER);
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::All)),
        [
            "/live/stream/low/index.m3u8",
            "/hi/index.m3u8",
            "/live/stream/hi-ac3/index.m3u8",
            "/live/stream/low2/index.m3u8"
        ]
    );
    // Ties go to the first listed, for both directions.
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::Highest)),
        ["/hi/index.m3u8"]
    );
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::Lowest)),
        ["/live/stream/low/index.m3u8"]
    );
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::First)),
        ["/live/stream/low/index.m3u8"]
    );
}

#[test]
fn select_variants_unsorted_bandwidths() {
    let m = master(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300\nb.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=100\na.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=900\nc.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=100\nd.m3u8\n",
    );
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::Highest)),
        ["/live/stream/c.m3u8"]
    );
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::Lowest)),
        ["/live/stream/a.m3u8"]
    );
    assert_eq!(
        uris(&select_variants(&m, VariantChoice::First)),
        ["/live/stream/b.m3u8"]
    );
    assert_eq!(select_variants(&m, VariantChoice::All).len(), 4);
    let empty = MasterPlaylist {
        variants: vec![],
        renditions: vec![],
    };
    for c in VariantChoice::ALL {
        assert!(select_variants(&empty, c).is_empty());
    }
}

#[test]
fn audio_renditions_follow_the_group() {
    let m = master(MASTER);
    let names = |v: &Variant| -> Vec<String> {
        audio_renditions_for(&m, v)
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    assert_eq!(names(&m.variants[0]), ["Deutsch"], "DEFAULT=YES wins");
    assert_eq!(
        names(&m.variants[2]),
        ["Main"],
        "no default: first in group"
    );
    assert!(
        names(&m.variants[3]).is_empty(),
        "default rendition is muxed (no URI): nothing extra to fetch"
    );
    let mut no_group = m.variants[0].clone();
    no_group.audio_group = None;
    assert!(names(&no_group).is_empty());
    let mut unknown_group = m.variants[0].clone();
    unknown_group.audio_group = Some("nope".into());
    assert!(names(&unknown_group).is_empty());
    let mut subs_group = m.variants[0].clone();
    subs_group.audio_group = Some("subs".into());
    assert!(names(&subs_group).is_empty(), "only TYPE=AUDIO counts");
}

#[test]
fn variant_choice_from_str_and_display() {
    for c in VariantChoice::ALL {
        assert_eq!(c.to_string().parse::<VariantChoice>(), Ok(c));
    }
    assert_eq!(
        "HIGHEST".parse::<VariantChoice>(),
        Ok(VariantChoice::Highest)
    );
    assert_eq!(VariantChoice::Lowest.to_string(), "lowest");
    let e = "best".parse::<VariantChoice>().expect_err("invalid");
    let msg = e.to_string();
    assert!(msg.contains("best"), "{msg}");
    for name in ["all", "highest", "lowest", "first"] {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn master_errors() {
    assert_eq!(
        err("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"),
        PlaylistError::MissingVariantUri { line: 2 }
    );
    assert_eq!(
        err("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n"),
        PlaylistError::MissingVariantUri { line: 2 }
    );
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n"),
        PlaylistError::InvalidTag { line: 2, ref reason, .. } if reason.contains("BANDWIDTH")
    ));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=99999999999999999999\na.m3u8\n"),
        PlaylistError::InvalidTag { line: 2, .. }
    ));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-MEDIA:TYPE=LASER,GROUP-ID=\"a\",NAME=\"b\"\n"),
        PlaylistError::InvalidTag { line: 2, .. }
    ));
    assert_eq!(
        err("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"b\",URI=\"a.m3u8\"\n"),
        PlaylistError::NoVariants
    );
    assert_eq!(
        err("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n#EXT-X-TARGETDURATION:2\n"),
        PlaylistError::Mixed {
            line: 4,
            tag: "EXT-X-TARGETDURATION".into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Media playlists
// ---------------------------------------------------------------------------------------------

#[test]
fn basic_media_playlist() {
    let m = media(&live(3, 2.002, 2, 100, ""));
    assert_eq!(m.target_duration, secs(2.0));
    assert_eq!(m.media_sequence, 100);
    assert_eq!(m.discontinuity_sequence, 0);
    assert_eq!(m.segments.len(), 3);
    assert_eq!(
        m.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [100, 101, 102]
    );
    assert_eq!(m.segments[0].duration, secs(2.002));
    assert_eq!(
        m.segments[1].uri,
        url("https://cdn.example.com/live/stream/seg101.ts")
    );
    assert_eq!(m.last_msn(), Some(102));
    assert_eq!(m.next_msn(), 103);
    assert_eq!(m.duration(), secs(2.002) * 3);
    assert!(!m.end_list && m.playlist_type.is_none() && m.is_live());
    assert!(m.server_control.is_none() && m.part_target.is_none());
    assert_eq!(m.segment(101).map(|s| s.msn), Some(101));
    assert!(m.segment(99).is_none() && m.segment(103).is_none());
}

#[test]
fn extinf_forms() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\na.ts\n#EXTINF:9.5\nb.ts\n\
         #EXTINF:4.000,title, with comma\nc.ts\n#EXTINF: 3 ,\nd.ts\n",
    );
    let d: Vec<Duration> = m.segments.iter().map(|s| s.duration).collect();
    assert_eq!(d, [secs(10.0), secs(9.5), secs(4.0), secs(3.0)]);
}

#[test]
fn empty_media_playlist() {
    let m = media("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n");
    assert!(m.segments.is_empty());
    assert_eq!(m.last_msn(), None);
    assert_eq!(m.next_msn(), 7);
    assert_eq!(m.duration(), Duration::ZERO);
    assert_eq!(m.live_start_index(), 0);
    assert!(m.segments_after(0).is_empty());
}

#[test]
fn byte_ranges_explicit_and_continuing() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:4\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:1000@0\nmain.ts\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:2000\nmain.ts\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:500\nmain.ts\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:100@9000\nmain.ts\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:7\nmain.ts\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:50@10\nother.ts\n\
         #EXTINF:4,\nwhole.ts\n",
    );
    let ranges: Vec<Option<(u64, u64)>> = m
        .segments
        .iter()
        .map(|s| s.byte_range.map(|r| (r.offset, r.length)))
        .collect();
    assert_eq!(
        ranges,
        [
            Some((0, 1000)),
            Some((1000, 2000)),
            Some((3000, 500)),
            Some((9000, 100)),
            Some((9100, 7)),
            Some((10, 50)),
            None
        ]
    );
    assert_eq!(
        m.segments[1].byte_range.and_then(|r| r.http_range()),
        Some("bytes=1000-2999".to_owned())
    );
    assert_eq!(
        ByteRange {
            offset: 5,
            length: 0
        }
        .http_range(),
        None
    );
}

#[test]
fn byte_range_without_offset_needs_a_previous_range_of_the_same_resource() {
    // First segment: nothing to continue from.
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:100\na.ts\n"),
        PlaylistError::InvalidTag { line: 4, ref tag, .. } if tag == "EXT-X-BYTERANGE"
    ));
    // Previous segment is another resource.
    assert!(matches!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\na.ts\n\
             #EXTINF:4,\n#EXT-X-BYTERANGE:100\nb.ts\n"
        ),
        PlaylistError::InvalidTag { line: 7, .. }
    ));
    // Previous segment is the whole resource.
    assert!(matches!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXTINF:4,\n#EXT-X-BYTERANGE:1\na.ts\n"
        ),
        PlaylistError::InvalidTag { line: 6, .. }
    ));
    // Overflow.
    assert!(matches!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:18446744073709551615@1\na.ts\n"
        ),
        PlaylistError::InvalidTag { line: 4, .. }
    ));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:abc\na.ts\n"),
        PlaylistError::InvalidTag { line: 4, .. }
    ));
}

#[test]
fn map_applies_until_the_next_map() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nnomap.ts\n\
         #EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n\
         #EXTINF:4,\n#EXT-X-BYTERANGE:1000@720\nmain.mp4\n#EXTINF:4,\n#EXT-X-BYTERANGE:1000\nmain.mp4\n\
         #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"/v2/init.mp4\"\n#EXTINF:4,\nv2/a.m4s\n#EXTINF:4,\nv2/b.m4s\n\
         #EXT-X-MAP:URI=\"init3.mp4\",BYTERANGE=\"64\"\n#EXTINF:4,\nc.m4s\n",
    );
    assert_eq!(m.segments[0].map, None);
    let first = InitSection {
        uri: url("https://cdn.example.com/live/stream/init.mp4"),
        byte_range: Some(ByteRange {
            offset: 0,
            length: 720,
        }),
    };
    assert_eq!(m.segments[1].map.as_ref(), Some(&first));
    assert_eq!(m.segments[2].map.as_ref(), Some(&first));
    assert_eq!(
        m.segments[2].byte_range,
        Some(ByteRange {
            offset: 1720,
            length: 1000
        })
    );
    let second = InitSection {
        uri: url("https://cdn.example.com/v2/init.mp4"),
        byte_range: None,
    };
    assert_eq!(m.segments[3].map.as_ref(), Some(&second));
    assert_eq!(m.segments[4].map.as_ref(), Some(&second));
    assert!(m.segments[3].discontinuity && !m.segments[4].discontinuity);
    assert_eq!(
        m.segments[5].map.as_ref().and_then(|i| i.byte_range),
        Some(ByteRange {
            offset: 0,
            length: 64
        }),
        "a MAP BYTERANGE without offset starts at 0"
    );
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n"),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
}

#[test]
fn discontinuities_and_sequence() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n\
         #EXTINF:6,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:6,\nb.ts\n#EXTINF:6,\nc.ts\n",
    );
    assert_eq!(m.discontinuity_sequence, 3);
    assert_eq!(
        m.segments
            .iter()
            .map(|s| s.discontinuity)
            .collect::<Vec<_>>(),
        [false, true, false]
    );
}

#[test]
fn program_date_time_explicit_extrapolated_and_reset() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nnone.ts\n\
         #EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n#EXTINF:2,\na.ts\n#EXTINF:1.5,\nb.ts\n#EXTINF:2,\nc.ts\n\
         #EXT-X-DISCONTINUITY\n#EXTINF:2,\nd.ts\n\
         #EXT-X-PROGRAM-DATE-TIME:2024-01-01T01:00:00+01:00\n#EXTINF:2,\ne.ts\n",
    );
    let t0 = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let pdt: Vec<Option<SystemTime>> = m.segments.iter().map(|s| s.program_date_time).collect();
    assert_eq!(
        pdt,
        [
            None,
            Some(t0),
            Some(t0 + secs(2.0)),
            Some(t0 + secs(3.5)),
            None,
            Some(t0)
        ]
    );
    assert!(matches!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\na.ts\n"
        ),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
}

#[test]
fn gap_segments() {
    let m =
        media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-GAP\na.ts\n#EXTINF:2,\nb.ts\n");
    assert!(m.segments[0].gap && !m.segments[1].gap);
}

#[test]
fn endlist_and_playlist_types() {
    let vod = media(&format!(
        "{}#EXT-X-ENDLIST\n",
        live(10, 2.0, 2, 0, "#EXT-X-PLAYLIST-TYPE:VOD\n")
    ));
    assert!(vod.end_list);
    assert_eq!(vod.playlist_type, Some(PlaylistType::Vod));
    assert!(!vod.is_live());
    assert_eq!(vod.live_start_index(), 0);

    let event = media(&live(10, 2.0, 2, 0, "#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    assert_eq!(event.playlist_type, Some(PlaylistType::Event));
    assert!(event.is_live());
    assert_eq!(event.live_start_index(), 7);

    let ended_event = media(&format!(
        "{}#EXT-X-ENDLIST\n",
        live(10, 2.0, 2, 0, "#EXT-X-PLAYLIST-TYPE:EVENT\n")
    ));
    assert!(!ended_event.is_live());
    assert_eq!(ended_event.live_start_index(), 0);

    let endlist_only = media(&format!("{}#EXT-X-ENDLIST\n", live(10, 2.0, 2, 0, "")));
    assert_eq!(endlist_only.live_start_index(), 0);

    let vod_without_endlist = media(&live(10, 2.0, 2, 0, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_eq!(vod_without_endlist.live_start_index(), 0);

    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:LIVE\n"),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
}

#[test]
fn live_start_index_three_target_durations() {
    let m = media(&live(10, 2.0, 2, 50, ""));
    assert_eq!(m.hold_back(), secs(6.0));
    assert_eq!(m.live_start_index(), 7, "3 segments from the end");
    assert_eq!(m.segments[m.live_start_index()].msn, 57);
}

#[test]
fn live_start_index_hold_back_larger_than_three_td() {
    let m = media(&live(
        10,
        2.0,
        2,
        0,
        "#EXT-X-SERVER-CONTROL:HOLD-BACK=10.0\n",
    ));
    assert_eq!(m.hold_back(), secs(10.0));
    assert_eq!(m.live_start_index(), 5);
    // A HOLD-BACK below 3 × TD is invalid; 3 × TD still applies.
    let m = media(&live(10, 2.0, 2, 0, "#EXT-X-SERVER-CONTROL:HOLD-BACK=1\n"));
    assert_eq!(m.live_start_index(), 7);
    // Not a whole number of segments: start at the latest one that is far enough back.
    let m = media(&live(10, 2.0, 2, 0, "#EXT-X-SERVER-CONTROL:HOLD-BACK=7\n"));
    assert_eq!(m.live_start_index(), 6);
}

#[test]
fn live_start_index_short_and_uneven_playlists() {
    assert_eq!(media(&live(2, 2.0, 2, 0, "")).live_start_index(), 0);
    assert_eq!(media(&live(3, 2.0, 2, 0, "")).live_start_index(), 0);
    assert_eq!(media(&live(4, 2.0, 2, 0, "")).live_start_index(), 1);
    assert_eq!(media(&live(1, 2.0, 2, 0, "")).live_start_index(), 0);
    // Segments shorter than the target duration: more segments needed.
    assert_eq!(media(&live(10, 1.0, 2, 0, "")).live_start_index(), 4);
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na\n#EXTINF:6,\nb\n#EXTINF:6,\nc\n\
         #EXTINF:5.9,\nd\n#EXTINF:6,\ne\n#EXTINF:6,\nf\n",
    );
    // 18 s needed: f+e+d = 17.9 < 18, so c.
    assert_eq!(m.live_start_index(), 2);
}

#[test]
fn segments_after_follows_msn() {
    let m = media(&live(5, 2.0, 2, 100, ""));
    let msns = |s: &[Segment]| s.iter().map(|s| s.msn).collect::<Vec<_>>();
    assert_eq!(msns(m.segments_after(0)), [100, 101, 102, 103, 104]);
    assert_eq!(msns(m.segments_after(99)), [100, 101, 102, 103, 104]);
    assert_eq!(msns(m.segments_after(100)), [101, 102, 103, 104]);
    assert_eq!(msns(m.segments_after(102)), [103, 104]);
    assert!(m.segments_after(104).is_empty());
    assert!(m.segments_after(500).is_empty());
    assert!(m.segments_after(u64::MAX).is_empty());
}

#[test]
fn uri_resolution() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
         #EXTINF:2,\nseg.ts\n#EXTINF:2,\n../up.ts\n#EXTINF:2,\n/root/abs.ts\n\
         #EXTINF:2,\nhttp://elsewhere.example.org:8080/x.ts?q=1\n#EXTINF:2,\n//proto.example.org/p.ts\n\
         #EXTINF:2,\nsub/dir/seg.ts?sig=xyz\n#EXTINF:2,\n  spaced.ts  \n",
    );
    let got: Vec<String> = m.segments.iter().map(|s| s.uri.to_string()).collect();
    assert_eq!(
        got,
        [
            "https://cdn.example.com/live/stream/seg.ts",
            "https://cdn.example.com/live/up.ts",
            "https://cdn.example.com/root/abs.ts",
            "http://elsewhere.example.org:8080/x.ts?q=1",
            "https://proto.example.org/p.ts",
            "https://cdn.example.com/live/stream/sub/dir/seg.ts?sig=xyz",
            "https://cdn.example.com/live/stream/spaced.ts",
        ]
    );
    // The base is the final URL after redirects, whatever it is.
    let redirected = url("http://edge-7.example.com/a/b/");
    let Ok(Playlist::Media(m)) = parse(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nx.ts\n",
        &redirected,
    ) else {
        panic!("should parse");
    };
    assert_eq!(m.segments[0].uri, url("http://edge-7.example.com/a/b/x.ts"));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://[::1\n"),
        PlaylistError::InvalidUri { line: 4, .. }
    ));
    assert_eq!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"\"\n"),
        PlaylistError::EmptyUri { line: 3 }
    );
}

const LL_HLS: &str = r#"#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:9
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24.0,PART-HOLD-BACK=1.002,HOLD-BACK=12
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:28.106Z
#EXTINF:4.00008,
fileSequence266.mp4
#EXT-X-PART:DURATION=2.00004,INDEPENDENT=YES,URI="filePart267.0.mp4"
#EXT-X-PART:DURATION=2.00004,URI="filePart267.1.mp4"
#EXTINF:4.00008,
fileSequence267.mp4
#EXT-X-PART:DURATION=1.0,INDEPENDENT=YES,URI="big268.mp4",BYTERANGE="1000@0"
#EXT-X-PART:DURATION=1.0,URI="big268.mp4",BYTERANGE="800"
#EXT-X-PART:DURATION=1.0,URI="big268.mp4",BYTERANGE="900",GAP=YES
#EXT-X-PART:DURATION=1.0,URI="big268.mp4",BYTERANGE="700"
#EXTINF:4.0,
fileSequence268.mp4
#EXT-X-PART:DURATION=0.33334,INDEPENDENT=YES,URI="filePart269.0.mp4"
#EXT-X-PART:DURATION=0.33334,URI="filePart269.1.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart269.2.mp4"
#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init2.mp4",BYTERANGE-START=100,BYTERANGE-LENGTH=20
#EXT-X-PRELOAD-HINT:TYPE=FUTURE,URI="ignored.mp4"

#EXT-X-RENDITION-REPORT:URI="../1M/waitForMSN.php",LAST-MSN=269,LAST-PART=1
#EXT-X-RENDITION-REPORT:URI="/4M/waitForMSN.php",LAST-MSN=268
"#;

#[test]
fn ll_hls_playlist() {
    let m = media(LL_HLS);
    assert_eq!(m.target_duration, secs(4.0));
    assert_eq!(
        m.server_control,
        Some(ServerControl {
            can_block_reload: true,
            can_skip_until: Some(secs(24.0)),
            can_skip_dateranges: false,
            hold_back: Some(secs(12.0)),
            part_hold_back: Some(secs(1.002)),
        })
    );
    assert_eq!(m.part_target, Some(secs(0.33334)));
    assert_eq!(m.skipped_segments, 0);
    assert_eq!(
        m.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [266, 267, 268]
    );
    assert!(m.segments[0].parts.is_empty());
    let p = &m.segments[1].parts;
    assert_eq!(p.len(), 2);
    assert_eq!(
        p[0],
        Part {
            uri: url("https://cdn.example.com/live/stream/filePart267.0.mp4"),
            duration: secs(2.00004),
            independent: true,
            byte_range: None,
            gap: false,
        }
    );
    assert!(!p[1].independent);
    let ranges: Vec<(u64, u64, bool, bool)> = m.segments[2]
        .parts
        .iter()
        .map(|p| {
            let r = p.byte_range.expect("part byte range");
            (r.offset, r.length, p.independent, p.gap)
        })
        .collect();
    assert_eq!(
        ranges,
        [
            (0, 1000, true, false),
            (1000, 800, false, false),
            (1800, 900, false, true),
            (2700, 700, false, false)
        ]
    );
    assert!(m.segments.iter().all(|s| s.map.is_some()));
    assert_eq!(m.trailing_parts.len(), 2);
    assert!(m.trailing_parts[0].independent);
    assert_eq!(m.next_msn(), 269);
    assert_eq!(
        m.preload_hints,
        [
            PreloadHint {
                kind: PreloadHintType::Part,
                uri: url("https://cdn.example.com/live/stream/filePart269.2.mp4"),
                byte_range_start: None,
                byte_range_length: None,
            },
            PreloadHint {
                kind: PreloadHintType::Map,
                uri: url("https://cdn.example.com/live/stream/init2.mp4"),
                byte_range_start: Some(100),
                byte_range_length: Some(20),
            }
        ]
    );
    assert_eq!(
        m.rendition_reports,
        [
            RenditionReport {
                uri: url("https://cdn.example.com/live/1M/waitForMSN.php"),
                last_msn: Some(269),
                last_part: Some(1),
            },
            RenditionReport {
                uri: url("https://cdn.example.com/4M/waitForMSN.php"),
                last_msn: Some(268),
                last_part: None,
            }
        ]
    );
    assert_eq!(m.hold_back(), secs(12.0));
    assert_eq!(m.live_start_index(), 0, "12 s hold-back on a 12 s playlist");
}

#[test]
fn ll_hls_part_byte_range_errors() {
    let head = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1\n";
    assert!(matches!(
        err(&format!(
            "{head}#EXT-X-PART:DURATION=1,URI=\"a.mp4\",BYTERANGE=\"10\"\n"
        )),
        PlaylistError::InvalidTag { line: 4, .. }
    ));
    assert!(matches!(
        err(&format!("{head}#EXT-X-PART:URI=\"a.mp4\"\n")),
        PlaylistError::InvalidTag { line: 4, ref reason, .. } if reason.contains("DURATION")
    ));
    assert!(matches!(
        err(&format!("{head}#EXT-X-PART:DURATION=1\n")),
        PlaylistError::InvalidTag { line: 4, ref reason, .. } if reason.contains("URI")
    ));
    assert!(matches!(
        err(&format!("{head}#EXT-X-PART:DURATION=-1,URI=\"a\"\n")),
        PlaylistError::InvalidTag { line: 4, .. }
    ));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=abc\n"),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=SURE\n"),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
    // Continuation across a segment boundary.
    let m = media(&format!(
        "{head}#EXT-X-PART:DURATION=1,URI=\"a.mp4\",BYTERANGE=\"10@5\"\n#EXTINF:1,\na.mp4\n\
         #EXT-X-PART:DURATION=1,URI=\"a.mp4\",BYTERANGE=\"3\"\n"
    ));
    assert_eq!(
        m.trailing_parts[0].byte_range,
        Some(ByteRange {
            offset: 15,
            length: 3
        })
    );
}

#[test]
fn delta_update_with_skip() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:9\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24,CAN-SKIP-DATERANGES=YES\n\
         #EXT-X-MEDIA-SEQUENCE:1000\n#EXT-X-SKIP:SKIPPED-SEGMENTS=6,RECENTLY-REMOVED-DATERANGES=\"a\tb\"\n\
         #EXTINF:4,\nseg1006.mp4\n#EXTINF:4,\nseg1007.mp4\n",
    );
    assert_eq!(m.skipped_segments, 6);
    assert_eq!(m.media_sequence, 1000);
    assert_eq!(
        m.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [1006, 1007]
    );
    assert!(
        m.server_control
            .as_ref()
            .is_some_and(|s| s.can_skip_dateranges)
    );
    assert_eq!(m.segments_after(1006).len(), 1);
    assert!(matches!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-SKIP:RECENTLY-REMOVED-DATERANGES=\"\"\n"),
        PlaylistError::InvalidTag { line: 3, .. }
    ));
}

#[test]
fn tolerates_bom_crlf_blank_lines_comments_unknown_tags() {
    let body = "\u{feff}#EXTM3U\r\n\r\n# a comment\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-KEY:METHOD=NONE\r\n\
                #EXT-X-DATERANGE:ID=\"x\",START-DATE=\"2024-01-01T00:00:00Z\"\r\n#EXT-X-FUTURE-TAG:A=B\r\n\
                #EXT-X-CUE-OUT:30\r\n#EXTINF:2.0,\r\n\r\n#EXT-X-BITRATE:100\r\n a.ts \r\n#EXTINF:2,\r\nb.ts";
    let m = media(body);
    assert_eq!(m.segments.len(), 2);
    assert_eq!(
        m.segments[0].uri,
        url("https://cdn.example.com/live/stream/a.ts")
    );
    assert_eq!(
        m.segments[1].uri,
        url("https://cdn.example.com/live/stream/b.ts")
    );
    let master_body =
        "\u{feff}#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=1, RESOLUTION=2x3\r\n\r\nv.m3u8\r\n";
    assert_eq!(master(master_body).variants[0].resolution, Some((2, 3)));
}

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_and_non_playlists() {
    assert_eq!(err(""), PlaylistError::Empty);
    assert_eq!(err("\n\r\n  \n"), PlaylistError::Empty);
    assert_eq!(err("\u{feff}"), PlaylistError::Empty);
    assert_eq!(err("<html>404</html>\n"), PlaylistError::NotM3u { line: 1 });
    assert_eq!(err("\n\n#EXTINF:2,\n"), PlaylistError::NotM3u { line: 3 });
    assert_eq!(err("#EXTM3U8\n"), PlaylistError::NotM3u { line: 1 });
    assert_eq!(
        parse(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n\xff\xfe\n", &base()),
        Err(PlaylistError::InvalidUtf8 { line: 3 })
    );
    assert_eq!(err("#EXTM3U\n"), PlaylistError::MissingTargetDuration);
    assert_eq!(
        err("#EXTM3U\n#EXTINF:2,\na.ts\n"),
        PlaylistError::MissingTargetDuration
    );
}

#[test]
fn bad_extinf_and_missing_extinf() {
    for bad in ["abc,", "-1,", "NaN,", "inf,", "1e3,", "100000,", ",", ""] {
        let body = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:{bad}\na.ts\n");
        assert!(
            matches!(err(&body), PlaylistError::InvalidTag { line: 3, ref tag, .. } if tag == "EXTINF"),
            "{bad:?}"
        );
    }
    assert_eq!(
        err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\nb.ts\n"),
        PlaylistError::MissingExtinf { line: 5 }
    );
}

#[test]
fn huge_and_bad_numbers() {
    let cases = [
        "#EXT-X-TARGETDURATION:99999999999999999999999",
        "#EXT-X-TARGETDURATION:100000",
        "#EXT-X-TARGETDURATION:-2",
        "#EXT-X-MEDIA-SEQUENCE:18446744073709551616",
        "#EXT-X-MEDIA-SEQUENCE:-1",
        "#EXT-X-DISCONTINUITY-SEQUENCE:x",
        "#EXT-X-SERVER-CONTROL:HOLD-BACK=1e400",
        "#EXT-X-SKIP:SKIPPED-SEGMENTS=1.5",
    ];
    for case in cases {
        let body = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n{case}\n#EXTINF:2,\na.ts\n");
        assert!(
            matches!(err(&body), PlaylistError::InvalidTag { line: 3, .. }),
            "{case}"
        );
    }
    assert_eq!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n\
             #EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n"
        ),
        PlaylistError::SequenceOverflow
    );
    assert_eq!(
        err(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n\
             #EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"
        ),
        PlaylistError::SequenceOverflow
    );
    // The largest MSN itself is fine.
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:2,\na.ts\n",
    );
    assert_eq!(m.last_msn(), Some(u64::MAX));
    assert_eq!(m.next_msn(), u64::MAX);
    assert!(m.segments_after(u64::MAX - 1).len() == 1);
}

#[test]
fn errors_name_the_line() {
    let e = err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n\n#EXTINF:two,\na.ts\n");
    assert_eq!(
        e.to_string(),
        "line 4: #EXTINF: expected a decimal number, got \"two\""
    );
    let e = err("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"a.mp4\",BYTERANGE=\"1@x\"\n");
    assert!(e.to_string().starts_with("line 3: #EXT-X-MAP: "), "{e}");
}

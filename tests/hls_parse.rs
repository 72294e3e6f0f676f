//! Parses the realistic playlists in `tests/fixtures/` and cross-checks the basics against
//! `m3u8-rs` on well-formed input.

use std::time::{Duration, UNIX_EPOCH};

use hls_swarm::hls::{
    self, MasterPlaylist, MediaPlaylist, Playlist, PlaylistType, PreloadHintType, VariantChoice,
};
use url::Url;

const LLHLS_MEDIA: &[u8] = include_bytes!("fixtures/hls_llhls_media.m3u8");
const LLHLS_DELTA: &[u8] = include_bytes!("fixtures/hls_llhls_delta.m3u8");
const MASTER: &[u8] = include_bytes!("fixtures/hls_master_multi_audio.m3u8");
const VOD_BYTERANGE: &[u8] = include_bytes!("fixtures/hls_vod_byterange.m3u8");
const FFMPEG_CRLF: &[u8] = include_bytes!("fixtures/hls_ffmpeg_live_crlf.m3u8");

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

fn media(body: &[u8], base: &str) -> MediaPlaylist {
    match hls::parse(body, &url(base)) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("expected a media playlist, got {other:?}"),
    }
}

fn master(body: &[u8], base: &str) -> MasterPlaylist {
    match hls::parse(body, &url(base)) {
        Ok(Playlist::Master(m)) => m,
        other => panic!("expected a master playlist, got {other:?}"),
    }
}

#[test]
fn apple_style_ll_hls_media_playlist() {
    let m = media(
        LLHLS_MEDIA,
        "https://origin.example.com/live/1080p/index.m3u8",
    );
    assert_eq!(m.target_duration, Duration::from_secs(4));
    let sc = m.server_control.clone().expect("server control");
    assert!(sc.can_block_reload);
    assert_eq!(sc.part_hold_back, Some(Duration::from_secs_f64(1.002)));
    assert_eq!(sc.can_skip_until, Some(Duration::from_secs(24)));
    assert_eq!(sc.hold_back, None);
    assert_eq!(m.part_target, Some(Duration::from_secs_f64(0.334)));
    assert_eq!(m.segments.len(), 5);
    assert_eq!(m.segments[0].msn, 2841);
    assert_eq!(m.last_msn(), Some(2845));
    assert_eq!(m.segments[4].parts.len(), 12);
    assert_eq!(
        m.segments[4].parts.iter().filter(|p| p.independent).count(),
        4
    );
    assert_eq!(m.trailing_parts.len(), 3);
    assert_eq!(m.next_msn(), 2846);
    assert_eq!(m.preload_hints.len(), 1);
    assert_eq!(m.preload_hints[0].kind, PreloadHintType::Part);
    assert_eq!(
        m.preload_hints[0].uri,
        url("https://origin.example.com/live/1080p/part2846.3.m4s")
    );
    assert_eq!(
        m.rendition_reports[0].uri,
        url("https://origin.example.com/live/720p/index.m3u8")
    );
    assert_eq!(m.rendition_reports[1].last_part, Some(2));
    let init = url("https://origin.example.com/live/1080p/init.mp4");
    assert!(
        m.segments
            .iter()
            .all(|s| s.map.as_ref().map(|i| &i.uri) == Some(&init))
    );
    let t0 = UNIX_EPOCH + Duration::from_secs(1_764_238_500);
    assert_eq!(m.segments[0].program_date_time, Some(t0));
    assert_eq!(
        m.segments[4].program_date_time,
        Some(t0 + Duration::from_secs(16))
    );
    // 20 s listed, hold back 3 × 4 s = 12 s: start at the third segment.
    assert_eq!(m.live_start_index(), 2);
}

#[test]
fn ll_hls_delta_update() {
    let m = media(
        LLHLS_DELTA,
        "https://origin.example.com/live/video/index.m3u8?_HLS_skip=YES",
    );
    assert_eq!(m.skipped_segments, 3);
    assert_eq!(m.media_sequence, 500);
    assert_eq!(m.discontinuity_sequence, 2);
    assert_eq!(
        m.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [503, 504, 505]
    );
    let ranges: Vec<(u64, u64)> = m.segments[2]
        .parts
        .iter()
        .filter_map(|p| p.byte_range.map(|r| (r.offset, r.length)))
        .collect();
    assert_eq!(
        ranges,
        [
            (0, 40_000),
            (40_000, 38_000),
            (78_000, 39_000),
            (117_000, 41_000)
        ]
    );
    assert_eq!(m.trailing_parts.len(), 1);
    assert_eq!(m.preload_hints[0].byte_range_start, Some(42_000));
    assert_eq!(m.preload_hints[0].byte_range_length, None);
    let sc = m.server_control.clone().expect("server control");
    assert!(sc.can_skip_dateranges);
    assert_eq!(m.hold_back(), Duration::from_secs(12));
    assert_eq!(m.segments_after(503).len(), 2);
}

#[test]
fn master_with_several_audio_groups() {
    let m = master(MASTER, "https://origin.example.com/vod/title/master.m3u8");
    assert_eq!(m.variants.len(), 4);
    assert_eq!(m.renditions.len(), 5);
    assert_eq!(m.renditions[1].name, "Français");
    let highest = hls::select_variants(&m, VariantChoice::Highest);
    assert_eq!(highest.len(), 1);
    assert_eq!(
        highest[0].audio_group.as_deref(),
        Some("aud-stereo"),
        "tie: first listed"
    );
    let lowest = hls::select_variants(&m, VariantChoice::Lowest);
    assert_eq!(
        lowest[0].uri,
        url("https://origin.example.com/shared/v270/index.m3u8")
    );
    assert_eq!(lowest[0].resolution, Some((480, 270)));
    assert_eq!(hls::select_variants(&m, VariantChoice::All).len(), 4);
    assert_eq!(
        hls::select_variants(&m, VariantChoice::First)[0].uri,
        url("https://origin.example.com/vod/title/v540/index.m3u8")
    );

    let audio = hls::audio_renditions_for(&m, &m.variants[2]);
    assert_eq!(audio.len(), 1);
    assert_eq!(
        audio[0].uri,
        Some(url(
            "https://origin.example.com/vod/title/audio/surround/en/index.m3u8"
        ))
    );
    let audio = hls::audio_renditions_for(&m, &m.variants[0]);
    assert_eq!(audio.len(), 1);
    assert_eq!(audio[0].language.as_deref(), Some("en"));
}

#[test]
fn vod_single_file_byte_ranges() {
    let m = media(VOD_BYTERANGE, "http://127.0.0.1:8080/vod/main.m3u8");
    assert!(m.end_list);
    assert_eq!(m.playlist_type, Some(PlaylistType::Vod));
    assert_eq!(m.live_start_index(), 0);
    let ranges: Vec<Option<(u64, u64)>> = m
        .segments
        .iter()
        .map(|s| s.byte_range.map(|r| (r.offset, r.length)))
        .collect();
    assert_eq!(
        ranges,
        [
            Some((1124, 1_523_417)),
            Some((1_524_541, 1_489_211)),
            Some((3_013_752, 1_502_266)),
            Some((4_516_018, 1_455_340)),
            None,
            Some((5_971_358, 1_510_007)),
        ]
    );
    assert!(m.segments[4].discontinuity && m.segments[5].discontinuity);
    assert_eq!(
        m.segments[4].map.as_ref().map(|i| i.uri.as_str()),
        Some("https://ads.example.net/bumper/init.mp4")
    );
    assert_eq!(
        m.segments[5].map.as_ref().and_then(|i| i.byte_range),
        m.segments[0].map.as_ref().and_then(|i| i.byte_range)
    );
    let total: f64 = [6.006, 6.006, 6.006, 5.839, 4.004, 6.006].iter().sum();
    assert!((m.duration().as_secs_f64() - total).abs() < 1e-6);
}

#[test]
fn ffmpeg_live_playlist_with_bom_and_crlf() {
    let m = media(FFMPEG_CRLF, "http://origin:8080/hls/stream.m3u8");
    assert_eq!(m.segments.len(), 10);
    assert_eq!(m.segments[0].msn, 1200);
    assert_eq!(
        m.segments[9].uri,
        url("http://origin:8080/hls/stream1209.ts")
    );
    assert!(m.is_live());
    assert_eq!(m.live_start_index(), 7);
    assert_eq!(m.segments[m.live_start_index()].msn, 1207);
    assert_eq!(m.segments_after(1207).len(), 2);
}

/// On well-formed non-LL playlists, `m3u8-rs` and our parser agree on the basics.
#[test]
fn agrees_with_m3u8_rs_on_well_formed_playlists() {
    let base = url("https://h.example/a/b.m3u8");
    for body in [
        VOD_BYTERANGE,
        FFMPEG_CRLF
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(FFMPEG_CRLF),
    ] {
        let ours = media(body, base.as_str());
        let Ok(m3u8_rs::Playlist::MediaPlaylist(theirs)) = m3u8_rs::parse_playlist_res(body) else {
            panic!("m3u8-rs should parse the fixture");
        };
        assert_eq!(ours.target_duration.as_secs(), theirs.target_duration);
        assert_eq!(ours.media_sequence, theirs.media_sequence);
        assert_eq!(ours.end_list, theirs.end_list);
        assert_eq!(ours.segments.len(), theirs.segments.len());
        for (a, b) in ours.segments.iter().zip(&theirs.segments) {
            assert_eq!(a.uri, base.join(&b.uri).expect("join"));
            assert!((a.duration.as_secs_f64() - f64::from(b.duration)).abs() < 1e-5);
            assert_eq!(a.discontinuity, b.discontinuity);
            assert_eq!(
                a.byte_range.map(|r| r.length),
                b.byte_range.as_ref().map(|r| r.length)
            );
        }
    }
    let ours = master(MASTER, base.as_str());
    let Ok(m3u8_rs::Playlist::MasterPlaylist(theirs)) = m3u8_rs::parse_playlist_res(MASTER) else {
        panic!("m3u8-rs should parse the master fixture");
    };
    let theirs: Vec<_> = theirs.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(ours.variants.len(), theirs.len());
    for (a, b) in ours.variants.iter().zip(theirs) {
        assert_eq!(a.uri, base.join(&b.uri).expect("join"));
        assert_eq!(a.bandwidth, b.bandwidth);
        assert_eq!(a.audio_group, b.audio);
    }
}

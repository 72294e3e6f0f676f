//! `hls::parse` must never panic, whatever the body: exhaustive mutations of the fixtures
//! (every truncation, every line deleted, delimiter bytes written everywhere) plus proptest
//! over random bytes, mutated fixtures and tag soup. When a body does parse, the result must
//! be self-consistent.

use hls_swarm::hls::{self, MasterPlaylist, MediaPlaylist, Playlist, VariantChoice};
use std::time::Duration;

use proptest::prelude::*;
use url::Url;

const FIXTURES: &[&[u8]] = &[
    include_bytes!("fixtures/hls_llhls_media.m3u8"),
    include_bytes!("fixtures/hls_llhls_delta.m3u8"),
    include_bytes!("fixtures/hls_master_multi_audio.m3u8"),
    include_bytes!("fixtures/hls_vod_byterange.m3u8"),
    include_bytes!("fixtures/hls_ffmpeg_live_crlf.m3u8"),
];

fn base() -> Url {
    Url::parse("https://cdn.example.com/live/x/index.m3u8").expect("base")
}

fn check_media(m: &MediaPlaylist) {
    let first = m.media_sequence + m.skipped_segments;
    for (i, s) in m.segments.iter().enumerate() {
        assert_eq!(s.msn, first + i as u64, "MSNs are consecutive");
        assert!(s.duration.as_secs_f64() <= 86_400.0);
        if let Some(r) = s.byte_range {
            assert!(r.offset.checked_add(r.length).is_some());
        }
    }
    let start = m.live_start_index();
    assert!(start == 0 || start < m.segments.len());
    let tail = |i: usize| -> Duration { m.segments[i..].iter().map(|s| s.duration).sum() };
    if !m.is_live() || m.segments.is_empty() || tail(0) < m.hold_back() {
        assert_eq!(start, 0);
    } else {
        assert!(tail(start) >= m.hold_back());
        assert!(start + 1 == m.segments.len() || tail(start + 1) < m.hold_back());
    }
    if let Some(last) = m.last_msn() {
        assert_eq!(m.segments_after(last).len(), 0);
        if let Some(before) = first.checked_sub(1) {
            assert_eq!(m.segments_after(before).len(), m.segments.len());
        }
        for (i, s) in m.segments.iter().enumerate() {
            assert_eq!(m.segments_after(s.msn).len(), m.segments.len() - i - 1);
        }
        assert!(m.segment(last).is_some());
    }
    let _ = (m.duration(), m.hold_back(), m.next_msn(), m.is_live());
}

fn check_master(m: &MasterPlaylist) {
    assert!(!m.variants.is_empty());
    for c in VariantChoice::ALL {
        let chosen = hls::select_variants(m, c);
        assert!(!chosen.is_empty());
        match c {
            VariantChoice::All => {}
            // The ABR ladder: every variant, by ascending BANDWIDTH.
            VariantChoice::Abr => {
                assert_eq!(chosen.len(), m.variants.len());
                assert!(chosen.windows(2).all(|w| w[0].bandwidth <= w[1].bandwidth));
            }
            _ => assert_eq!(chosen.len(), 1),
        }
    }
    for v in &m.variants {
        assert!(hls::audio_renditions_for(m, v).len() <= 1);
    }
}

/// Parses and, on success, checks the result's invariants. Panics only on a bug.
fn check(body: &[u8]) {
    match hls::parse(body, &base()) {
        Ok(Playlist::Media(m)) => check_media(&m),
        Ok(Playlist::Master(m)) => check_master(&m),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

#[test]
fn fixtures_parse() {
    for f in FIXTURES {
        assert!(hls::parse(f, &base()).is_ok());
    }
}

#[test]
fn every_truncation() {
    for f in FIXTURES {
        for len in 0..=f.len() {
            check(&f[..len]);
        }
    }
}

#[test]
fn every_line_deleted_or_duplicated() {
    for f in FIXTURES {
        let lines: Vec<&[u8]> = f.split(|&b| b == b'\n').collect();
        for skip in 0..lines.len() {
            let deleted: Vec<&[u8]> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect();
            check(&deleted.join(&b'\n'));
            let mut duplicated = lines.clone();
            duplicated.insert(skip, lines[skip]);
            check(&duplicated.join(&b'\n'));
        }
    }
}

#[test]
fn delimiters_written_everywhere() {
    let specials = b"\",=@:#\n9\xff";
    for f in FIXTURES {
        for pos in 0..f.len() {
            for &b in specials {
                let mut m = f.to_vec();
                m[pos] = b;
                check(&m);
            }
            let mut removed = f.to_vec();
            removed.remove(pos);
            check(&removed);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    InsertLine(usize, String),
    DeleteLine(usize),
    SwapLines(usize, usize),
}

fn apply(body: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut body = body.to_vec();
    for m in mutations {
        match m {
            Mutation::Flip(i, x) if !body.is_empty() => {
                let i = i % body.len();
                body[i] ^= x;
            }
            Mutation::Truncate(n) => body.truncate(n % (body.len() + 1)),
            Mutation::InsertLine(i, line) => {
                let mut lines: Vec<Vec<u8>> =
                    body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let i = i % (lines.len() + 1);
                lines.insert(i, line.as_bytes().to_vec());
                body = lines.join(&b'\n');
            }
            Mutation::DeleteLine(i) => {
                let mut lines: Vec<Vec<u8>> =
                    body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let i = i % lines.len();
                lines.remove(i);
                body = lines.join(&b'\n');
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<Vec<u8>> =
                    body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                body = lines.join(&b'\n');
            }
            Mutation::Flip(..) => {}
        }
    }
    body
}

const TAGS: &[&str] = &[
    "EXTINF",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-BYTERANGE",
    "EXT-X-MAP",
    "EXT-X-PART",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-SKIP",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-GAP",
    "EXT-X-ENDLIST",
    "EXT-X-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-UNKNOWN",
];

const ATTRS: &[&str] = &[
    "URI",
    "DURATION",
    "BYTERANGE",
    "INDEPENDENT",
    "GAP",
    "TYPE",
    "BANDWIDTH",
    "GROUP-ID",
    "NAME",
    "DEFAULT",
    "AUDIO",
    "HOLD-BACK",
    "PART-HOLD-BACK",
    "CAN-BLOCK-RELOAD",
    "PART-TARGET",
    "SKIPPED-SEGMENTS",
    "LAST-MSN",
    "BYTERANGE-START",
    "RESOLUTION",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("YES".to_owned()),
        Just("PART".to_owned()),
        Just("AUDIO".to_owned()),
        Just("1e999".to_owned()),
        Just("\"a.ts\"".to_owned()),
        Just("\"10@5\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"".to_owned()),
        Just("1920x1080".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0.0f64..100_000.0).prop_map(|f| format!("{f:.3}")),
        "[ -~]{0,12}",
    ]
}

fn tag_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(TAGS),
        prop::collection::vec((prop::sample::select(ATTRS), value()), 0..4),
        value(),
        any::<bool>(),
    )
        .prop_map(|(tag, attrs, plain, use_attrs)| {
            if use_attrs {
                let list: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("#{tag}:{}", list.join(","))
            } else {
                format!("#{tag}:{plain}")
            }
        })
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => tag_line(),
        2 => "[a-z0-9/._?=&:-]{1,20}",
        1 => "[ -~]{0,30}",
        1 => Just(String::new()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), line()).prop_map(|(i, l)| Mutation::InsertLine(i, l)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

/// One element of a structurally valid media playlist.
#[derive(Debug, Clone)]
enum Item {
    Segment {
        millis: u32,
        uri: u8,
        range: Option<(u16, Option<u16>)>,
    },
    Part {
        millis: u32,
        uri: u8,
    },
    Map {
        uri: u8,
    },
    Discontinuity,
    Gap,
    Pdt {
        secs: u32,
    },
    Noise(String),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        8 => (0u32..4000, 0u8..3, prop::option::of((1u16..1000, prop::option::of(0u16..1000))))
            .prop_map(|(millis, uri, range)| Item::Segment { millis, uri, range }),
        2 => (0u32..1000, 0u8..3).prop_map(|(millis, uri)| Item::Part { millis, uri }),
        1 => (0u8..3).prop_map(|uri| Item::Map { uri }),
        1 => Just(Item::Discontinuity),
        1 => Just(Item::Gap),
        1 => (0u32..2_000_000_000).prop_map(|secs| Item::Pdt { secs }),
        1 => "# [ -~]{0,20}".prop_map(Item::Noise),
    ]
}

/// Renders items as a media playlist; returns the body and the expected segment count.
fn render(
    td: u8,
    seq: u32,
    hold_back: Option<u8>,
    endlist: bool,
    items: &[Item],
) -> (String, usize) {
    let mut s = format!("#EXTM3U\n#EXT-X-TARGETDURATION:{td}\n#EXT-X-MEDIA-SEQUENCE:{seq}\n");
    if let Some(hb) = hold_back {
        s.push_str(&format!(
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK={hb}.5\n"
        ));
    }
    let mut segments = 0;
    for item in items {
        match item {
            Item::Segment { millis, uri, range } => {
                s.push_str(&format!(
                    "#EXTINF:{}.{:03},\n",
                    millis / 1000,
                    millis % 1000
                ));
                if let Some((len, off)) = range {
                    // Always give an offset: continuation validity is tested elsewhere.
                    let off = off.unwrap_or(0);
                    s.push_str(&format!("#EXT-X-BYTERANGE:{len}@{off}\n"));
                }
                s.push_str(&format!("seg{uri}.ts\n"));
                segments += 1;
            }
            Item::Part { millis, uri } => s.push_str(&format!(
                "#EXT-X-PART:DURATION=0.{millis:03},URI=\"p{uri}.mp4\",INDEPENDENT=YES\n"
            )),
            Item::Map { uri } => s.push_str(&format!("#EXT-X-MAP:URI=\"init{uri}.mp4\"\n")),
            Item::Discontinuity => s.push_str("#EXT-X-DISCONTINUITY\n"),
            Item::Gap => s.push_str("#EXT-X-GAP\n"),
            Item::Pdt { secs } => {
                let days = secs / 86_400;
                // Any valid date will do; keep it simple: January 2000 plus a time of day.
                let t = secs % 86_400;
                s.push_str(&format!(
                    "#EXT-X-PROGRAM-DATE-TIME:2000-01-{:02}T{:02}:{:02}:{:02}.123Z\n",
                    days % 28 + 1,
                    t / 3600,
                    t / 60 % 60,
                    t % 60
                ));
            }
            Item::Noise(n) => {
                s.push_str(n);
                s.push('\n');
            }
        }
    }
    if endlist {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    (s, segments)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), header in any::<bool>()) {
        let mut full = if header { b"#EXTM3U\n".to_vec() } else { Vec::new() };
        full.extend_from_slice(&body);
        check(&full);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        check(&apply(FIXTURES[which], &mutations));
    }

    #[test]
    fn structured_media_playlists_parse_consistently(
        td in 1u8..12,
        seq in any::<u32>(),
        hold_back in prop::option::of(0u8..60),
        endlist in any::<bool>(),
        items in prop::collection::vec(item(), 0..40),
    ) {
        let (body, expected) = render(td, seq, hold_back, endlist, &items);
        let parsed = hls::parse(body.as_bytes(), &base());
        let Ok(Playlist::Media(m)) = parsed else {
            panic!("valid playlist rejected: {parsed:?}\n{body}");
        };
        prop_assert_eq!(m.segments.len(), expected);
        prop_assert_eq!(m.media_sequence, u64::from(seq));
        prop_assert_eq!(m.end_list, endlist);
        check_media(&m);
    }

    #[test]
    fn tag_soup_never_panics(lines in prop::collection::vec(line(), 0..40)) {
        let body = format!("#EXTM3U\n{}", lines.join("\n"));
        check(body.as_bytes());
    }
}

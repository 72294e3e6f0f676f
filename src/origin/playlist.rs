//! Rendering of master and media playlists (pure text generation).

use std::fmt::Write as _;
use std::time::Duration;

use super::timeline::Timeline;

/// Name of the audio rendition group in the master playlist.
pub const AUDIO_GROUP: &str = "aud";

/// One `EXT-X-STREAM-INF` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantInfo {
    /// Declared peak bandwidth (bit/s).
    pub bandwidth: u64,
    /// Width × height.
    pub resolution: (u32, u32),
    /// RFC 6381 codecs, comma separated.
    pub codecs: String,
    /// Playlist URI relative to the master.
    pub uri: String,
}

/// Renders the master playlist; `audio_uri` adds an `EXT-X-MEDIA` audio rendition.
pub fn render_master(variants: &[VariantInfo], audio_uri: Option<&str>) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(uri) = audio_uri {
        let _ = writeln!(
            s,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"main\",LANGUAGE=\"und\",\
             DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"1\",URI=\"{uri}\""
        );
    }
    for v in variants {
        let _ = write!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\"",
            v.bandwidth, v.resolution.0, v.resolution.1, v.codecs
        );
        if audio_uri.is_some() {
            let _ = write!(s, ",AUDIO=\"{AUDIO_GROUP}\"");
        }
        let _ = writeln!(s, "\n{}", v.uri);
    }
    s
}

/// Renders the media playlist at live edge `edge`. `epoch_unix` is the wall-clock time of
/// the timeline epoch (media time 0) since the Unix epoch.
pub fn render_media(tl: &Timeline, edge: u64, epoch_unix: Duration) -> String {
    let d = tl.segment_duration();
    let range = tl.playlist_range(edge);
    let mut s = String::with_capacity(128 + 96 * tl.window() as usize);
    let _ = write!(
        s,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n",
        d.as_nanos().div_ceil(1_000_000_000),
        range.start()
    );
    let extinf = format!("#EXTINF:{}.{:03},\n", d.as_secs(), d.subsec_millis());
    for n in range {
        let start =
            epoch_unix.saturating_add(d.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX)));
        s.push_str("#EXT-X-PROGRAM-DATE-TIME:");
        push_rfc3339_millis(&mut s, start);
        s.push('\n');
        s.push_str(&extinf);
        let _ = writeln!(s, "seg{n}.ts");
    }
    s
}

/// What an LL-HLS media playlist is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct LlView<'a> {
    /// The timeline (with parts).
    pub timeline: &'a Timeline,
    /// Parts published (Q): the playlist ends with part Q − 1, the hint is part Q.
    pub published: u64,
    /// Wall-clock time of the timeline epoch since the Unix epoch.
    pub epoch_unix: Duration,
    /// Whether part k of a segment opens with a key frame (INDEPENDENT=YES), per k.
    pub independent: &'a [bool],
    /// URIs (relative to this playlist) of the other renditions, for
    /// `EXT-X-RENDITION-REPORT`.
    pub reports: &'a [String],
    /// Render a delta update (`_HLS_skip`); ignored when the playlist offers none.
    pub skip: bool,
    /// The delta update was asked for with `_HLS_skip=v2`.
    pub skip_v2: bool,
}

/// `HOLD-BACK`: three target durations.
pub fn hold_back(tl: &Timeline) -> Duration {
    Duration::from_secs(3 * target_duration_secs(tl))
}

/// `PART-HOLD-BACK`: three part target durations.
pub fn part_hold_back(tl: &Timeline) -> Duration {
    tl.part_duration().unwrap_or_default() * 3
}

/// The Skip Boundary (`CAN-SKIP-UNTIL`): six target durations, offered only when the
/// playlist is longer than that (otherwise a delta update would skip nothing).
pub fn skip_boundary(tl: &Timeline) -> Option<Duration> {
    let b = Duration::from_secs(6 * target_duration_secs(tl));
    let span = tl
        .segment_duration()
        .saturating_mul(u32::try_from(tl.window()).unwrap_or(u32::MAX));
    (span > b).then_some(b)
}

/// `EXT-X-TARGETDURATION` in whole seconds.
pub fn target_duration_secs(tl: &Timeline) -> u64 {
    u64::try_from(tl.segment_duration().as_nanos().div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// Seconds with millisecond precision (`1.500`).
fn secs(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// Renders an LL-HLS media playlist: the W complete segments before the segment in
/// production, that segment's published parts, `EXT-X-PART` tags for every part that
/// ends within three target durations of the playlist's end, a preload hint for the
/// part in production and a rendition report per other rendition. With `skip` (and a
/// Skip Boundary) the segments that start more than the boundary before the playlist's
/// end are replaced by `EXT-X-SKIP` (version 9).
pub fn render_ll_media(v: &LlView<'_>) -> String {
    let tl = v.timeline;
    let d = tl.segment_duration();
    let p = tl.part_duration().unwrap_or(d);
    let k = tl.parts_per_segment().max(1);
    let q = v.published;
    let edge = q / k;
    let range = tl.playlist_range(edge);
    let at = |parts: u64| p.saturating_mul(u32::try_from(parts).unwrap_or(u32::MAX));
    let end = at(q);
    let part_floor = end.saturating_sub(Duration::from_secs(3 * target_duration_secs(tl)));
    let boundary = skip_boundary(tl);
    let skipped = match boundary.filter(|_| v.skip) {
        Some(b) => range.clone().take_while(|&n| at(n * k) + b < end).count() as u64,
        None => 0,
    };
    let mut s = String::with_capacity(256 + 128 * tl.window() as usize);
    let version = if v.skip && boundary.is_some() { 9 } else { 3 };
    let _ = write!(
        s,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{}\n",
        target_duration_secs(tl)
    );
    let _ = write!(s, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES");
    if let Some(b) = boundary {
        let _ = write!(s, ",CAN-SKIP-UNTIL={}", secs(b));
    }
    let _ = writeln!(
        s,
        ",HOLD-BACK={},PART-HOLD-BACK={}",
        secs(hold_back(tl)),
        secs(part_hold_back(tl))
    );
    let _ = writeln!(s, "#EXT-X-PART-INF:PART-TARGET={}", secs(p));
    let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{}", range.start());
    if skipped > 0 {
        s.push_str("#EXT-X-SKIP:SKIPPED-SEGMENTS=");
        let _ = write!(s, "{skipped}");
        if v.skip_v2 {
            s.push_str(",RECENTLY-REMOVED-DATERANGES=\"\"");
        }
        s.push('\n');
    }
    let extinf = format!("#EXTINF:{},\n", secs(d));
    let first = range.start() + skipped;
    for n in first..=edge {
        let parts_here = if n == edge { q % k } else { k };
        if n == edge && parts_here == 0 {
            break;
        }
        let start = v
            .epoch_unix
            .saturating_add(d.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX)));
        s.push_str("#EXT-X-PROGRAM-DATE-TIME:");
        push_rfc3339_millis(&mut s, start);
        s.push('\n');
        for j in 0..parts_here {
            if at(n * k + j + 1) < part_floor {
                continue;
            }
            let _ = write!(s, "#EXT-X-PART:DURATION={},URI=\"seg{n}.{j}.ts\"", secs(p));
            if v.independent.get(j as usize).copied().unwrap_or(false) {
                s.push_str(",INDEPENDENT=YES");
            }
            s.push('\n');
        }
        if n < edge {
            s.push_str(&extinf);
            let _ = writeln!(s, "seg{n}.ts");
        }
    }
    let _ = writeln!(
        s,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg{edge}.{}.ts\"",
        q % k
    );
    let last = q.saturating_sub(1);
    for uri in v.reports {
        let _ = writeln!(
            s,
            "#EXT-X-RENDITION-REPORT:URI=\"{uri}\",LAST-MSN={},LAST-PART={}",
            last / k,
            last % k
        );
    }
    s
}

/// Appends `since_unix` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds).
pub fn push_rfc3339_millis(s: &mut String, since_unix: Duration) {
    let secs = since_unix.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since_unix.subsec_millis()
    );
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to an era-based calendar starting on 0000-03-01 (400-year eras of 146097 days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdt(secs: u64, ms: u32) -> String {
        let mut s = String::new();
        push_rfc3339_millis(&mut s, Duration::new(secs, ms * 1_000_000));
        s
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(pdt(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(pdt(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(pdt(1_700_000_000, 123), "2023-11-14T22:13:20.123Z");
        assert_eq!(pdt(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn media_playlist_at_given_times() {
        let tl = Timeline::new(Duration::from_secs(2), 3);
        let epoch = Duration::from_secs(1_700_000_000);
        let at = |t: u64| render_media(&tl, tl.live_edge(Duration::from_millis(t)), epoch);
        let expected0 = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n#EXTINF:2.000,\nseg0.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n#EXTINF:2.000,\nseg1.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z\n#EXTINF:2.000,\nseg2.ts\n";
        assert_eq!(at(0), expected0);
        assert_eq!(
            at(1999),
            expected0,
            "same until the next segment is published"
        );
        let later = at(4000);
        assert!(later.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));
        assert!(later.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:28.000Z\n#EXTINF:2.000,\nseg4.ts\n"
        ));
        assert!(!later.contains("seg1.ts"));
        assert_eq!(later.matches("#EXTINF").count(), 3);
    }

    #[test]
    fn target_duration_and_extinf() {
        let tl = Timeline::new(Duration::from_secs(1), 10);
        let p = render_media(&tl, 10, Duration::ZERO);
        assert!(p.contains("#EXT-X-TARGETDURATION:1\n"));
        assert!(p.contains("#EXTINF:1.000,\nseg9.ts\n"));
    }

    fn ll(published: u64, skip: bool) -> String {
        let tl = Timeline::new(Duration::from_secs(2), 4).with_parts(Duration::from_millis(500));
        let reports = ["../v1/playlist.m3u8".to_owned()];
        render_ll_media(&LlView {
            timeline: &tl,
            published,
            epoch_unix: Duration::from_secs(1_700_000_000),
            independent: &[true, false, false, false],
            reports: &reports,
            skip,
            skip_v2: false,
        })
    }

    #[test]
    fn ll_playlist_exactly() {
        // 2 s segments of 4 × 500 ms parts, window 4; 18 parts: segments 0..=3 complete,
        // parts 4.0 and 4.1 published, 4.2 in production. The playlist ends at 9 s; parts
        // ending at or after 3 s are listed (from 1.2).
        let expected = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
            #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=6.000,PART-HOLD-BACK=1.500\n\
            #EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:0\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n#EXTINF:2.000,\nseg0.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg1.1.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg1.2.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg1.3.ts\"\n#EXTINF:2.000,\nseg1.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg2.0.ts\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg2.1.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg2.2.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg2.3.ts\"\n#EXTINF:2.000,\nseg2.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg3.0.ts\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg3.1.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg3.2.ts\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg3.3.ts\"\n#EXTINF:2.000,\nseg3.ts\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:28.000Z\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg4.0.ts\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.500,URI=\"seg4.1.ts\"\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg4.2.ts\"\n\
            #EXT-X-RENDITION-REPORT:URI=\"../v1/playlist.m3u8\",LAST-MSN=4,LAST-PART=1\n";
        assert_eq!(ll(18, false), expected);
        // 8 s of playlist is not longer than the 12 s Skip Boundary: no delta updates.
        assert_eq!(ll(18, true), expected);
        // On a segment boundary: no partial segment, the hint is part 0 of the next.
        let at = ll(20, false);
        assert!(at.ends_with(
            "#EXTINF:2.000,\nseg4.ts\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg5.0.ts\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../v1/playlist.m3u8\",LAST-MSN=4,LAST-PART=3\n"
        ));
        assert!(at.contains("#EXT-X-MEDIA-SEQUENCE:1\n"));
    }

    #[test]
    fn ll_delta_update_skips_beyond_the_boundary() {
        // Window 10 of 1 s, 200 ms parts: boundary 6 s. 57 parts: the playlist ends at
        // 11.4 s and lists 1..=10 plus 11.0, 11.1; segments starting before 5.4 s go.
        let tl = Timeline::new(Duration::from_secs(1), 10).with_parts(Duration::from_millis(200));
        let view = |skip| LlView {
            timeline: &tl,
            published: 57,
            epoch_unix: Duration::ZERO,
            independent: &[true, false, false, false, false],
            reports: &[],
            skip,
            skip_v2: false,
        };
        let full = render_ll_media(&view(false));
        let delta = render_ll_media(&view(true));
        assert!(full.contains(",CAN-SKIP-UNTIL=6.000,"));
        assert!(delta.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"));
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n"));
        let kept: Vec<_> = delta
            .lines()
            .filter(|l| l.ends_with(".ts") && !l.starts_with('#'))
            .collect();
        assert_eq!(
            kept,
            ["seg6.ts", "seg7.ts", "seg8.ts", "seg9.ts", "seg10.ts"]
        );
        let from = full
            .find("#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:06.000Z")
            .unwrap();
        assert!(delta.ends_with(&full[from..]));
    }

    #[test]
    fn master_playlist() {
        let v = |bw, i| VariantInfo {
            bandwidth: bw,
            resolution: (64, 36),
            codecs: "avc1.42c00a,mp4a.40.2".into(),
            uri: format!("v{i}/playlist.m3u8"),
        };
        let m = render_master(&[v(200_000, 0), v(800_000, 1)], None);
        assert_eq!(
            m,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=64x36,CODECS=\"avc1.42c00a,mp4a.40.2\"\nv0/playlist.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=64x36,CODECS=\"avc1.42c00a,mp4a.40.2\"\nv1/playlist.m3u8\n"
        );
        let a = render_master(&[v(1, 0)], Some("a/playlist.m3u8"));
        assert!(a.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\""));
        assert!(a.contains("URI=\"a/playlist.m3u8\""));
        assert!(a.contains(",AUDIO=\"aud\"\nv0/playlist.m3u8\n"));
    }
}

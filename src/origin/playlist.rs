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

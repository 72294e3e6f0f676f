//! The playlist model: what [`parse`](super::parse) produces. All URIs are absolute
//! (resolved against the playlist's URL); all durations are [`Duration`]s.

use std::time::{Duration, SystemTime};
use url::Url;

/// A parsed HLS playlist: either a master (multivariant) or a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    /// A master playlist listing variant streams and alternative renditions.
    Master(MasterPlaylist),
    /// A media playlist listing media segments.
    Media(MediaPlaylist),
}

/// A master playlist (RFC 8216 §4.3.4).
#[derive(Debug, Clone, PartialEq)]
pub struct MasterPlaylist {
    /// Variant streams (`#EXT-X-STREAM-INF` + URI), in the order listed. Never empty.
    pub variants: Vec<Variant>,
    /// Alternative renditions (`#EXT-X-MEDIA`), in the order listed.
    pub renditions: Vec<Rendition>,
}

/// One variant stream (`#EXT-X-STREAM-INF`).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Absolute URI of the variant's media playlist.
    pub uri: Url,
    /// Peak bit rate, bits per second (`BANDWIDTH`).
    pub bandwidth: u64,
    /// Average bit rate, bits per second (`AVERAGE-BANDWIDTH`).
    pub average_bandwidth: Option<u64>,
    /// Width and height in pixels (`RESOLUTION`).
    pub resolution: Option<(u32, u32)>,
    /// `CODECS`, as written.
    pub codecs: Option<String>,
    /// `AUDIO` group id, referencing `#EXT-X-MEDIA:TYPE=AUDIO` renditions.
    pub audio_group: Option<String>,
    /// `VIDEO` group id, referencing `#EXT-X-MEDIA:TYPE=VIDEO` renditions.
    pub video_group: Option<String>,
    /// `SUBTITLES` group id, referencing `#EXT-X-MEDIA:TYPE=SUBTITLES` renditions.
    pub subtitles_group: Option<String>,
}

/// The `TYPE` of an alternative rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenditionType {
    /// `AUDIO`.
    Audio,
    /// `VIDEO`.
    Video,
    /// `SUBTITLES`.
    Subtitles,
    /// `CLOSED-CAPTIONS` (carried in the video stream; never has a URI).
    ClosedCaptions,
}

/// One alternative rendition (`#EXT-X-MEDIA`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// `TYPE`.
    pub kind: RenditionType,
    /// `GROUP-ID`.
    pub group_id: String,
    /// `NAME`.
    pub name: String,
    /// Absolute URI of the rendition's media playlist; `None` when the rendition is carried
    /// inside the variant stream.
    pub uri: Option<Url>,
    /// `DEFAULT=YES`.
    pub default: bool,
    /// `AUTOSELECT=YES`.
    pub autoselect: bool,
    /// `LANGUAGE`.
    pub language: Option<String>,
}

/// `#EXT-X-PLAYLIST-TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    /// `VOD`: the playlist never changes.
    Vod,
    /// `EVENT`: segments are only appended.
    Event,
}

/// `#EXT-X-SERVER-CONTROL` (rfc8216bis §4.4.3.8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerControl {
    /// `CAN-BLOCK-RELOAD=YES`: the server supports blocking reloads (`_HLS_msn`/`_HLS_part`).
    pub can_block_reload: bool,
    /// `CAN-SKIP-UNTIL`: the server produces delta updates (`_HLS_skip=YES`) that skip
    /// segments older than this from the live edge.
    pub can_skip_until: Option<Duration>,
    /// `CAN-SKIP-DATERANGES=YES`: delta updates may also skip date ranges (`_HLS_skip=v2`).
    pub can_skip_dateranges: bool,
    /// `HOLD-BACK`: minimum distance from the live edge to start playback.
    pub hold_back: Option<Duration>,
    /// `PART-HOLD-BACK`: the same, for low-latency playback.
    pub part_hold_back: Option<Duration>,
}

/// A sub-range of a resource, with the offset resolved (RFC 8216 §4.3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

impl ByteRange {
    /// Offset just past the range, or `None` if it overflows.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.length)
    }

    /// The value of an HTTP `Range` header for this sub-range (`bytes=first-last`), or
    /// `None` for an empty or overflowing range.
    pub fn http_range(&self) -> Option<String> {
        let last = self.end()?.checked_sub(1)?;
        (self.length > 0).then(|| format!("bytes={}-{}", self.offset, last))
    }
}

/// The Media Initialization Section (`#EXT-X-MAP`) in effect for a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSection {
    /// Absolute URI of the init section.
    pub uri: Url,
    /// Its sub-range; an offset left out in the playlist is 0.
    pub byte_range: Option<ByteRange>,
}

/// A media segment (`#EXTINF` + URI).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media sequence number: `EXT-X-MEDIA-SEQUENCE` + skipped segments + position.
    pub msn: u64,
    /// Absolute URI of the segment.
    pub uri: Url,
    /// Duration from `#EXTINF`.
    pub duration: Duration,
    /// Sub-range from `#EXT-X-BYTERANGE`, offset resolved.
    pub byte_range: Option<ByteRange>,
    /// The `#EXT-X-MAP` in effect (the last one before this segment).
    pub map: Option<InitSection>,
    /// `#EXT-X-DISCONTINUITY` precedes this segment.
    pub discontinuity: bool,
    /// Date of the segment's first sample: from its own `#EXT-X-PROGRAM-DATE-TIME`, or
    /// extrapolated from the previous segment's date plus that segment's duration (never
    /// across a discontinuity).
    pub program_date_time: Option<SystemTime>,
    /// `#EXT-X-GAP`: the segment is missing and must not be loaded.
    pub gap: bool,
    /// Its partial segments (`#EXT-X-PART` tags listed before its URI), in order.
    pub parts: Vec<Part>,
}

/// A partial segment (`#EXT-X-PART`, LL-HLS).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Absolute URI of the partial segment.
    pub uri: Url,
    /// `DURATION`.
    pub duration: Duration,
    /// `INDEPENDENT=YES`: starts with an independent frame.
    pub independent: bool,
    /// `BYTERANGE`, offset resolved (continuing the previous part's range when left out).
    pub byte_range: Option<ByteRange>,
    /// `GAP=YES`: the part is unavailable.
    pub gap: bool,
}

/// `TYPE` of an `#EXT-X-PRELOAD-HINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreloadHintType {
    /// `PART`: the next partial segment.
    Part,
    /// `MAP`: the next Media Initialization Section.
    Map,
}

/// `#EXT-X-PRELOAD-HINT` (LL-HLS): a resource the client may request before it is listed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadHint {
    /// `TYPE`.
    pub kind: PreloadHintType,
    /// Absolute URI of the hinted resource.
    pub uri: Url,
    /// `BYTERANGE-START` (absent means 0).
    pub byte_range_start: Option<u64>,
    /// `BYTERANGE-LENGTH` (absent means "to the end of the resource").
    pub byte_range_length: Option<u64>,
}

/// `#EXT-X-RENDITION-REPORT` (LL-HLS): the live edge of another rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionReport {
    /// Absolute URI of the other rendition's media playlist.
    pub uri: Url,
    /// `LAST-MSN`: its last media sequence number.
    pub last_msn: Option<u64>,
    /// `LAST-PART`: its last partial segment index.
    pub last_part: Option<u64>,
}

/// A media playlist (RFC 8216 §4.3.3, with rfc8216bis LL-HLS tags).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// `#EXT-X-TARGETDURATION`.
    pub target_duration: Duration,
    /// `#EXT-X-MEDIA-SEQUENCE` (0 if absent): MSN of the first segment, skipped ones included.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE` (0 if absent).
    pub discontinuity_sequence: u64,
    /// The listed segments, in order, with consecutive MSNs.
    pub segments: Vec<Segment>,
    /// `#EXT-X-ENDLIST`: no more segments will be added.
    pub end_list: bool,
    /// `#EXT-X-PLAYLIST-TYPE`.
    pub playlist_type: Option<PlaylistType>,
    /// `#EXT-X-SERVER-CONTROL`.
    pub server_control: Option<ServerControl>,
    /// `#EXT-X-PART-INF:PART-TARGET`.
    pub part_target: Option<Duration>,
    /// `#EXT-X-PRELOAD-HINT`s of a known `TYPE`.
    pub preload_hints: Vec<PreloadHint>,
    /// `#EXT-X-SKIP:SKIPPED-SEGMENTS` of a delta update: segments left out before the first
    /// listed one (0 for a full playlist).
    pub skipped_segments: u64,
    /// `#EXT-X-RENDITION-REPORT`s.
    pub rendition_reports: Vec<RenditionReport>,
    /// `#EXT-X-PART`s listed after the last segment: the parts published so far of the
    /// segment still being produced (MSN [`MediaPlaylist::next_msn`]).
    pub trailing_parts: Vec<Part>,
}

impl MediaPlaylist {
    /// Media sequence number of the last segment, if any.
    pub fn last_msn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.msn)
    }

    /// Media sequence number the next segment to be added will have (the segment that
    /// [`trailing_parts`](Self::trailing_parts) belong to).
    pub fn next_msn(&self) -> u64 {
        match self.last_msn() {
            Some(msn) => msn.saturating_add(1),
            None => self.media_sequence.saturating_add(self.skipped_segments),
        }
    }

    /// Total duration of all segments.
    pub fn duration(&self) -> Duration {
        self.segments
            .iter()
            .fold(Duration::ZERO, |acc, s| acc.saturating_add(s.duration))
    }

    /// Whether the playlist may still change: neither `ENDLIST` nor `PLAYLIST-TYPE:VOD`.
    pub fn is_live(&self) -> bool {
        !self.end_list && self.playlist_type != Some(PlaylistType::Vod)
    }

    /// How far from the end of the playlist a live viewer starts: the larger of 3 × target
    /// duration (RFC 8216 §6.3.3) and `HOLD-BACK` (rfc8216bis §4.4.3.8).
    pub fn hold_back(&self) -> Duration {
        let three_td = self.target_duration.saturating_mul(3);
        match self.server_control.as_ref().and_then(|sc| sc.hold_back) {
            Some(hb) => hb.max(three_td),
            None => three_td,
        }
    }

    /// Index into `segments` where a live viewer should start: the latest segment that starts
    /// at least [`hold_back`](Self::hold_back) (max(3 × target duration, HOLD-BACK)) before
    /// the end of the playlist (RFC 8216 §6.3.3 / rfc8216bis HOLD-BACK); 0 for VOD/ENDLIST
    /// playlists or when the playlist is shorter than that.
    pub fn live_start_index(&self) -> usize {
        if !self.is_live() {
            return 0;
        }
        let hold = self.hold_back();
        let mut from_end = Duration::ZERO;
        for (i, seg) in self.segments.iter().enumerate().rev() {
            from_end = from_end.saturating_add(seg.duration);
            if from_end >= hold {
                return i;
            }
        }
        0
    }

    /// Segments with msn > `last_loaded` (the RFC 8216 §6.3.5 "next segment" rule), in order.
    pub fn segments_after(&self, last_loaded: u64) -> &[Segment] {
        let start = self.segments.partition_point(|s| s.msn <= last_loaded);
        self.segments.get(start..).unwrap_or_default()
    }

    /// The segment with media sequence number `msn`, if listed.
    pub fn segment(&self, msn: u64) -> Option<&Segment> {
        let first = self.segments.first()?.msn;
        let index = usize::try_from(msn.checked_sub(first)?).ok()?;
        self.segments.get(index)
    }
}

//! The line-oriented playlist parser behind [`parse`].

use std::time::SystemTime;

use url::Url;

use super::attributes::{AttributeList, parse_decimal_integer, parse_duration};
use super::datetime::parse_date_time;
use super::error::PlaylistError;
use super::model::{
    ByteRange, InitSection, MasterPlaylist, MediaPlaylist, Part, Playlist, PlaylistType,
    PreloadHint, PreloadHintType, Rendition, RenditionReport, RenditionType, Segment,
    ServerControl, Variant,
};

/// Parses a playlist body fetched from `base` (the playlist's final URL after redirects).
///
/// Tolerates a UTF-8 byte-order mark, CRLF line ends, blank lines, surrounding whitespace,
/// comments and unknown tags. Every URI is resolved against `base`. Never panics.
pub fn parse(body: &[u8], base: &Url) -> Result<Playlist, PlaylistError> {
    let lines = split_lines(body)?;
    let first = lines
        .iter()
        .find(|l| !l.text.is_empty())
        .ok_or(PlaylistError::Empty)?;
    if first.text != "#EXTM3U" {
        return Err(PlaylistError::NotM3u { line: first.no });
    }
    if is_master(&lines)? {
        parse_master(&lines, base).map(Playlist::Master)
    } else {
        parse_media(&lines, base).map(Playlist::Media)
    }
}

/// One line of the body: 1-based number and text without surrounding whitespace.
struct Line<'a> {
    no: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    /// `Some((name, value))` for a tag line (`#EXT…`), name without `#`.
    fn tag(&self) -> Option<(&'a str, Option<&'a str>)> {
        let rest = self.text.strip_prefix('#')?;
        if !rest.starts_with("EXT") {
            return None;
        }
        Some(match rest.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (rest, None),
        })
    }

    /// Whether the line is a URI line (neither blank nor starting with `#`).
    fn is_uri(&self) -> bool {
        !self.text.is_empty() && !self.text.starts_with('#')
    }
}

fn split_lines(body: &[u8]) -> Result<Vec<Line<'_>>, PlaylistError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| {
        let before = body.get(..e.valid_up_to()).unwrap_or_default();
        PlaylistError::InvalidUtf8 {
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        }
    })?;
    Ok(text
        .split('\n')
        .enumerate()
        .map(|(i, t)| Line {
            no: i + 1,
            text: t.trim(),
        })
        .collect())
}

const MASTER_TAGS: &[&str] = &[
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
    "EXT-X-CONTENT-STEERING",
];

const MEDIA_TAGS: &[&str] = &[
    "EXTINF",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-GAP",
    "EXT-X-PART",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-SKIP",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
];

/// Decides master vs media; a playlist with both kinds of tags is invalid (RFC 8216 §4.1).
fn is_master(lines: &[Line<'_>]) -> Result<bool, PlaylistError> {
    let mut master = false;
    let mut media = false;
    for line in lines {
        let Some((name, _)) = line.tag() else {
            continue;
        };
        let is_master_tag = MASTER_TAGS.contains(&name);
        let is_media_tag = MEDIA_TAGS.contains(&name);
        if (is_master_tag && media) || (is_media_tag && master) {
            return Err(PlaylistError::Mixed {
                line: line.no,
                tag: name.to_owned(),
            });
        }
        master |= is_master_tag;
        media |= is_media_tag;
    }
    Ok(master)
}

/// Context for errors about one tag.
struct TagCtx<'a> {
    line: usize,
    name: &'a str,
    value: Option<&'a str>,
}

impl TagCtx<'_> {
    fn err(&self, reason: impl Into<String>) -> PlaylistError {
        PlaylistError::InvalidTag {
            line: self.line,
            tag: self.name.to_owned(),
            reason: reason.into(),
        }
    }

    fn value(&self) -> Result<&str, PlaylistError> {
        match self.value.map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(self.err("missing value")),
        }
    }

    fn attrs(&self) -> Result<AttributeList<'_>, PlaylistError> {
        AttributeList::parse(self.value()?).map_err(|e| self.err(e))
    }

    /// Runs an attribute accessor, mapping its error to this tag.
    fn get<T>(&self, r: Result<T, String>) -> Result<T, PlaylistError> {
        r.map_err(|e| self.err(e))
    }

    fn resolve(&self, base: &Url, uri: &str) -> Result<Url, PlaylistError> {
        resolve(base, self.line, uri)
    }
}

fn resolve(base: &Url, line: usize, uri: &str) -> Result<Url, PlaylistError> {
    let invalid = |source| PlaylistError::InvalidUri {
        line,
        uri: uri.to_owned(),
        source,
    };
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(PlaylistError::EmptyUri { line });
    }
    match join_file_name(base, uri) {
        Some(url) => Ok(url),
        None => base.join(uri).map_err(invalid),
    }
}

/// `base.join(name)` for the common case of a bare file name (`seg12.3.ts`: unreserved
/// characters only, not `.` or `..`) against an http(s) base, made by replacing the
/// last segment of a copy of the base's path instead of running the URL parser: a
/// reloaded LL-HLS playlist resolves dozens of part URIs several times a second per
/// viewer. `None` for anything else, which `Url::join` then resolves.
fn join_file_name(base: &Url, name: &str) -> Option<Url> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !name.bytes().all(unreserved) || name == "." || name == ".." {
        return None;
    }
    if !matches!(base.scheme(), "http" | "https") {
        return None;
    }
    let mut url = base.clone();
    url.set_fragment(None);
    url.set_query(None);
    url.path_segments_mut().ok()?.pop().push(name);
    Some(url)
}

fn parse_master(lines: &[Line<'_>], base: &Url) -> Result<MasterPlaylist, PlaylistError> {
    let mut variants = Vec::new();
    let mut renditions = Vec::new();
    // A variant whose URI line has not been seen yet, with the line of its tag.
    let mut pending: Option<(usize, PendingVariant)> = None;
    for line in lines {
        if line.is_uri() {
            if let Some((_, v)) = pending.take() {
                variants.push(Variant {
                    uri: resolve(base, line.no, line.text)?,
                    bandwidth: v.bandwidth,
                    average_bandwidth: v.average_bandwidth,
                    resolution: v.resolution,
                    codecs: v.codecs,
                    audio_group: v.audio_group,
                    video_group: v.video_group,
                    subtitles_group: v.subtitles_group,
                });
            }
            continue;
        }
        let Some((name, value)) = line.tag() else {
            continue;
        };
        let tag = TagCtx {
            line: line.no,
            name,
            value,
        };
        match name {
            "EXT-X-STREAM-INF" => {
                if let Some((at, _)) = pending {
                    return Err(PlaylistError::MissingVariantUri { line: at });
                }
                let a = tag.attrs()?;
                let bandwidth = tag
                    .get(a.decimal_integer("BANDWIDTH"))?
                    .ok_or_else(|| tag.err("missing required attribute BANDWIDTH"))?;
                pending = Some((
                    line.no,
                    PendingVariant {
                        bandwidth,
                        average_bandwidth: tag.get(a.decimal_integer("AVERAGE-BANDWIDTH"))?,
                        resolution: tag.get(a.resolution("RESOLUTION"))?,
                        codecs: a.string("CODECS").map(str::to_owned),
                        audio_group: a.string("AUDIO").map(str::to_owned),
                        video_group: a.string("VIDEO").map(str::to_owned),
                        subtitles_group: a.string("SUBTITLES").map(str::to_owned),
                    },
                ));
            }
            "EXT-X-MEDIA" => {
                let a = tag.attrs()?;
                let kind = match tag.get(a.required_string("TYPE"))? {
                    "AUDIO" => RenditionType::Audio,
                    "VIDEO" => RenditionType::Video,
                    "SUBTITLES" => RenditionType::Subtitles,
                    "CLOSED-CAPTIONS" => RenditionType::ClosedCaptions,
                    other => return Err(tag.err(format!("unknown TYPE {other:?}"))),
                };
                renditions.push(Rendition {
                    kind,
                    group_id: tag.get(a.required_string("GROUP-ID"))?.to_owned(),
                    name: tag.get(a.required_string("NAME"))?.to_owned(),
                    uri: a.string("URI").map(|u| tag.resolve(base, u)).transpose()?,
                    default: tag.get(a.yes_no("DEFAULT"))?,
                    autoselect: tag.get(a.yes_no("AUTOSELECT"))?,
                    language: a.string("LANGUAGE").map(str::to_owned),
                });
            }
            _ => {}
        }
    }
    if let Some((at, _)) = pending {
        return Err(PlaylistError::MissingVariantUri { line: at });
    }
    if variants.is_empty() {
        return Err(PlaylistError::NoVariants);
    }
    Ok(MasterPlaylist {
        variants,
        renditions,
    })
}

struct PendingVariant {
    bandwidth: u64,
    average_bandwidth: Option<u64>,
    resolution: Option<(u32, u32)>,
    codecs: Option<String>,
    audio_group: Option<String>,
    video_group: Option<String>,
    subtitles_group: Option<String>,
}

/// Parses `<length>[@<offset>]` (EXT-X-BYTERANGE and the BYTERANGE attributes).
fn parse_byte_range_spec(s: &str) -> Result<(u64, Option<u64>), String> {
    let (len, off) = match s.trim().split_once('@') {
        Some((len, off)) => (len, Some(off)),
        None => (s.trim(), None),
    };
    let len = parse_decimal_integer(len).map_err(|e| format!("byte range length: {e}"))?;
    let off = off
        .map(|o| parse_decimal_integer(o).map_err(|e| format!("byte range offset: {e}")))
        .transpose()?;
    Ok((len, off))
}

/// Resolves a byte range whose offset may be left out: it then starts right after `prev`,
/// which must be a range of the same resource (RFC 8216 §4.3.2.2).
fn resolve_range(
    (length, offset): (u64, Option<u64>),
    uri: &Url,
    prev: Option<(&Url, ByteRange)>,
    what: &str,
) -> Result<ByteRange, String> {
    let offset = match offset {
        Some(o) => o,
        None => match prev {
            Some((prev_uri, r)) if prev_uri == uri => r
                .end()
                .ok_or_else(|| "byte range offset overflows".to_owned())?,
            _ => {
                return Err(format!(
                    "byte range without offset, but the previous {what} is not a sub-range of the same resource"
                ));
            }
        },
    };
    let range = ByteRange { offset, length };
    range
        .end()
        .ok_or_else(|| "byte range overflows".to_owned())?;
    Ok(range)
}

/// Tags that apply to the next segment URI line.
#[derive(Default)]
struct NextSegment {
    /// `#EXTINF` duration.
    duration: Option<std::time::Duration>,
    /// `#EXT-X-BYTERANGE` spec with the tag's line number.
    byte_range: Option<(usize, (u64, Option<u64>))>,
    discontinuity: bool,
    program_date_time: Option<SystemTime>,
    gap: bool,
    parts: Vec<Part>,
}

fn parse_media(lines: &[Line<'_>], base: &Url) -> Result<MediaPlaylist, PlaylistError> {
    let mut target_duration = None;
    let mut media_sequence = 0u64;
    let mut discontinuity_sequence = 0u64;
    let mut end_list = false;
    let mut playlist_type = None;
    let mut server_control = None;
    let mut part_target = None;
    let mut preload_hints = Vec::new();
    let mut skipped_segments = 0u64;
    let mut rendition_reports = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut next = NextSegment::default();
    let mut map: Option<InitSection> = None;

    for line in lines {
        if line.is_uri() {
            let duration = next
                .duration
                .ok_or(PlaylistError::MissingExtinf { line: line.no })?;
            let uri = resolve(base, line.no, line.text)?;
            let prev = segments.last();
            let byte_range =
                match next.byte_range {
                    None => None,
                    Some((at, spec)) => {
                        let prev_range = prev.and_then(|p| Some((&p.uri, p.byte_range?)));
                        Some(resolve_range(spec, &uri, prev_range, "segment").map_err(
                            |reason| PlaylistError::InvalidTag {
                                line: at,
                                tag: "EXT-X-BYTERANGE".to_owned(),
                                reason,
                            },
                        )?)
                    }
                };
            let program_date_time = next.program_date_time.or_else(|| {
                let p = prev?;
                if next.discontinuity {
                    return None;
                }
                p.program_date_time?.checked_add(p.duration)
            });
            let taken = std::mem::take(&mut next);
            segments.push(Segment {
                msn: 0, // numbered below, once EXT-X-MEDIA-SEQUENCE is known for sure
                uri,
                duration,
                byte_range,
                map: map.clone(),
                discontinuity: taken.discontinuity,
                program_date_time,
                gap: taken.gap,
                parts: taken.parts,
            });
            continue;
        }
        let Some((name, value)) = line.tag() else {
            continue;
        };
        let tag = TagCtx {
            line: line.no,
            name,
            value,
        };
        match name {
            "EXT-X-TARGETDURATION" => {
                target_duration = Some(tag.get(parse_duration(tag.value()?))?);
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                media_sequence = tag.get(parse_decimal_integer(tag.value()?))?;
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => {
                discontinuity_sequence = tag.get(parse_decimal_integer(tag.value()?))?;
            }
            "EXT-X-PLAYLIST-TYPE" => {
                playlist_type = Some(match tag.value()? {
                    "VOD" => PlaylistType::Vod,
                    "EVENT" => PlaylistType::Event,
                    other => {
                        return Err(tag.err(format!("expected VOD or EVENT, got {other:?}")));
                    }
                });
            }
            "EXT-X-ENDLIST" => end_list = true,
            "EXTINF" => {
                let value = tag.value()?;
                let duration = value.split(',').next().unwrap_or_default();
                next.duration = Some(tag.get(parse_duration(duration))?);
            }
            "EXT-X-BYTERANGE" => {
                next.byte_range = Some((line.no, tag.get(parse_byte_range_spec(tag.value()?))?));
            }
            "EXT-X-DISCONTINUITY" => next.discontinuity = true,
            "EXT-X-GAP" => next.gap = true,
            "EXT-X-PROGRAM-DATE-TIME" => {
                next.program_date_time = Some(tag.get(parse_date_time(tag.value()?))?);
            }
            "EXT-X-MAP" => {
                let a = tag.attrs()?;
                let uri = tag.resolve(base, tag.get(a.required_string("URI"))?)?;
                let byte_range = a
                    .string("BYTERANGE")
                    .map(|s| {
                        let (length, offset) = tag.get(parse_byte_range_spec(s))?;
                        let r = ByteRange {
                            offset: offset.unwrap_or(0),
                            length,
                        };
                        r.end().ok_or_else(|| tag.err("byte range overflows"))?;
                        Ok(r)
                    })
                    .transpose()?;
                map = Some(InitSection { uri, byte_range });
            }
            "EXT-X-PART" => {
                let a = tag.attrs()?;
                let uri = tag.resolve(base, tag.get(a.required_string("URI"))?)?;
                let duration = tag
                    .get(a.duration("DURATION"))?
                    .ok_or_else(|| tag.err("missing required attribute DURATION"))?;
                let byte_range = match a.string("BYTERANGE") {
                    None => None,
                    Some(s) => {
                        let spec = tag.get(parse_byte_range_spec(s))?;
                        // The previous partial segment, possibly in the previous segment.
                        let prev = next
                            .parts
                            .last()
                            .or_else(|| segments.last().and_then(|s| s.parts.last()))
                            .and_then(|p| Some((&p.uri, p.byte_range?)));
                        Some(tag.get(resolve_range(spec, &uri, prev, "partial segment"))?)
                    }
                };
                next.parts.push(Part {
                    uri,
                    duration,
                    independent: tag.get(a.yes_no("INDEPENDENT"))?,
                    byte_range,
                    gap: tag.get(a.yes_no("GAP"))?,
                });
            }
            "EXT-X-PART-INF" => {
                let a = tag.attrs()?;
                part_target = Some(
                    tag.get(a.duration("PART-TARGET"))?
                        .ok_or_else(|| tag.err("missing required attribute PART-TARGET"))?,
                );
            }
            "EXT-X-SERVER-CONTROL" => {
                let a = tag.attrs()?;
                server_control = Some(ServerControl {
                    can_block_reload: tag.get(a.yes_no("CAN-BLOCK-RELOAD"))?,
                    can_skip_until: tag.get(a.duration("CAN-SKIP-UNTIL"))?,
                    can_skip_dateranges: tag.get(a.yes_no("CAN-SKIP-DATERANGES"))?,
                    hold_back: tag.get(a.duration("HOLD-BACK"))?,
                    part_hold_back: tag.get(a.duration("PART-HOLD-BACK"))?,
                });
            }
            "EXT-X-PRELOAD-HINT" => {
                let a = tag.attrs()?;
                let kind = match tag.get(a.required_string("TYPE"))? {
                    "PART" => PreloadHintType::Part,
                    "MAP" => PreloadHintType::Map,
                    // rfc8216bis: clients ignore hints of an unrecognised TYPE.
                    _ => continue,
                };
                preload_hints.push(PreloadHint {
                    kind,
                    uri: tag.resolve(base, tag.get(a.required_string("URI"))?)?,
                    byte_range_start: tag.get(a.decimal_integer("BYTERANGE-START"))?,
                    byte_range_length: tag.get(a.decimal_integer("BYTERANGE-LENGTH"))?,
                });
            }
            "EXT-X-SKIP" => {
                let a = tag.attrs()?;
                skipped_segments = tag
                    .get(a.decimal_integer("SKIPPED-SEGMENTS"))?
                    .ok_or_else(|| tag.err("missing required attribute SKIPPED-SEGMENTS"))?;
            }
            "EXT-X-RENDITION-REPORT" => {
                let a = tag.attrs()?;
                rendition_reports.push(RenditionReport {
                    uri: tag.resolve(base, tag.get(a.required_string("URI"))?)?,
                    last_msn: tag.get(a.decimal_integer("LAST-MSN"))?,
                    last_part: tag.get(a.decimal_integer("LAST-PART"))?,
                });
            }
            _ => {}
        }
    }

    let target_duration = target_duration.ok_or(PlaylistError::MissingTargetDuration)?;
    let first_msn = media_sequence
        .checked_add(skipped_segments)
        .ok_or(PlaylistError::SequenceOverflow)?;
    for (i, seg) in segments.iter_mut().enumerate() {
        seg.msn = u64::try_from(i)
            .ok()
            .and_then(|i| first_msn.checked_add(i))
            .ok_or(PlaylistError::SequenceOverflow)?;
    }
    Ok(MediaPlaylist {
        target_duration,
        media_sequence,
        discontinuity_sequence,
        segments,
        end_list,
        playlist_type,
        server_control,
        part_target,
        preload_hints,
        skipped_segments,
        rendition_reports,
        trailing_parts: next.parts,
    })
}

#[cfg(test)]
mod join_tests {
    use super::*;

    #[test]
    fn the_file_name_shortcut_resolves_exactly_as_url_join() {
        let bases = [
            "http://127.0.0.1:17280/v0/playlist.m3u8",
            "http://o/v0/playlist.m3u8?_HLS_msn=12&_HLS_part=3&_HLS_skip=YES",
            "https://user:pw@cdn.example:8443/a/b/c/live.m3u8#frag",
            "http://o/dir/",
            "http://o/",
            "http://o",
            "http://o/a%20b/list.m3u8",
            "http://o/a/b/..%2Fc/list.m3u8",
        ];
        let names = [
            "seg12.3.ts",
            "SEG_1-2~x.m4s",
            "a..b",
            "...",
            ".hidden",
            "x",
            // Not shortcuts: resolved by Url::join, compared all the same.
            ".",
            "..",
            "../v1/playlist.m3u8",
            "/abs.ts",
            "seg.ts?x=1",
            "seg%20a.ts",
            "a b.ts",
            "http://other/x.ts",
            "//other/x.ts",
        ];
        for b in bases {
            let base = Url::parse(b).unwrap();
            for n in names {
                assert_eq!(
                    resolve(&base, 1, n).ok(),
                    base.join(n).ok(),
                    "base {b}, uri {n}"
                );
            }
        }
        let base = Url::parse(bases[0]).unwrap();
        assert!(
            join_file_name(&base, "seg12.3.ts").is_some(),
            "the shortcut is taken"
        );
        assert!(join_file_name(&base, "../x.ts").is_none());
        let file = Url::parse("file:///tmp/list.m3u8").unwrap();
        assert!(join_file_name(&file, "seg.ts").is_none(), "http(s) only");
    }
}

//! Decoding of compressed response bodies (`Content-Encoding: gzip` / `deflate`).
//!
//! Real players offer compression for playlists and CDNs commonly compress them; the
//! native engine does the same (see [`ACCEPT_ENCODING`]) and decodes what comes back here.
//! Decoding is streaming: compressed frames go in as they arrive, and the decoded size is
//! bounded by a limit given by the caller, so a small "zip bomb" cannot take the memory a
//! huge playlist would. The byte counters never see decoded bytes: they count what the
//! origin sent (the compressed wire body).
//!
//! Pure logic, no I/O: [`coding_of`] reads the header, [`BodyDecoder`] decodes.

use std::fmt;
use std::io::{self, Write};

use bytes::Bytes;
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

/// The `Accept-Encoding` value sent with playlist requests: what [`BodyDecoder`] decodes.
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// A content coding this module can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (or `x-gzip`): RFC 1952, possibly several members.
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950) as the HTTP spec says, or raw deflate (RFC 1951)
    /// as some servers send it; told apart by the first two bytes.
    Deflate,
}

impl Coding {
    /// The coding's name as sent in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A coding we did not offer and cannot decode (e.g. `br`), or a chain of codings.
    Unsupported(String),
    /// The compressed data is invalid.
    Corrupt {
        /// The coding being decoded.
        coding: Coding,
        /// What the decoder said.
        detail: String,
    },
    /// The compressed stream ended before its end marker.
    Incomplete(Coding),
    /// The decoded body would exceed the limit (bytes).
    TooLarge {
        /// The coding being decoded.
        coding: Coding,
        /// The limit that was hit.
        limit: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Unsupported(v) => write!(f, "unsupported Content-Encoding {v:?}"),
            DecodeError::Corrupt { coding, detail } => {
                write!(f, "invalid {} data: {detail}", coding.as_str())
            }
            DecodeError::Incomplete(c) => write!(f, "{} stream ends early", c.as_str()),
            DecodeError::TooLarge { coding, limit } => write!(
                f,
                "{} body decodes to more than {limit} bytes",
                coding.as_str()
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The coding of a response from its `Content-Encoding` headers: `Ok(None)` for none or
/// `identity`, an error for anything else than one gzip/deflate coding.
pub fn coding_of(headers: &HeaderMap) -> Result<Option<Coding>, DecodeError> {
    coding_of_values(
        headers
            .get_all(CONTENT_ENCODING)
            .iter()
            .map(|v| v.as_bytes()),
    )
}

/// [`coding_of`] for the raw values of every `Content-Encoding` header line.
pub fn coding_of_values<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<Coding>, DecodeError> {
    let mut found: Option<Coding> = None;
    for value in values {
        let text = std::str::from_utf8(value)
            .map_err(|_| DecodeError::Unsupported(String::from_utf8_lossy(value).into()))?;
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let coding = if token.eq_ignore_ascii_case("identity") {
                continue;
            } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
                Coding::Gzip
            } else if token.eq_ignore_ascii_case("deflate") {
                Coding::Deflate
            } else {
                return Err(DecodeError::Unsupported(token.to_string()));
            };
            if found.is_some() {
                // Stacked codings (e.g. "gzip, gzip") are legal but no CDN sends them for a
                // playlist; refusing is clearer than half-decoding.
                return Err(DecodeError::Unsupported(text.to_string()));
            }
            found = Some(coding);
        }
    }
    Ok(found)
}

/// A `Vec` that refuses to grow past a limit (the decoders' output).
#[derive(Debug)]
struct Bounded {
    out: Vec<u8>,
    limit: u64,
    overflowed: bool,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.out.len() + buf.len()) as u64 > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("decoded body over the limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The decoder for one coding, once it is known which one.
enum Inner {
    Gzip(MultiGzDecoder<Bounded>),
    Zlib(ZlibDecoder<Bounded>),
    Raw(DeflateDecoder<Bounded>),
    /// `deflate` before its first two bytes arrived (zlib or raw is not known yet).
    Sniffing(Vec<u8>, Bounded),
}

/// Streaming decoder of one response body, bounded by a decoded-size limit.
pub struct BodyDecoder {
    coding: Coding,
    limit: u64,
    inner: Option<Inner>,
}

impl fmt::Debug for BodyDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyDecoder")
            .field("coding", &self.coding)
            .finish_non_exhaustive()
    }
}

/// Whether two bytes start a zlib stream (RFC 1950: CM = 8, header checksum).
fn zlib_header(b0: u8, b1: u8) -> bool {
    b0 & 0x0f == 8 && b0 >> 4 <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
}

impl BodyDecoder {
    /// A decoder for `coding` whose decoded output may be at most `limit` bytes.
    pub fn new(coding: Coding, limit: u64) -> Self {
        let out = Bounded {
            out: Vec::new(),
            limit,
            overflowed: false,
        };
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(MultiGzDecoder::new(out)),
            Coding::Deflate => Inner::Sniffing(Vec::new(), out),
        };
        BodyDecoder {
            coding,
            limit,
            inner: Some(inner),
        }
    }

    /// Decode the next compressed bytes.
    pub fn push(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let result = match inner {
            Inner::Gzip(d) => d.write_all(data).map_err(|e| (e, d.get_ref().overflowed)),
            Inner::Zlib(d) => d.write_all(data).map_err(|e| (e, d.get_ref().overflowed)),
            Inner::Raw(d) => d.write_all(data).map_err(|e| (e, d.get_ref().overflowed)),
            Inner::Sniffing(head, _) => {
                head.extend_from_slice(data);
                if head.len() < 2 {
                    return Ok(());
                }
                let Some(Inner::Sniffing(head, out)) = self.inner.take() else {
                    return Ok(());
                };
                self.inner = Some(if zlib_header(head[0], head[1]) {
                    Inner::Zlib(ZlibDecoder::new(out))
                } else {
                    Inner::Raw(DeflateDecoder::new(out))
                });
                return self.push(&head);
            }
        };
        result.map_err(|(e, overflowed)| self.error(&e, overflowed))
    }

    /// The whole decoded body; an error if the compressed stream was cut short.
    pub fn finish(mut self) -> Result<Bytes, DecodeError> {
        let coding = self.coding;
        let Some(inner) = self.inner.take() else {
            return Ok(Bytes::new());
        };
        let finished = match inner {
            Inner::Gzip(mut d) => d
                .try_finish()
                .map_err(|e| (e, d.get_ref().overflowed))
                .and_then(|()| d.finish().map_err(|e| (e, false))),
            Inner::Zlib(mut d) => d
                .try_finish()
                .map_err(|e| (e, d.get_ref().overflowed))
                .and_then(|()| d.finish().map_err(|e| (e, false))),
            Inner::Raw(mut d) => d
                .try_finish()
                .map_err(|e| (e, d.get_ref().overflowed))
                .and_then(|()| d.finish().map_err(|e| (e, false))),
            Inner::Sniffing(..) => return Err(DecodeError::Incomplete(coding)),
        };
        let out = finished.map_err(|(e, overflowed)| self.error(&e, overflowed))?;
        Ok(Bytes::from(out.out))
    }

    /// Classify a decoder error.
    fn error(&self, e: &io::Error, overflowed: bool) -> DecodeError {
        let coding = self.coding;
        if overflowed {
            return DecodeError::TooLarge {
                coding,
                limit: self.limit,
            };
        }
        if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::WriteZero {
            return DecodeError::Incomplete(coding);
        }
        DecodeError::Corrupt {
            coding,
            detail: e.to_string(),
        }
    }
}

/// Decode a complete body in one go (bounded by `limit` decoded bytes).
pub fn decode(coding: Coding, body: &[u8], limit: u64) -> Result<Bytes, DecodeError> {
    let mut d = BodyDecoder::new(coding, limit);
    d.push(body)?;
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use http::HeaderValue;

    const PLAYLIST: &[u8] = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg1.ts\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn header_names_the_coding() {
        assert_eq!(coding_of(&headers(&[])), Ok(None));
        assert_eq!(coding_of(&headers(&["identity"])), Ok(None));
        assert_eq!(coding_of(&headers(&["GZIP"])), Ok(Some(Coding::Gzip)));
        assert_eq!(coding_of(&headers(&["x-gzip"])), Ok(Some(Coding::Gzip)));
        assert_eq!(coding_of(&headers(&["deflate"])), Ok(Some(Coding::Deflate)));
        assert_eq!(
            coding_of(&headers(&["br"])),
            Err(DecodeError::Unsupported("br".into()))
        );
        assert!(coding_of(&headers(&["gzip", "gzip"])).is_err());
        assert!(coding_of(&headers(&["gzip, deflate"])).is_err());
    }

    #[test]
    fn gzip_decodes_in_any_split() {
        let z = gzip(PLAYLIST);
        for step in [1, 2, 7, z.len()] {
            let mut d = BodyDecoder::new(Coding::Gzip, 1 << 20);
            for chunk in z.chunks(step) {
                d.push(chunk).unwrap();
            }
            assert_eq!(&d.finish().unwrap()[..], PLAYLIST, "step {step}");
        }
        // Two members, as concatenated gzip files are.
        let mut two = gzip(b"#EXTM3U\n");
        two.extend(gzip(b"#EXT-X-ENDLIST\n"));
        assert_eq!(
            &decode(Coding::Gzip, &two, 1 << 20).unwrap()[..],
            b"#EXTM3U\n#EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn deflate_is_zlib_or_raw() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(PLAYLIST).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = DeflateEncoder::new(Vec::new(), Compression::default());
        r.write_all(PLAYLIST).unwrap();
        let raw = r.finish().unwrap();
        for body in [zlib, raw] {
            let mut d = BodyDecoder::new(Coding::Deflate, 1 << 20);
            for chunk in body.chunks(1) {
                d.push(chunk).unwrap();
            }
            assert_eq!(&d.finish().unwrap()[..], PLAYLIST);
        }
    }

    #[test]
    fn failures_are_named() {
        // Not gzip at all.
        let e = decode(Coding::Gzip, PLAYLIST, 1 << 20).unwrap_err();
        assert!(matches!(e, DecodeError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().starts_with("invalid gzip data"), "{e}");
        // Cut short.
        let z = gzip(PLAYLIST);
        let e = decode(Coding::Gzip, &z[..z.len() / 2], 1 << 20).unwrap_err();
        assert_eq!(e, DecodeError::Incomplete(Coding::Gzip));
        let e = decode(Coding::Deflate, &[0x78], 1 << 20).unwrap_err();
        assert_eq!(e, DecodeError::Incomplete(Coding::Deflate));
        // Empty gzip body.
        assert!(decode(Coding::Gzip, b"", 1 << 20).is_err());
    }

    #[test]
    fn decoded_size_is_bounded() {
        // 64 MiB of zeros compress to ~64 KiB: the limit stops it long before.
        let bomb = {
            let mut e = GzEncoder::new(Vec::new(), Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                e.write_all(&zeros).unwrap();
            }
            e.finish().unwrap()
        };
        assert!(bomb.len() < 1 << 20);
        let mut d = BodyDecoder::new(Coding::Gzip, 1 << 20);
        let mut err = None;
        for chunk in bomb.chunks(4096) {
            if let Err(e) = d.push(chunk) {
                err = Some(e);
                break;
            }
        }
        let err = err.unwrap_or_else(|| d.finish().unwrap_err());
        assert_eq!(
            err,
            DecodeError::TooLarge {
                coding: Coding::Gzip,
                limit: 1 << 20
            }
        );
        // Exactly at the limit is fine.
        let z = gzip(PLAYLIST);
        assert!(decode(Coding::Gzip, &z, PLAYLIST.len() as u64).is_ok());
        assert!(decode(Coding::Gzip, &z, PLAYLIST.len() as u64 - 1).is_err());
    }
}

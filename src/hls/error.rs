//! Errors returned by [`parse`](super::parse).

/// Why a playlist body could not be turned into a [`Playlist`](super::Playlist).
///
/// Every variant that concerns one line carries its 1-based `line` number (blank lines count).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    /// The body is empty or holds only whitespace.
    #[error("empty playlist body")]
    Empty,
    /// The first non-blank line is not `#EXTM3U` (RFC 8216 §4.3.1.1).
    #[error("line {line}: not an HLS playlist (first line is not #EXTM3U)")]
    NotM3u {
        /// Line that should have been `#EXTM3U`.
        line: usize,
    },
    /// The body is not valid UTF-8 (RFC 8216 §4.1 requires UTF-8).
    #[error("line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// Line holding the first invalid byte.
        line: usize,
    },
    /// The playlist holds both master-only and media-only tags (RFC 8216 §4.1).
    #[error("line {line}: #{tag} mixes master and media playlist tags")]
    Mixed {
        /// Line of the first tag that conflicts with an earlier one.
        line: usize,
        /// Name of that tag, without the leading `#`.
        tag: String,
    },
    /// A media playlist lacks the required `#EXT-X-TARGETDURATION` tag.
    #[error("media playlist has no #EXT-X-TARGETDURATION")]
    MissingTargetDuration,
    /// A master playlist lists no `#EXT-X-STREAM-INF` variant, so there is nothing to play.
    #[error("master playlist lists no variant stream (#EXT-X-STREAM-INF)")]
    NoVariants,
    /// A tag's value or one of its attributes is malformed or missing.
    #[error("line {line}: #{tag}: {reason}")]
    InvalidTag {
        /// Line of the tag.
        line: usize,
        /// Tag name without the leading `#`.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URI (line or attribute) cannot be resolved against the playlist URL.
    #[error("line {line}: invalid URI {uri:?}: {source}")]
    InvalidUri {
        /// Line holding the URI.
        line: usize,
        /// The URI as written.
        uri: String,
        /// Why resolution failed.
        source: url::ParseError,
    },
    /// A `URI` attribute is empty.
    #[error("line {line}: empty URI")]
    EmptyUri {
        /// Line holding the URI attribute.
        line: usize,
    },
    /// A media segment URI line is not preceded by `#EXTINF` (required by RFC 8216 §4.3.2.1).
    #[error("line {line}: media segment URI without a preceding #EXTINF")]
    MissingExtinf {
        /// Line of the segment URI.
        line: usize,
    },
    /// `#EXT-X-STREAM-INF` is not followed by its URI line.
    #[error("line {line}: #EXT-X-STREAM-INF is not followed by a URI line")]
    MissingVariantUri {
        /// Line of the `#EXT-X-STREAM-INF` tag.
        line: usize,
    },
    /// `EXT-X-MEDIA-SEQUENCE` plus the number of segments does not fit in a `u64`.
    #[error("media sequence number overflows u64")]
    SequenceOverflow,
}

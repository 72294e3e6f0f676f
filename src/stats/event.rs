//! The one event model both engines produce (DESIGN.md principle 1).
//!
//! Engines differ only in how they fill these in; everything downstream (stats, sinks)
//! is engine-agnostic.

use std::time::Duration;

use serde::Serialize;

/// What a request fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// The multivariant ("master") playlist.
    Master,
    /// A media playlist (initial load or classic reload).
    Playlist,
    /// An LL-HLS blocking playlist reload (`_HLS_msn`, with `_HLS_part` when the stream
    /// has parts): the origin holds it until the asked-for part exists.
    Blocking,
    /// A media segment.
    Segment,
    /// An initialisation section (`EXT-X-MAP`).
    Init,
    /// An LL-HLS partial segment listed by an `EXT-X-PART` tag.
    Part,
    /// An LL-HLS partial segment requested from its `EXT-X-PRELOAD-HINT`, before the
    /// playlist listed it: the origin holds it until the part is complete.
    Hint,
}

/// The HTTP version a request was carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Protocol {
    /// HTTP/1.1 (or 1.0).
    #[serde(rename = "http1")]
    Http1,
    /// HTTP/2 (h2 over TLS or h2c).
    #[serde(rename = "http2")]
    Http2,
}

impl Protocol {
    /// Every protocol, in display order.
    pub const ALL: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

    /// Stable name used in JSON keys and metric labels (`http1`, `http2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
        }
    }

    /// Position in [`Protocol::ALL`], for per-protocol arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl RequestKind {
    /// Every kind, in display order.
    pub const ALL: [RequestKind; RequestKind::COUNT] = [
        RequestKind::Master,
        RequestKind::Playlist,
        RequestKind::Blocking,
        RequestKind::Segment,
        RequestKind::Init,
        RequestKind::Part,
        RequestKind::Hint,
    ];

    /// Number of kinds (the length of per-kind arrays).
    pub const COUNT: usize = 7;

    /// Stable lower-case name used in JSON keys and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Master => "master",
            RequestKind::Playlist => "playlist",
            RequestKind::Segment => "segment",
            RequestKind::Init => "init",
            RequestKind::Part => "part",
            RequestKind::Blocking => "blocking",
            RequestKind::Hint => "hint",
        }
    }

    /// Dense index for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No response (or body) within `-timeout`.
    Timeout,
    /// TCP connection refused.
    Refused,
    /// Connection reset or closed by the peer mid-request.
    Reset,
    /// Host name could not be resolved.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// HTTP status 400–499.
    Http4xx,
    /// HTTP status 500–599.
    Http5xx,
    /// Body shorter than Content-Length (connection ended early).
    Truncated,
    /// A playlist body larger than `--max-playlist-size`: reading stopped at the limit.
    PlaylistTooLarge,
    /// A playlist that arrived whole but could not be parsed (or a multivariant playlist
    /// where a media playlist was expected); the cause is logged at `-v`.
    PlaylistInvalid,
    /// A `2xx` segment or init section with an empty body: nothing to play.
    EmptyBody,
    /// A compressed body (`Content-Encoding`) that could not be decoded: corrupt, cut
    /// short, or a coding that was not offered (past the limit once decoded is
    /// [`ErrorClass::PlaylistTooLarge`]).
    Decoding,
    /// Too many redirects, bad redirect target, other I/O errors.
    Other,
}

impl ErrorClass {
    /// Every class, in display order.
    pub const ALL: [ErrorClass; 13] = [
        ErrorClass::Timeout,
        ErrorClass::Refused,
        ErrorClass::Reset,
        ErrorClass::Dns,
        ErrorClass::Tls,
        ErrorClass::Http4xx,
        ErrorClass::Http5xx,
        ErrorClass::Truncated,
        ErrorClass::PlaylistTooLarge,
        ErrorClass::PlaylistInvalid,
        ErrorClass::EmptyBody,
        ErrorClass::Decoding,
        ErrorClass::Other,
    ];

    /// Stable snake_case name used in JSON keys and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Refused => "refused",
            ErrorClass::Reset => "reset",
            ErrorClass::Dns => "dns",
            ErrorClass::Tls => "tls",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Truncated => "truncated",
            ErrorClass::PlaylistTooLarge => "playlist_too_large",
            ErrorClass::PlaylistInvalid => "playlist_invalid",
            ErrorClass::EmptyBody => "empty_body",
            ErrorClass::Decoding => "decoding",
            ErrorClass::Other => "other",
        }
    }

    /// Dense index for per-class arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class of an HTTP error status, if it is one (>= 400).
    pub fn from_status(status: u16) -> Option<ErrorClass> {
        match status {
            400..=499 => Some(ErrorClass::Http4xx),
            500..=599 => Some(ErrorClass::Http5xx),
            _ => None,
        }
    }
}

/// One finished HTTP request: successful, failed, or aborted (still in flight when the
/// run stopped).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestDone {
    /// What was fetched.
    pub kind: RequestKind,
    /// Final HTTP status, if a response head arrived.
    pub status: Option<u16>,
    /// Request start (including any connect) to the response head.
    pub ttfb: Option<Duration>,
    /// Request start to the last body byte (or to the failure).
    pub total: Duration,
    /// Body bytes received (all of them, as the origin sent them: compressed bodies are
    /// counted compressed).
    pub bytes: u64,
    /// Of `bytes`, those already reported by [`Event::Progress`] while the body streamed
    /// (counted there, not again here).
    pub streamed: u64,
    /// Failure class; `None` means success (or aborted, see `aborted`).
    pub error: Option<ErrorClass>,
    /// Redirects followed to get here.
    pub redirects: u32,
    /// This request was a retry of a failed one.
    pub retry: bool,
    /// Still in flight when the run stopped: cut off after the stop's grace period. Neither
    /// a success nor an error; its bytes so far are counted.
    pub aborted: bool,
    /// The protocol of the connection the (final hop of the) request went out on; `None`
    /// when it never got one (a connect failure) or the engine does not know (FFmpeg).
    pub protocol: Option<Protocol>,
    /// New connections this request opened (first use, a replaced keep-alive connection,
    /// a redirect to another host), by the protocol they speak: `[http1, http2]`.
    pub connections: [u8; 2],
    /// For a request the origin may hold (a blocking reload, a preload-hinted part) that
    /// got its content: how long it waited before the content was due (see
    /// [`crate::engine::ll::WaitSplit`]).
    pub hold: Option<Duration>,
    /// For the same requests: how long it waited past the moment the playlist says the
    /// content should exist (its part's end by PROGRAM-DATE-TIME).
    pub lateness: Option<Duration>,
    /// Index of the stream the request was for, in the run's order of streams; `None` in
    /// a single-stream run. Set by the viewer's [`crate::stats::hub::EventSink`].
    pub stream: Option<u32>,
}

impl RequestDone {
    /// A request of `kind` with nothing measured yet (fill in the rest).
    pub fn new(kind: RequestKind) -> Self {
        RequestDone {
            kind,
            status: None,
            ttfb: None,
            total: Duration::ZERO,
            bytes: 0,
            streamed: 0,
            error: None,
            redirects: 0,
            retry: false,
            aborted: false,
            protocol: None,
            connections: [0; 2],
            hold: None,
            lateness: None,
            stream: None,
        }
    }

    /// Bytes of this request not yet counted by [`Event::Progress`] events.
    pub fn unstreamed(&self) -> u64 {
        self.bytes.saturating_sub(self.streamed)
    }
}

/// Player-side happenings, from the player model (native) or `-progress` (ffmpeg).
#[derive(Debug, Clone, PartialEq)]
pub enum PlaybackEvent {
    /// Playback began: time from tune-in to first frame.
    Started { startup: Duration },
    /// The playhead reached the end of the buffer.
    StallStarted,
    /// Playback resumed after a stall of this length.
    StallEnded { stalled: Duration },
    /// Distance behind the live edge, sampled on each playlist load.
    LiveLatency { latency: Duration },
    /// Media time actually played since the last report (for rebuffer ratio).
    Played { media: Duration },
    /// Segments that left the playlist window before the viewer could load them.
    SegmentsExpired { count: u64 },
    /// The media sequence jumped backwards or implausibly far forward: the track
    /// re-tuned at the live point (see [`crate::engine::sequence`]).
    StreamReset,
    /// The viewer was set to play LL-HLS but fell back to classic HLS (the server did not
    /// block, or the stream has no parts with `--ll-hls on`); once per track.
    LlFallback,
    /// A media playlist load had absurd timing (target duration or segment durations)
    /// that was clamped to sane values (see [`crate::hls::timing`]).
    TimingClamped,
    /// A segment given up on after `-seg-retry` retries.
    SegmentSkipped,
    /// Still no first media at the startup timeout: the viewer counts as stalled (it
    /// cannot play) until media flows (see [`super::viewer_state`]).
    StartupTimedOut,
    /// An ABR viewer switched rungs (0 = lowest `BANDWIDTH`): at a segment boundary, or
    /// mid-download by the emergency abandon rule.
    AbrSwitch {
        /// The rung of the last segment.
        from: u8,
        /// The rung of the next one.
        to: u8,
    },
    /// An ABR viewer abandoned a segment download mid-body (hls.js's emergency abandon
    /// rule) to reload the segment from a lower rung.
    AbrAbandon,
    /// An ABR viewer played `media` of `rung` (rungs past 15 count as 15).
    AbrPlayed {
        /// The rung the media came from.
        rung: u8,
        /// Media time played.
        media: Duration,
    },
    /// An ABR viewer's life ended: its switches and its mean played bitrate.
    AbrViewerDone {
        /// Switches to a higher rung.
        switches_up: u32,
        /// Switches to a lower rung.
        switches_down: u32,
        /// Mean `BANDWIDTH` of the media it played, weighted by media time, bit/s
        /// (`None`: it played nothing).
        mean_bitrate: Option<u64>,
    },
}

/// A viewer's life.
#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    /// A viewer slot started for the first time (ramp).
    Started,
    /// A viewer was replaced or respawned (VOD end, stall restart, process exit).
    Restarted,
    /// A viewer stopped; `failure` is false for clean ends and swarm-initiated kills.
    Exited { failure: bool },
    /// A connection was re-established after a connection error.
    Reconnected,
}

/// Everything an engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A finished request.
    Request(RequestDone),
    /// Body bytes of a request still running, counted as they arrive (a long or endless
    /// body shows its bytes live); the request's [`RequestDone::streamed`] says how many
    /// of its bytes were reported this way.
    Progress {
        /// What is being fetched.
        kind: RequestKind,
        /// Bytes received since the request's previous report.
        bytes: u64,
    },
    /// A player-side happening.
    Playback(PlaybackEvent),
    /// A lifecycle change.
    Lifecycle(LifecycleEvent),
    /// The ramp started a viewer slot on stream `stream` (index in the run's order of
    /// streams).
    StreamViewer {
        /// The stream's index.
        stream: u32,
    },
}

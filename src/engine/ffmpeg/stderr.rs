//! FFmpeg's stderr: split into lines on `\r` *and* `\n` (FFmpeg ends status lines with a
//! bare `\r`, which glued the next message onto them in the Go tool), tagged with their
//! log level (`-loglevel level+…`), kept in a small ring when they are warnings or errors,
//! and — for https:// streams only, where the proxy just tunnels — turned into approximate
//! request events.
//!
//! Line shape with `-loglevel repeat+level[+datetime]+…`:
//! `[2026-01-23 08:12:29.601 ][[ctx @ 0x55…] ][level] message`. A message with embedded
//! newlines (FFmpeg's `request:` header dump) continues on untagged lines, which inherit
//! the level of the line that began the message.

use std::collections::VecDeque;

use super::classify::Classifier;
use crate::stats::event::{ErrorClass, RequestDone, RequestKind};

/// Longest line kept; longer lines are cut (the rest up to the line end is skipped).
pub const MAX_LINE: usize = 1024;

/// Lines kept per viewer for diagnostics.
pub const RING_LINES: usize = 20;

/// Longest line stored in the ring.
const RING_LINE_CHARS: usize = 300;

/// Splits a byte stream into lines at `\r` or `\n`, skipping empty lines and cutting long
/// ones at [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    skipping: bool,
}

impl LineSplitter {
    /// Feed bytes; `emit` gets every complete line.
    pub fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(&str)) {
        while !data.is_empty() {
            match data.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(i) => {
                    self.take(&data[..i]);
                    self.flush(&mut emit);
                    data = &data[i + 1..];
                }
                None => {
                    self.take(data);
                    data = &[];
                }
            }
        }
    }

    /// End of stream: emit what is left.
    pub fn finish(&mut self, mut emit: impl FnMut(&str)) {
        self.flush(&mut emit);
    }

    fn take(&mut self, part: &[u8]) {
        if self.skipping {
            return;
        }
        let room = MAX_LINE.saturating_sub(self.buf.len());
        if part.len() > room {
            self.buf.extend_from_slice(&part[..room]);
            self.skipping = true;
        } else {
            self.buf.extend_from_slice(part);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(&str)) {
        if !self.buf.is_empty() {
            emit(&String::from_utf8_lossy(&self.buf));
        }
        self.buf.clear();
        self.skipping = false;
    }
}

/// FFmpeg log levels, quietest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `panic` / `fatal`.
    Fatal,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
    /// `verbose`.
    Verbose,
    /// `debug` / `trace`.
    Debug,
}

/// A line taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// `[level]` tag, if the line had one.
    pub level: Option<Level>,
    /// The context address of `[name @ 0x…]`, if any.
    pub context: Option<&'a str>,
    /// The message after the prefixes.
    pub message: &'a str,
}

/// Take a line apart (optional datetime, context and level prefixes).
pub fn parse_line(line: &str) -> Parsed<'_> {
    let mut rest = line;
    // "2026-01-23 08:12:29.601 "
    let b = rest.as_bytes();
    if b.len() > 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
    {
        rest = &rest[24..];
    }
    let mut context = None;
    if let Some(inner) = rest.strip_prefix('[')
        && let Some(end) = inner.find("] ")
        && let Some((_, addr)) = inner[..end].split_once(" @ ")
    {
        context = Some(addr);
        rest = &inner[end + 2..];
    }
    let mut level = None;
    if let Some(inner) = rest.strip_prefix('[')
        && let Some(end) = inner.find(']')
    {
        level = match &inner[..end] {
            "panic" | "fatal" => Some(Level::Fatal),
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "info" => Some(Level::Info),
            "verbose" => Some(Level::Verbose),
            "debug" | "trace" => Some(Level::Debug),
            _ => None,
        };
        if level.is_some() {
            rest = inner[end + 1..].trim_start();
        }
    }
    Parsed {
        level,
        context,
        message: rest,
    }
}

/// The last warning/error lines of one process, bounded.
#[derive(Debug, Default, Clone)]
pub struct Ring {
    lines: VecDeque<String>,
}

impl Ring {
    /// Keep `line` (cut to a few hundred characters), dropping the oldest beyond the cap.
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == RING_LINES {
            self.lines.pop_front();
        }
        let cut = if line.len() > RING_LINE_CHARS {
            format!("{}…", &line[..line.floor_char_boundary(RING_LINE_CHARS)])
        } else {
            line.to_string()
        };
        self.lines.push_back(cut);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// Most recent line.
    pub fn last(&self) -> Option<&str> {
        self.lines.back().map(String::as_str)
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No line kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Most HTTP contexts tracked at once per process (one per open connection).
const MAX_CONTEXTS: usize = 16;

/// Approximate request events from FFmpeg's debug log (https:// streams only).
///
/// FFmpeg logs `[https @ 0xCTX] [debug] request: GET /path HTTP/1.1` once per request it
/// sends, keep-alive reuse included, and `HTTP error NNN …` on the same context when the
/// response fails. A request is counted when the next request on its context starts (it
/// completed), when an error arrives for it, or when the process ends. Approximate: no
/// timings, no bytes; a response cut mid-body is counted as a success.
#[derive(Debug)]
pub struct ApproxRequests {
    classifier: Classifier,
    /// (context, kind of the request in flight on it), least recently used first.
    pending: VecDeque<(String, RequestKind)>,
}

impl ApproxRequests {
    /// A parser classifying paths with `classifier`.
    pub fn new(classifier: Classifier) -> Self {
        ApproxRequests {
            classifier,
            pending: VecDeque::new(),
        }
    }

    /// Feed one parsed line; `emit` gets the requests it completes.
    pub fn line(&mut self, p: &Parsed<'_>, mut emit: impl FnMut(RequestDone)) {
        let Some(ctx) = p.context else { return };
        if let Some(rest) = p.message.strip_prefix("request: ") {
            let mut words = rest.split_whitespace();
            let (Some(_method), Some(path)) = (words.next(), words.next()) else {
                return;
            };
            let kind = self.classifier.kind_of_path(path);
            if let Some(i) = self.pending.iter().position(|(c, _)| c == ctx)
                && let Some((_, k)) = self.pending.remove(i)
            {
                emit(done(k, None));
            }
            if self.pending.len() == MAX_CONTEXTS
                && let Some((_, k)) = self.pending.pop_front()
            {
                emit(done(k, None));
            }
            self.pending.push_back((ctx.to_string(), kind));
        } else if let Some(rest) = p.message.strip_prefix("HTTP error ") {
            let status: Option<u16> = rest.split_whitespace().next().and_then(|s| s.parse().ok());
            if let Some(i) = self.pending.iter().position(|(c, _)| c == ctx)
                && let Some((_, k)) = self.pending.remove(i)
            {
                emit(done(k, Some(status.unwrap_or(0))));
            }
        }
    }

    /// The process ended: what is still in flight completed.
    pub fn finish(&mut self, mut emit: impl FnMut(RequestDone)) {
        while let Some((_, k)) = self.pending.pop_front() {
            emit(done(k, None));
        }
    }
}

fn done(kind: RequestKind, failed_status: Option<u16>) -> RequestDone {
    let (status, error) = match failed_status {
        None => (None, None),
        Some(s) => (
            (s > 0).then_some(s),
            Some(ErrorClass::from_status(s).unwrap_or(ErrorClass::Other)),
        ),
    };
    RequestDone {
        kind,
        status,
        ttfb: None,
        total: std::time::Duration::ZERO,
        bytes: 0,
        streamed: 0,
        error,
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

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| out.push(l.to_string()));
        }
        s.finish(|l| out.push(l.to_string()));
        out
    }

    #[test]
    fn splits_on_cr_and_lf_across_chunks() {
        let got = lines(&[
            b"frame=  150 speed=3x    \r[AVIOContext @ 0x1] [verbose] Stat",
            b"istics: 193 bytes read\r\n\nlast",
        ]);
        assert_eq!(
            got,
            vec![
                "frame=  150 speed=3x    ",
                "[AVIOContext @ 0x1] [verbose] Statistics: 193 bytes read",
                "last"
            ]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let long = vec![b'x'; MAX_LINE * 3];
        let got = lines(&[&long, b"\nnext\n"]);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], "next");
    }

    #[test]
    fn parses_prefixes() {
        let p = parse_line("[https @ 0x55ac8dc67080] [debug] request: GET /v0/seg105.ts HTTP/1.1");
        assert_eq!(p.level, Some(Level::Debug));
        assert_eq!(p.context, Some("0x55ac8dc67080"));
        assert_eq!(p.message, "request: GET /v0/seg105.ts HTTP/1.1");
        let p =
            parse_line("2026-01-23 08:12:29.601 [hls @ 0x5] [warning] Failed to open segment 3");
        assert_eq!(p.level, Some(Level::Warning));
        assert_eq!(p.context, Some("0x5"));
        let p = parse_line("[error] Unrecognized option 'seg_max_retry'.");
        assert_eq!((p.level, p.context), (Some(Level::Error), None));
        let p = parse_line("User-Agent: t/client-3");
        assert_eq!((p.level, p.context), (None, None));
    }

    #[test]
    fn ring_is_bounded() {
        let mut r = Ring::default();
        for i in 0..100 {
            r.push(&format!("line {i}"));
        }
        assert_eq!(r.len(), RING_LINES);
        assert_eq!(r.last(), Some("line 99"));
        assert_eq!(r.lines().next(), Some("line 80"));
        r.push(&"é".repeat(400));
        assert!(
            r.last()
                .is_some_and(|l| l.chars().count() <= RING_LINE_CHARS + 1)
        );
    }

    #[test]
    fn approximate_requests_from_a_real_51_https_log() {
        let log = "\
[NULL @ 0x5] [debug] Opening 'https://localhost:18443/v0/playlist.m3u8' for reading
[https @ 0xA] [debug] request: GET /v0/playlist.m3u8 HTTP/1.1
User-Agent: t/client-3
[hls @ 0x5] [info] Opening 'https://localhost:18443/v0/seg105.ts' for reading
[https @ 0xB] [debug] request: GET /v0/seg105.ts HTTP/1.1
[https @ 0xC] [debug] request: GET /v0/seg106.ts HTTP/1.1
[https @ 0xB] [debug] request: GET /v0/seg107.ts HTTP/1.1
[https @ 0xD] [debug] request: GET /v0/playlist.m3u8 HTTP/1.1
[https @ 0xB] [debug] request: GET /v0/seg108.ts HTTP/1.1
[https @ 0xB] [error] HTTP error 404 Not Found
[https @ 0xD] [debug] request: GET /v0/playlist.m3u8 HTTP/1.1
";
        let master =
            Url::parse("https://localhost:18443/master.m3u8").unwrap_or_else(|e| panic!("{e}"));
        let mut a = ApproxRequests::new(Classifier::new(Some(&master)));
        let mut got = Vec::new();
        for l in log.lines() {
            a.line(&parse_line(l), |r| got.push(r));
        }
        a.finish(|r| got.push(r));
        let count = |k: RequestKind| got.iter().filter(|r| r.kind == k).count();
        assert_eq!(count(RequestKind::Playlist), 3);
        assert_eq!(count(RequestKind::Segment), 4);
        let failed: Vec<_> = got.iter().filter(|r| r.error.is_some()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].status, Some(404));
        assert_eq!(failed[0].error, Some(ErrorClass::Http4xx));
        assert!(got.iter().all(|r| r.ttfb.is_none() && r.total.is_zero()));
    }
}

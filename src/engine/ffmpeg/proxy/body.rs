//! Relaying one response (head and body) from the origin to FFmpeg, counting the body
//! bytes as the origin sends them.
//!
//! Bodies of known length that are not playlists go through [`splice`] (zero-copy) once
//! their first bytes have been seen; playlists (kept for classification), chunked bodies
//! and bodies delimited by the connection's end are read in userspace.
//!
//! A playlist is held until it is whole and relayed only if it is within
//! `--max-playlist-size`: FFmpeg keeps every entry of a playlist it reads (measured: ~4 KB
//! of private memory per `#EXTINF` entry, so even 1 MiB of entries costs it ~200 MB), and
//! it cannot use a playlist before its end anyway. Past the limit the exchange fails with
//! [`ErrorClass::PlaylistTooLarge`] and both connections are closed with none of the body
//! relayed, as the native engine stops reading at the same limit.

use std::borrow::Cow;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use url::Url;

use super::chunked::Chunked;
use super::head::Framing;
use super::splice::{self, Pipe};
use crate::engine::ffmpeg::classify::{Learner, looks_like_playlist};
use crate::engine::http::classify::Phase;
use crate::engine::http::decode::{Coding, decode};
use crate::stats::event::{ErrorClass, RequestKind};
use crate::stats::hub::EventSink;
use crate::stats::live::{LiveBytes, PROGRESS_EVERY};

/// Largest playlist body kept for classification.
const MAX_CAPTURE: usize = 1024 * 1024;

/// Room reserved for one userspace read of a body.
const READ_CHUNK: usize = 32 * 1024;

/// What the body carried: payload bytes (chunk framing excluded) and, for a playlist,
/// the body itself.
#[derive(Debug, Default)]
pub struct Meter<'a> {
    /// Payload bytes received from the origin.
    pub bytes: u64,
    /// The body so far when it looks like a playlist, or is compressed and might be one
    /// (≤ 1 MiB as sent).
    pub capture: Option<Vec<u8>>,
    /// The body's `Content-Encoding` (gzip, deflate), if any: a compressed body is kept
    /// and decoded to classify it. It is relayed and counted as sent.
    pub coding: Option<Coding>,
    seen_first: bool,
    /// Reports the bytes of a long body while it streams (`None`: only at the end).
    pub live: Option<Live<'a>>,
    /// The playlist size limit, and whether the request's URL names a playlist (what
    /// decides for a compressed body, whose first bytes say nothing).
    limit: Option<PlaylistLimit>,
    /// The body is a playlist: its first bytes look like one, or it is compressed and its
    /// URL names one.
    is_playlist: bool,
}

/// `--max-playlist-size` as the proxy applies it to one response.
#[derive(Debug, Clone, Copy)]
pub struct PlaylistLimit {
    /// Largest playlist body relayed, in bytes as sent.
    pub max_bytes: u64,
    /// The request's URL names a playlist (`.m3u8`, `.m3u` or the master's URL).
    pub url_is_playlist: bool,
}

/// Live byte reports of one proxied request (see [`crate::stats::live`]). A body still
/// kept for classification (a playlist, ≤ 1 MiB) is reported only when it ends, under the
/// kind its content gives; any other body, once it has run for [`PROGRESS_EVERY`], under
/// the kind its URL gives, and its final event keeps that kind.
#[derive(Debug)]
pub struct Live<'a> {
    sink: &'a EventSink,
    learner: &'a Learner,
    url: &'a Url,
    started: Instant,
    state: Option<LiveBytes>,
}

impl<'a> Live<'a> {
    /// Reports for the request for `url` that started at `started`.
    pub fn new(sink: &'a EventSink, learner: &'a Learner, url: &'a Url, started: Instant) -> Self {
        Live {
            sink,
            learner,
            url,
            started,
            state: None,
        }
    }

    /// The body has `total` bytes so far.
    fn update(&mut self, total: u64) {
        let now = Instant::now();
        let state = match self.state.as_mut() {
            Some(s) => s,
            None if now.saturating_duration_since(self.started) < PROGRESS_EVERY => return,
            None => {
                let kind = self.learner.kind(self.url, None);
                self.state.insert(LiveBytes::new(kind, self.started))
            }
        };
        let new = total.saturating_sub(state.total());
        if let Some(ev) = state.add(new, now) {
            self.sink.send(ev);
        }
    }

    /// The kind the bytes were reported under and how many, once any were.
    pub fn reported(&self) -> Option<(RequestKind, u64)> {
        self.state
            .as_ref()
            .filter(|s| s.streamed() > 0)
            .map(|s| (s.kind(), s.streamed()))
    }
}

impl<'a> Meter<'a> {
    /// The body, decoded if it was compressed, when it is a playlist (kept, and for a
    /// compressed body decodable to at most `limit` bytes); `None` otherwise.
    pub fn playlist_body(&self, limit: u64) -> Option<Cow<'_, [u8]>> {
        let captured = self.capture.as_deref()?;
        let body = match self.coding {
            None => Cow::Borrowed(captured),
            Some(coding) => Cow::Owned(decode(coding, captured, limit).ok()?.to_vec()),
        };
        looks_like_playlist(&body).then_some(body)
    }

    /// A meter reporting live through `live` (`None`: only at the end).
    pub fn with_live(live: Option<Live<'a>>) -> Self {
        Meter {
            live,
            ..Meter::default()
        }
    }

    /// Apply `limit` to a body that turns out to be a playlist.
    pub fn set_playlist_limit(&mut self, limit: PlaylistLimit) {
        self.limit = Some(limit);
    }

    /// The body is a playlist under a size limit: it is held until whole, then relayed.
    fn holds(&self) -> bool {
        self.is_playlist && self.limit.is_some()
    }

    /// The body is a playlist past the size limit: already (`bytes`), or by the length
    /// its head announced.
    fn over_limit(&self, announced: Option<u64>) -> bool {
        match self.limit {
            Some(l) if self.is_playlist => self.bytes.max(announced.unwrap_or(0)) > l.max_bytes,
            _ => false,
        }
    }

    /// `n` more body bytes arrived (counted; reported live unless kept for classifying).
    fn add(&mut self, n: u64) {
        self.bytes += n;
        if self.capture.is_none()
            && let Some(live) = self.live.as_mut()
        {
            live.update(self.bytes);
        }
    }

    fn on_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if !self.seen_first {
            self.seen_first = true;
            let looks = looks_like_playlist(data);
            if self.coding.is_some() || looks {
                self.capture = Some(Vec::with_capacity(data.len()));
            }
            self.is_playlist =
                looks || (self.coding.is_some() && self.limit.is_some_and(|l| l.url_is_playlist));
        }
        if let Some(c) = self.capture.as_mut() {
            if c.len() + data.len() <= MAX_CAPTURE {
                c.extend_from_slice(data);
            } else {
                self.capture = None;
            }
        }
        self.add(data.len() as u64);
    }
}

/// Both sockets of one exchange and the FFmpeg side's health.
pub struct Sides<'a> {
    /// The origin connection.
    pub up: &'a mut TcpStream,
    /// Bytes read from the origin and not relayed yet; the response head first.
    pub upbuf: &'a mut Vec<u8>,
    /// FFmpeg's connection.
    pub client: &'a mut TcpStream,
    /// False once writing to FFmpeg failed: the rest is read from the origin and dropped.
    pub client_ok: bool,
    /// The FFmpeg connection's splice pipe, made on first use.
    pub pipe: &'a mut Option<Pipe>,
    /// End of the request's time budget.
    pub deadline: Instant,
}

impl Sides<'_> {
    /// Send `upbuf[..n]` to FFmpeg (unless it is gone) and drop it from the buffer.
    async fn pass(&mut self, n: usize) {
        if self.client_ok && n > 0 {
            let w = timeout_at(self.deadline, self.client.write_all(&self.upbuf[..n])).await;
            if !matches!(w, Ok(Ok(()))) {
                self.client_ok = false;
            }
        }
        self.upbuf.drain(..n);
    }

    /// Read more from the origin; `Ok(false)` at its end of stream.
    async fn fill(&mut self) -> Result<bool, ErrorClass> {
        self.upbuf.reserve(READ_CHUNK);
        match timeout_at(self.deadline, self.up.read_buf(self.upbuf)).await {
            Err(_) => Err(ErrorClass::Timeout),
            Ok(Err(e)) => Err(classify_io(&e, true)),
            Ok(Ok(n)) => Ok(n > 0),
        }
    }

    /// The splice pipe, made on first use; `None` if the system will not give one.
    fn pipe(&mut self) -> Option<&Pipe> {
        if self.pipe.is_none() {
            *self.pipe = Pipe::new().ok();
        }
        self.pipe.as_ref()
    }
}

/// Relay the response whose `head_len`-byte head is at the front of `upbuf`, then its
/// body as `framing` delimits it. On success the body is complete and `upbuf` holds
/// whatever the origin sent after it.
pub async fn relay(
    s: &mut Sides<'_>,
    head_len: usize,
    framing: Framing,
    meter: &mut Meter<'_>,
) -> Result<(), ErrorClass> {
    // `held` bytes at the front of `upbuf` are processed but not relayed yet: the head
    // (sent with the first body bytes when they are already here, one write), and all of
    // a playlist under a size limit until its end.
    let mut held = head_len;
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => u64::MAX,
    };
    let mut chunked = (framing == Framing::Chunked).then(Chunked::default);
    let announced = match framing {
        Framing::Length(n) => Some(n),
        _ => None,
    };
    loop {
        let done = match framing {
            Framing::Empty => true,
            Framing::Length(_) => left == 0,
            Framing::Chunked => chunked.as_ref().is_some_and(Chunked::done),
            Framing::Close => false,
        };
        if done {
            s.pass(held).await;
            return Ok(());
        }
        if s.upbuf.len() == held {
            if !meter.holds() {
                s.pass(held).await;
                held = 0;
            }
            if let Framing::Length(_) = framing
                && held == 0
                && meter.seen_first
                && meter.capture.is_none()
                && s.pipe().is_some()
            {
                return spliced(s, left, meter).await;
            }
            if !s.fill().await? {
                return match framing {
                    Framing::Close => {
                        s.pass(held).await;
                        Ok(())
                    }
                    _ => Err(ErrorClass::Truncated),
                };
            }
            continue;
        }
        let data = &s.upbuf[held..];
        let take = match (&mut chunked, framing) {
            (Some(c), _) => c
                .feed(data, |d| meter.on_data(d))
                .map_err(|()| ErrorClass::Other)?,
            (None, Framing::Length(_)) => {
                let take = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                meter.on_data(&data[..take]);
                left -= take as u64;
                take
            }
            (None, _) => {
                meter.on_data(data);
                data.len()
            }
        };
        if meter.over_limit(announced) {
            // No byte of the playlist reaches FFmpeg; the caller closes both sides.
            return Err(ErrorClass::PlaylistTooLarge);
        }
        held += take;
        if !meter.holds() {
            s.pass(held).await;
            held = 0;
        }
    }
}

/// The rest of a fixed-length body, zero-copy.
async fn spliced(s: &mut Sides<'_>, left: u64, meter: &mut Meter<'_>) -> Result<(), ErrorClass> {
    let Some(pipe) = s.pipe.as_ref() else {
        return Err(ErrorClass::Other);
    };
    let r = splice::relay(
        pipe,
        s.up,
        s.client,
        &mut s.client_ok,
        left,
        s.deadline,
        &mut |n| meter.add(n),
    )
    .await;
    r.map_err(|e| classify_io(&e, true))
}

/// The error class of an I/O failure talking to the origin: the native engine's
/// classification (a connection that ends inside a body is a truncation, before it a
/// reset), so both engines count the same failure alike.
pub fn classify_io(err: &io::Error, in_body: bool) -> ErrorClass {
    let phase = if in_body { Phase::Body } else { Phase::Head };
    crate::engine::http::classify::classify_io(err, phase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ffmpeg::proxy::test_support::tcp_pair as pair;

    /// Relay `wire` (head + body) as `framing` says; returns (result, meter, what FFmpeg
    /// got, what stayed in the buffer).
    async fn run(
        wire: Vec<u8>,
        head_len: usize,
        framing: Framing,
    ) -> (Result<(), ErrorClass>, Meter<'static>, Vec<u8>, Vec<u8>) {
        run_with(wire, head_len, framing, Meter::default()).await
    }

    /// [`run`] with a meter set up by the caller (a playlist limit, a coding).
    async fn run_with(
        wire: Vec<u8>,
        head_len: usize,
        framing: Framing,
        mut meter: Meter<'static>,
    ) -> (Result<(), ErrorClass>, Meter<'static>, Vec<u8>, Vec<u8>) {
        let (mut origin, mut up) = pair().await;
        let (mut client, mut ffmpeg) = pair().await;
        let w = tokio::spawn(async move {
            origin.write_all(&wire).await.unwrap();
        });
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            ffmpeg.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut upbuf = Vec::new();
        while upbuf.len() < head_len {
            up.read_buf(&mut upbuf).await.unwrap();
        }
        let mut pipe = None;
        let r = {
            let mut s = Sides {
                up: &mut up,
                upbuf: &mut upbuf,
                client: &mut client,
                client_ok: true,
                pipe: &mut pipe,
                deadline: Instant::now() + std::time::Duration::from_secs(5),
            };
            relay(&mut s, head_len, framing, &mut meter).await
        };
        w.await.unwrap();
        drop(client);
        (r, meter, reader.await.unwrap(), upbuf)
    }

    #[tokio::test]
    async fn fixed_length_bodies_are_relayed_and_counted() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n".to_vec();
        let mut wire = head.clone();
        wire.extend((0..200_000u32).map(|i| (i % 7) as u8));
        let (r, m, got, rest) = run(wire.clone(), head.len(), Framing::Length(200_000)).await;
        assert_eq!(r, Ok(()));
        assert_eq!(m.bytes, 200_000);
        assert!(m.capture.is_none());
        assert_eq!(got, wire);
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn playlists_are_captured_and_chunked_bodies_decoded() {
        let pl = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n";
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", pl.len());
        let mut wire = head.clone().into_bytes();
        wire.extend_from_slice(pl);
        let (r, m, got, _) = run(wire.clone(), head.len(), Framing::Length(pl.len() as u64)).await;
        assert_eq!(r, Ok(()));
        assert_eq!(m.capture.as_deref(), Some(&pl[..]));
        assert_eq!(got, wire);

        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut wire = head.clone();
        wire.extend_from_slice(b"8\r\n#EXTM3U\n\r\n3\r\nabc\r\n0\r\n\r\n");
        let (r, m, got, _) = run(wire.clone(), head.len(), Framing::Chunked).await;
        assert_eq!(r, Ok(()));
        assert_eq!(m.bytes, 11);
        assert_eq!(m.capture.as_deref(), Some(&b"#EXTM3U\nabc"[..]));
        assert_eq!(got, wire);
    }

    #[tokio::test]
    async fn early_close_is_a_truncation_unless_close_delimited() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
        let mut wire = head.clone();
        wire.extend_from_slice(b"12345");
        let (r, m, _, _) = run(wire, head.len(), Framing::Length(10)).await;
        assert_eq!((r, m.bytes), (Err(ErrorClass::Truncated), 5));

        let head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let mut wire = head.clone();
        wire.extend_from_slice(b"12345");
        let (r, m, got, _) = run(wire.clone(), head.len(), Framing::Close).await;
        assert_eq!((r, m.bytes), (Ok(()), 5));
        assert_eq!(got, wire);
    }

    /// A meter with a 10 KiB playlist limit; `url_is_playlist` as given.
    fn limited(url_is_playlist: bool, coding: Option<Coding>) -> Meter<'static> {
        let mut m = Meter {
            coding,
            ..Meter::default()
        };
        m.set_playlist_limit(PlaylistLimit {
            max_bytes: 10 * 1024,
            url_is_playlist,
        });
        m
    }

    /// A media playlist of about `len` bytes.
    fn playlist(len: usize) -> Vec<u8> {
        let mut pl = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n".to_vec();
        let mut i = 0;
        while pl.len() < len {
            pl.extend_from_slice(format!("#EXTINF:2.0,\nseg{i:09}.ts\n").as_bytes());
            i += 1;
        }
        pl
    }

    #[tokio::test]
    async fn a_chunked_playlist_past_the_limit_never_reaches_ffmpeg() {
        let pl = playlist(200 * 1024);
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut wire = head.clone();
        for part in pl.chunks(4096) {
            wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            wire.extend_from_slice(part);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let (r, m, got, _) =
            run_with(wire, head.len(), Framing::Chunked, limited(false, None)).await;
        assert_eq!(r, Err(ErrorClass::PlaylistTooLarge));
        assert!(m.bytes > 10 * 1024, "counted what came: {}", m.bytes);
        // FFmpeg got at most the head: a playlist is held until whole.
        assert!(
            got.len() <= head.len(),
            "no body byte relayed: {} bytes",
            got.len()
        );

        // The same playlist under the limit passes whole.
        let small = playlist(8 * 1024);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", small.len());
        let mut wire = head.clone().into_bytes();
        wire.extend_from_slice(&small);
        let framing = Framing::Length(small.len() as u64);
        let (r, _, got, _) =
            run_with(wire.clone(), head.len(), framing, limited(false, None)).await;
        assert_eq!(r, Ok(()));
        assert_eq!(got, wire);
    }

    #[tokio::test]
    async fn a_playlist_announced_past_the_limit_is_refused_at_its_first_bytes() {
        let pl = playlist(64 * 1024);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", pl.len());
        let mut wire = head.clone().into_bytes();
        wire.extend_from_slice(&pl);
        let framing = Framing::Length(pl.len() as u64);
        let (r, _, got, _) = run_with(wire, head.len(), framing, limited(false, None)).await;
        assert_eq!(r, Err(ErrorClass::PlaylistTooLarge));
        assert!(
            got.len() <= head.len(),
            "no body byte relayed: {}",
            got.len()
        );
    }

    #[tokio::test]
    async fn media_bodies_are_not_playlists_and_compressed_ones_go_by_their_url() {
        // A 64 KiB segment passes a 10 KiB playlist limit.
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut wire = head.clone();
        for _ in 0..16 {
            wire.extend_from_slice(b"1000\r\n");
            wire.extend(std::iter::repeat_n(0x47u8, 4096));
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let (r, m, got, _) = run_with(
            wire.clone(),
            head.len(),
            Framing::Chunked,
            limited(false, None),
        )
        .await;
        assert_eq!((r, m.bytes), (Ok(()), 64 * 1024));
        assert_eq!(got, wire);

        // Compressed bytes say nothing by themselves: the URL decides.
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            e.write_all(&playlist(64 * 1024)).unwrap();
            e.finish().unwrap()
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gz.len()
        );
        let mut wire = head.clone().into_bytes();
        wire.extend_from_slice(&gz);
        let framing = Framing::Length(gz.len() as u64);
        let m = limited(true, Some(Coding::Gzip));
        let (r, _, _, _) = run_with(wire.clone(), head.len(), framing, m).await;
        assert_eq!(r, Err(ErrorClass::PlaylistTooLarge));
        let m = limited(false, Some(Coding::Gzip));
        let (r, _, got, _) = run_with(wire.clone(), head.len(), framing, m).await;
        assert_eq!(r, Ok(()));
        assert_eq!(got, wire);
    }
}

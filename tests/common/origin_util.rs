//! Tiny raw HTTP/1.1 client shared by the origin tests (included with `#[path]`).
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response as the client saw it.
#[derive(Debug)]
pub struct Got {
    /// Status code.
    pub status: u16,
    /// Lower-cased header names with values.
    pub headers: Vec<(String, String)>,
    /// Body bytes received.
    pub body: Vec<u8>,
    /// Set when the body ended before Content-Length (EOF or error).
    pub truncated: Option<io::ErrorKind>,
    /// Time from sending the request to the end of the headers.
    pub ttfb: Duration,
    /// Time from sending the request to the end of the body.
    pub total: Duration,
}

impl Got {
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Content-Length header as a number.
    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }

    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(addr).await.expect("connect to origin"),
            buf: Vec::new(),
        }
    }

    /// Sends `METHOD path` and reads the response.
    pub async fn request(&mut self, method: &str, path: &str) -> io::Result<Got> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: origin\r\nUser-Agent: origin-test/1\r\n\r\n"
        );
        let t0 = Instant::now();
        self.stream.write_all(req.as_bytes()).await?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let ttfb = t0.elapsed();
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or(io::ErrorKind::InvalidData)?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut got = Got {
            status,
            headers,
            body: Vec::new(),
            truncated: None,
            ttfb,
            total: Duration::ZERO,
        };
        let chunked = got
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked && method != "HEAD" {
            self.read_chunked(&mut got).await;
            got.total = t0.elapsed();
            return Ok(got);
        }
        let want = if method == "HEAD" {
            0
        } else {
            got.content_length().unwrap_or(0)
        };
        while self.buf.len() < want {
            let mut chunk = vec![0u8; 64 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) => {
                    got.truncated = Some(io::ErrorKind::UnexpectedEof);
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    got.truncated = Some(e.kind());
                    break;
                }
            }
        }
        let take = want.min(self.buf.len());
        got.body = self.buf.drain(..take).collect();
        got.total = t0.elapsed();
        Ok(got)
    }

    /// Reads a chunked body into `got` (sets `truncated` if the connection ends first).
    async fn read_chunked(&mut self, got: &mut Got) {
        loop {
            let Some(line_end) = self.fill_until_crlf(got).await else {
                return;
            };
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            self.buf.drain(..line_end + 2);
            let size =
                usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
            while self.buf.len() < size + 2 {
                if !self.read_more(got).await {
                    return;
                }
            }
            got.body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return;
            }
        }
    }

    async fn fill_until_crlf(&mut self, got: &mut Got) -> Option<usize> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Some(i);
            }
            if !self.read_more(got).await {
                return None;
            }
        }
    }

    async fn read_more(&mut self, got: &mut Got) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        match self.stream.read(&mut chunk).await {
            Ok(0) => {
                got.truncated = Some(io::ErrorKind::UnexpectedEof);
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => {
                got.truncated = Some(e.kind());
                false
            }
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Got {
        self.request("GET", path).await.expect("response")
    }
}

/// One-shot GET on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Got {
    Conn::open(addr).await.get(path).await
}

/// Media sequence number of a playlist text.
pub fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("playlist has EXT-X-MEDIA-SEQUENCE")
}

/// Segment URIs of a playlist text.
pub fn segment_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Parsed access-log lines.
pub fn read_log(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("access log exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("access log line is JSON"))
        .collect()
}

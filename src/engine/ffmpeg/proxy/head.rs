//! HTTP/1.1 message heads for the measuring proxy: reading them off a socket, parsing
//! them (`httparse`), the body framing of a response (RFC 9112 §6.3), and the request
//! written upstream.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};
use url::Url;

use crate::engine::http::decode::{Coding, coding_of_values};

/// Largest head accepted, either direction.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted in one head.
const MAX_HEADERS: usize = 128;

/// Read from `io` into `buf` until `parse` finds a complete head in it. `Ok(None)` when
/// the peer closed before sending a byte of it; `UnexpectedEof` when it closed midway;
/// `InvalidData` for a malformed or oversized head. The head stays at the front of `buf`.
pub async fn read_head<R, T>(
    io: &mut R,
    buf: &mut Vec<u8>,
    parse: impl Fn(&[u8]) -> Result<Option<T>, ()>,
) -> io::Result<Option<T>>
where
    R: AsyncRead + Unpin,
{
    loop {
        if !buf.is_empty() {
            match parse(buf) {
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(()) => return Err(io::ErrorKind::InvalidData.into()),
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(io::ErrorKind::InvalidData.into());
        }
        buf.reserve(8 * 1024);
        if io.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}

/// A request from FFmpeg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Length of the head in the buffer it was parsed from.
    pub len: usize,
    /// `GET`, `HEAD`, `CONNECT`, …
    pub method: String,
    /// The request target as sent (absolute form for a proxy).
    pub target: String,
    /// Header lines in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
    /// The request announces a body (which the proxy never forwards).
    pub has_body: bool,
}

impl RequestHead {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Parse a request head at the front of `buf`: `Ok(None)` while incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<RequestHead>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(());
    };
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let tokens = connection_tokens(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
    let close = tokens.close || (minor == 0 && !tokens.keep_alive);
    let has_body = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding")
            || (n.eq_ignore_ascii_case("content-length") && trimmed(v) != b"0")
    });
    Ok(Some(RequestHead {
        len,
        method: method.to_string(),
        target: target.to_string(),
        headers,
        close,
        has_body,
    }))
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the origin closes the connection.
    Close,
}

/// A response head from the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Length of the head in the buffer it was parsed from.
    pub len: usize,
    /// Status code.
    pub status: u16,
    /// How its body is delimited.
    pub framing: Framing,
    /// The origin keeps the connection open after this response.
    pub keep_alive: bool,
    /// The body's `Content-Encoding`, when it is one the proxy can decode to classify a
    /// compressed playlist (gzip, deflate); `None` for none or any other.
    pub coding: Option<Coding>,
}

/// Parse a response head at the front of `buf` (`head_request`: the request was HEAD, so
/// no body follows whatever the headers say). `Ok(None)` while incomplete; `Err` for a
/// malformed head or an unusable `Content-Length`.
pub fn parse_response(buf: &[u8], head_request: bool) -> Result<Option<ResponseHead>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let (Some(status), Some(minor)) = (resp.code, resp.version) else {
        return Err(());
    };
    let mut length: Option<u64> = None;
    let mut te: Option<&[u8]> = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(trimmed(h.value))
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(())?;
            if length.is_some_and(|l| l != v) {
                return Err(());
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te = Some(h.value);
        }
    }
    let coding = coding_of_values(
        resp.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-encoding"))
            .map(|h| h.value),
    )
    .ok()
    .flatten();
    let tokens = connection_tokens(resp.headers.iter().map(|h| (h.name, h.value)));
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if let Some(te) = te {
        // Chunked must be the final coding; anything else runs until close.
        let last = te.rsplit(|b| *b == b',').next().map(trimmed);
        if last.is_some_and(|l| l.eq_ignore_ascii_case(b"chunked")) {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else if let Some(l) = length {
        Framing::Length(l)
    } else {
        Framing::Close
    };
    let keep_alive = framing != Framing::Close
        && !tokens.close
        && (minor == 1 || tokens.keep_alive)
        && status != 101;
    Ok(Some(ResponseHead {
        len,
        status,
        framing,
        keep_alive,
        coding,
    }))
}

/// Request headers that concern the proxy hop only (RFC 9110 §7.6.1 and proxy headers).
pub fn hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 8] = [
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// The request to write upstream for `req` (origin-form target, hop-by-hop headers
/// dropped, `Host` added when FFmpeg sent none).
pub fn upstream_request(req: &RequestHead, url: &Url) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + req.target.len());
    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.path().as_bytes());
    if let Some(q) = url.query() {
        out.push(b'?');
        out.extend_from_slice(q.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host = false;
    for (name, value) in &req.headers {
        if hop_by_hop(name) {
            continue;
        }
        host |= name.eq_ignore_ascii_case("host");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(url[url::Position::BeforeHost..url::Position::AfterHost].as_bytes());
        if let Some(p) = url.port() {
            out.extend_from_slice(format!(":{p}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A complete short response from the proxy itself.
pub fn plain_response(status: u16, reason: &str, text: &str, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{conn}\r\n{text}",
        text.len()
    )
    .into_bytes()
}

struct Tokens {
    close: bool,
    keep_alive: bool,
}

/// `close` / `keep-alive` among the `Connection` header's tokens.
fn connection_tokens<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Tokens {
    let mut t = Tokens {
        close: false,
        keep_alive: false,
    };
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("connection") {
            continue;
        }
        for token in value.split(|b| *b == b',').map(trimmed) {
            t.close |= token.eq_ignore_ascii_case(b"close");
            t.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    t
}

fn trimmed(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_requests() {
        let raw = b"GET http://o:8080/v0/s.ts?a=1 HTTP/1.1\r\nUser-Agent: x/client-3\r\nConnection: keep-alive\r\n\r\nGET";
        let r = parse_request(raw).unwrap().unwrap();
        assert_eq!(r.len, raw.len() - 3);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "http://o:8080/v0/s.ts?a=1");
        assert_eq!(r.header("user-agent"), Some(&b"x/client-3"[..]));
        assert!(!r.close && !r.has_body);
        assert_eq!(parse_request(&raw[..20]), Ok(None));
        assert!(parse_request(b"GET\0 / HTTP/1.1\r\n\r\n").is_err());
        let c = parse_request(b"GET http://o/ HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(c.unwrap().unwrap().close);
        let old = parse_request(b"GET http://o/ HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(old.close);
        let body = parse_request(b"GET http://o/ HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
        assert!(body.unwrap().unwrap().has_body);
    }

    #[test]
    fn response_framing() {
        let f = |raw: &[u8], head: bool| parse_response(raw, head).unwrap().unwrap();
        let r = f(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", false);
        assert_eq!(
            (r.status, r.framing, r.keep_alive),
            (200, Framing::Length(12), true)
        );
        assert_eq!(r.len, 39);
        assert_eq!(r.coding, None);
        let coded = |v: &str| {
            let raw =
                format!("HTTP/1.1 200 OK\r\nContent-Encoding: {v}\r\nContent-Length: 1\r\n\r\n");
            f(raw.as_bytes(), false).coding
        };
        assert_eq!(coded("gzip"), Some(Coding::Gzip));
        assert_eq!(coded("Deflate"), Some(Coding::Deflate));
        assert_eq!(coded("br"), None, "not decodable: classified by URL");
        let r = f(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::Chunked);
        let r = f(b"HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::Close, false));
        let r = f(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true);
        assert_eq!(r.framing, Framing::Empty);
        let r = f(b"HTTP/1.1 304 Not Modified\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::Empty, true));
        let r = f(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
            false,
        );
        assert!(!r.keep_alive);
        let r = f(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(!r.keep_alive);
        let r = f(
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n",
            false,
        );
        assert!(r.keep_alive);
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false
            )
            .is_err()
        );
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n", false), Ok(None));
    }

    #[test]
    fn upstream_request_is_origin_form() {
        let req = parse_request(
            b"GET http://o:81/a/b.m3u8?x=1 HTTP/1.1\r\nUser-Agent: u\r\nProxy-Connection: keep-alive\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        let url = Url::parse(&req.target).unwrap();
        let out = String::from_utf8(upstream_request(&req, &url)).unwrap();
        assert_eq!(
            out,
            "GET /a/b.m3u8?x=1 HTTP/1.1\r\nUser-Agent: u\r\nHost: o:81\r\n\r\n"
        );
        let req = parse_request(b"HEAD http://o/ HTTP/1.1\r\nHost: o\r\n\r\n")
            .unwrap()
            .unwrap();
        let url = Url::parse(&req.target).unwrap();
        let out = String::from_utf8(upstream_request(&req, &url)).unwrap();
        assert_eq!(out, "HEAD / HTTP/1.1\r\nHost: o\r\n\r\n");
    }

    #[tokio::test]
    async fn reads_heads_across_reads() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for part in [&b"HTTP/1.1 200 OK\r\nConte"[..], b"nt-Length: 2\r\n\r\nhi"] {
                a.write_all(part).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut buf = Vec::new();
        let head = read_head(&mut b, &mut buf, |b| parse_response(b, false))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, Framing::Length(2));
        assert_eq!(&buf[head.len..], b"hi");
        writer.await.unwrap();
        let mut empty: &[u8] = b"";
        let none = read_head(&mut empty, &mut Vec::new(), |b| parse_response(b, false)).await;
        assert!(none.unwrap().is_none());
        let mut cut: &[u8] = b"HTTP/1.1 200";
        let e = read_head(&mut cut, &mut Vec::new(), |b| parse_response(b, false)).await;
        assert_eq!(e.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}

//! Fuzz target: the FFmpeg engine's measuring proxy, on what it parses from the outside:
//! request heads from FFmpeg (`head::parse_request`, then the absolute URL and the
//! request written upstream), response heads from the origin (`head::parse_response`)
//! and chunked bodies (`chunked::Chunked`).
//!
//! The first input byte picks the options (bit 0: the request was HEAD; the others seed
//! where a chunked body is split); the rest is the wire data. Checks, beyond "never
//! panics":
//! * a complete head never claims more bytes than given, and parses the same from just
//!   its own bytes;
//! * the request written upstream for a parsed request is itself a complete, parseable
//!   request with the same method, origin-form target and a `Host`, without hop-by-hop
//!   headers;
//! * a response that runs until close is never keep-alive;
//! * the chunked decoder gives the same result (bytes consumed, payload, end, error) fed
//!   all at once or in pieces.
#![no_main]

use hls_swarm::engine::ffmpeg::proxy::{
    absolute_url,
    chunked::Chunked,
    head::{self, Framing},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&opts, data)) = input.split_first() else {
        return;
    };
    let head_request = opts & 1 == 1;
    request(data);
    let body = response(data, head_request);
    chunked(body, opts >> 1);
});

fn request(data: &[u8]) {
    let Ok(Some(req)) = head::parse_request(data) else {
        return;
    };
    assert!(req.len <= data.len(), "head longer than the input");
    assert_eq!(head::parse_request(&data[..req.len]), Ok(Some(req.clone())));
    let Some(url) = absolute_url(&req.target) else {
        return;
    };
    let up = head::upstream_request(&req, &url);
    // Parsed with room for one header more than the proxy accepts: it adds `Host` when
    // FFmpeg sent none (a request at the proxy's limit of 128 is still forwarded whole).
    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut again = httparse::Request::new(&mut headers);
    match again.parse(&up) {
        Ok(httparse::Status::Complete(n)) => {
            assert_eq!(n, up.len(), "upstream request has trailing bytes")
        }
        other => panic!(
            "upstream request does not parse ({other:?}): {:?}",
            String::from_utf8_lossy(&up)
        ),
    }
    assert_eq!(again.method, Some(req.method.as_str()));
    let target = again.path.unwrap_or_default();
    assert!(target.starts_with('/'), "upstream target {target:?}");
    assert!(
        again
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("host")),
        "upstream request without Host"
    );
    assert!(
        again.headers.iter().all(|h| !head::hop_by_hop(h.name)),
        "hop-by-hop header forwarded"
    );
    let forwarded = req
        .headers
        .iter()
        .filter(|(n, _)| !head::hop_by_hop(n))
        .count();
    let host_added = usize::from(req.header("host").is_none());
    assert_eq!(
        again.headers.len(),
        forwarded + host_added,
        "headers lost or added"
    );
}

/// Checks the response head at the front of `data`; returns what follows it (or all of
/// `data` when there is no complete head).
fn response(data: &[u8], head_request: bool) -> &[u8] {
    let Ok(Some(resp)) = head::parse_response(data, head_request) else {
        return data;
    };
    assert!(resp.len <= data.len(), "head longer than the input");
    assert_eq!(
        head::parse_response(&data[..resp.len], head_request),
        Ok(Some(resp.clone()))
    );
    if resp.framing == Framing::Close {
        assert!(
            !resp.keep_alive,
            "keep-alive on a body that runs until close"
        );
    }
    if head_request {
        assert_eq!(resp.framing, Framing::Empty, "a body after HEAD");
    }
    &data[resp.len..]
}

/// What feeding `body` gives, cut at `cuts`: (bytes consumed or error, payload bytes
/// seen, done).
fn feed_in(body: &[u8], cuts: &[usize]) -> (Result<usize, ()>, Vec<u8>, bool) {
    let mut dec = Chunked::default();
    let mut payload = Vec::new();
    let mut used = 0;
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&body.len())) {
        if end < start || dec.done() {
            continue;
        }
        match dec.feed(&body[start..end], |p| payload.extend_from_slice(p)) {
            Ok(n) => {
                assert!(n <= end - start, "consumed more than fed");
                used += n;
                if n < end - start {
                    assert!(dec.done(), "stopped early without reaching the end");
                }
            }
            Err(()) => return (Err(()), payload, dec.done()),
        }
        start = end;
    }
    (Ok(used), payload, dec.done())
}

fn chunked(body: &[u8], seed: u8) {
    let whole = feed_in(body, &[]);
    let step = usize::from(seed % 7) + 1;
    let cuts: Vec<usize> = (step..body.len()).step_by(step).collect();
    let pieces = feed_in(body, &cuts);
    assert_eq!(whole, pieces, "result differs when split every {step}");
}

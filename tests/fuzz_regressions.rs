//! Inputs the fuzz targets (fuzz/, scripts/fuzz.sh) stopped on, replayed on the library.
//! Each keeps the fuzzer's input as found (tests/fixtures/fuzz/) and says what it showed.

use hls_swarm::engine::ffmpeg::proxy::{absolute_url, head};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    std::fs::read(path.join(name)).expect("fixture")
}

/// proxy_head: FFmpeg's request at the proxy's limit of 128 header lines, without `Host`.
/// The proxy adds `Host`, so the request it writes upstream has 129 headers: one more than
/// the proxy itself would accept, but every header must still be forwarded in a
/// well-formed request (the fuzz target's first check wrongly capped it at 128).
#[test]
fn request_at_the_header_limit_without_host_is_forwarded_whole() {
    let input = fixture("proxy_head-128-headers-no-host");
    let data = &input[1..]; // the first byte is the target's option byte
    let req = head::parse_request(data)
        .expect("well-formed")
        .expect("complete");
    assert_eq!(req.headers.len(), 128);
    assert!(req.header("host").is_none());
    let url = absolute_url(&req.target).expect("absolute http:// target");
    let up = head::upstream_request(&req, &url);

    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut parsed = httparse::Request::new(&mut headers);
    assert_eq!(parsed.parse(&up), Ok(httparse::Status::Complete(up.len())));
    let kept = req
        .headers
        .iter()
        .filter(|(n, _)| !head::hop_by_hop(n))
        .count();
    assert_eq!(parsed.headers.len(), kept + 1, "all kept headers plus Host");
    let host = parsed.headers.iter().find(|h| h.name == "Host").unwrap();
    assert_eq!(host.value, url.host_str().unwrap().as_bytes());
}

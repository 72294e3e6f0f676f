//! Unit tests for request building, `-resolve` matching and small helpers.

use super::*;
use http::HeaderName;

fn settings() -> HttpSettings {
    HttpSettings::new(Duration::from_secs(1), "base-ua".to_string())
}

fn conns(settings: HttpSettings, ua: &str) -> Connections {
    Connections::new(Arc::new(settings), ua.to_string())
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("url")
}

#[test]
fn request_has_default_headers_and_origin_form_target() {
    let c = conns(settings(), "viewer-ua/1");
    let req = c
        .build_request(
            &url("http://Example.com:8080/a/b.m3u8?x=1#frag"),
            None,
            false,
        )
        .expect("request");
    assert_eq!(req.uri().to_string(), "/a/b.m3u8?x=1");
    assert_eq!(req.version(), Version::HTTP_11);
    let h = req.headers();
    assert_eq!(h[HOST], "example.com:8080");
    assert_eq!(h[USER_AGENT], "viewer-ua/1");
    assert_eq!(h[ACCEPT], "*/*");
    assert!(h.get(RANGE).is_none());
    assert!(
        h.get(ACCEPT_ENCODING).is_none(),
        "media is never asked compressed"
    );
}

#[test]
fn kept_bodies_offer_compression_unless_a_header_overrides_it() {
    let c = conns(settings(), "ua");
    let req = c
        .build_request(&url("http://h/p.m3u8"), None, true)
        .expect("request");
    assert_eq!(req.headers()[ACCEPT_ENCODING], "gzip, deflate");
    let mut s = settings();
    s.extra_headers
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let req = conns(s, "ua")
        .build_request(&url("http://h/p.m3u8"), None, true)
        .expect("request");
    let values: Vec<_> = req.headers().get_all(ACCEPT_ENCODING).iter().collect();
    assert_eq!(values, ["identity"]);
}

#[test]
fn host_header_omits_default_port_and_brackets_ipv6() {
    let c = conns(settings(), "ua");
    let req = c
        .build_request(&url("https://example.com:443/x"), None, false)
        .expect("request");
    assert_eq!(req.headers()[HOST], "example.com");
    let req = c
        .build_request(&url("http://[::1]:9000/x"), None, false)
        .expect("request");
    assert_eq!(req.headers()[HOST], "[::1]:9000");
}

#[test]
fn range_header_is_inclusive() {
    let c = conns(settings(), "ua");
    let req = c
        .build_request(&url("http://h/x"), Some((100, 100)), false)
        .expect("request");
    assert_eq!(req.headers()[RANGE], "bytes=100-199");
    let req = c
        .build_request(&url("http://h/x"), Some((0, 1)), false)
        .expect("request");
    assert_eq!(req.headers()[RANGE], "bytes=0-0");
    let req = c
        .build_request(&url("http://h/x"), Some((7, 0)), false)
        .expect("request");
    assert_eq!(req.headers()[RANGE], "bytes=7-");
}

#[test]
fn extra_headers_are_added_and_override_defaults() {
    let mut s = settings();
    s.extra_headers
        .insert(USER_AGENT, HeaderValue::from_static("override"));
    let name = HeaderName::from_static("x-test");
    s.extra_headers
        .append(name.clone(), HeaderValue::from_static("a"));
    s.extra_headers
        .append(name.clone(), HeaderValue::from_static("b"));
    let c = conns(s, "viewer");
    let req = c
        .build_request(&url("http://h/x"), None, false)
        .expect("request");
    let h = req.headers();
    assert_eq!(h.get_all(USER_AGENT).iter().count(), 1);
    assert_eq!(h[USER_AGENT], "override");
    let values: Vec<_> = h.get_all(&name).iter().collect();
    assert_eq!(values, ["a", "b"]);
    assert_eq!(h[ACCEPT], "*/*");
}

#[test]
fn invalid_user_agent_falls_back_to_settings() {
    let c = conns(settings(), "bad\nua");
    assert_eq!(c.user_agent, "base-ua");
    let c = conns(settings(), "");
    assert_eq!(c.user_agent, "base-ua");
}

#[test]
fn resolve_applies_only_to_its_host_case_insensitively() {
    let mut s = settings();
    let ip: IpAddr = "127.0.0.1".parse().expect("ip");
    s.resolve = Some(ip);
    s.resolve_host = Some("Stream.Example".to_string());
    assert_eq!(
        s.resolve_override(&Host::Domain("stream.example")),
        Some(ip)
    );
    assert_eq!(
        s.resolve_override(&Host::Domain("STREAM.EXAMPLE")),
        Some(ip)
    );
    assert_eq!(s.resolve_override(&Host::Domain("other.example")), None);
    s.resolve_host = None;
    assert_eq!(s.resolve_override(&Host::Domain("stream.example")), None);
}

#[test]
fn resolve_host_may_be_a_bracketed_ipv6_literal() {
    let mut s = settings();
    let ip: IpAddr = "10.0.0.1".parse().expect("ip");
    s.resolve = Some(ip);
    s.resolve_host = Some("[::1]".to_string());
    assert_eq!(
        s.resolve_override(&Host::Ipv6(std::net::Ipv6Addr::LOCALHOST)),
        Some(ip)
    );
}

#[test]
fn redirect_targets_resolve_relative_and_reject_other_schemes() {
    let base = url("http://a.example/live/x.m3u8");
    assert_eq!(
        follow(&base, "y.m3u8").map(|u| u.to_string()),
        Some("http://a.example/live/y.m3u8".to_string())
    );
    assert_eq!(
        follow(&base, "https://b.example/z").map(|u| u.to_string()),
        Some("https://b.example/z".to_string())
    );
    assert!(follow(&base, "ftp://b.example/z").is_none());
    assert!(follow(&base, "http://").is_none());
}

#[test]
fn deadline_never_overflows() {
    let now = Instant::now();
    assert!(deadline_after(now, Duration::MAX) > now);
    assert_eq!(
        deadline_after(now, Duration::from_millis(5)),
        now + Duration::from_millis(5)
    );
}

#[test]
fn body_sink_keeps_single_frame_and_concatenates_many() {
    let mut one = BodySink::new(Some(3));
    one.push(Bytes::from_static(b"abc"));
    assert_eq!(one.finish(), Bytes::from_static(b"abc"));

    let mut many = BodySink::new(None);
    for part in [&b"ab"[..], b"cd", b"e"] {
        many.push(Bytes::copy_from_slice(part));
    }
    assert_eq!(many.finish(), Bytes::from_static(b"abcde"));
    assert!(BodySink::new(Some(u64::MAX)).finish().is_empty());
}

#[test]
fn tls_config_is_built_once_and_shared() {
    let s = settings();
    let a = s.tls_config().expect("tls");
    let b = s.tls_config().expect("tls");
    assert!(Arc::ptr_eq(&a, &b));
    let mut insecure = settings();
    insecure.insecure_tls = true;
    assert!(insecure.tls_config().is_ok());
}

#[test]
fn get_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut c = conns(settings(), "ua");
    let u = url("http://127.0.0.1:1/");
    let fut = c.get(&u, None, false);
    assert_send(&fut);
}

#[tokio::test]
async fn unsupported_scheme_is_other_without_connect_error() {
    let mut c = conns(settings(), "ua");
    let f = c.get(&url("ftp://example.com/x"), None, false).await;
    assert_eq!(f.error, Some(ErrorClass::Other));
    assert!(!f.connect_error);
    assert!(!f.connected);
    assert_eq!(f.status, None);
}

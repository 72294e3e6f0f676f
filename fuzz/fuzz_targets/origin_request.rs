//! Fuzz target: what the built-in origin parses from a request, on arbitrary bytes.
//!
//! The input is a raw HTTP/1.1 request. Its head is parsed as hyper parses it
//! (`httparse`, then the target as an `http::Uri`), the path goes through the origin's
//! router (`origin::routes::route`) and, for a segment, the timeline's availability
//! check; the bytes after the head are a fault API body (`origin::control`, the
//! `PUT /control/faults` syntax), whatever the path, so the fuzzer reaches that parser
//! without having to find the path first. Checks, beyond "never panics":
//! * a recognised route, written back in its canonical form, routes to itself, and a
//!   query string never changes the route;
//! * an accepted fault specification renders to text that parses back to the same
//!   configuration, applies to a live `FaultControl`, and decisions under it stay
//!   within their documented bounds (error statuses 400–599, resets at 25–75 % of the
//!   body).
#![no_main]

use std::time::Duration;

use hls_swarm::origin::control::{self, ControlRequest};
use hls_swarm::origin::routes::{self, Route, Track};
use hls_swarm::origin::timeline::Timeline;
use hls_swarm::origin::{FaultConfig, FaultControl, FaultKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&data[..i + 4], &data[i + 4..]),
        None => (data, &data[..0]),
    };
    let mut elapsed = Duration::ZERO;
    let mut method = "PUT".to_owned();
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = req.parse(head)
        && let (Some(m), Some(path)) = (req.method, req.path)
        && let Ok(uri) = path.parse::<http::Uri>()
    {
        method = m.to_owned();
        elapsed = Duration::from_millis(u64::from(path.len() as u16) * 997);
        check_route(uri.path(), elapsed);
    }
    check_control(&method, body, elapsed);
});

/// The canonical path of a route.
fn path_of(route: Route) -> Option<String> {
    let dir = |t: Track| match t {
        Track::Variant(i) => format!("v{i}"),
        Track::Audio => "a".to_owned(),
    };
    Some(match route {
        Route::Master => "/master.m3u8".to_owned(),
        Route::Health => "/health".to_owned(),
        Route::Playlist(t) => format!("/{}/playlist.m3u8", dir(t)),
        Route::Segment(t, n) => format!("/{}/seg{n}.ts", dir(t)),
        Route::Part(t, n, k) => format!("/{}/seg{n}.{k}.ts", dir(t)),
        Route::NotFound => return None,
    })
}

fn check_route(path: &str, elapsed: Duration) {
    let route = routes::route(path);
    if !path.contains('?') {
        assert_eq!(
            routes::route(&format!("{path}?x=1")),
            route,
            "query changed {path:?}"
        );
    }
    if let Some(canonical) = path_of(route) {
        assert_eq!(
            routes::route(&canonical),
            route,
            "{path:?} -> {canonical:?}"
        );
    }
    if let Route::Segment(_, n) = route {
        let tl = Timeline::new(Duration::from_secs(2), 10);
        if tl.is_available(n, elapsed) {
            assert!(
                n < tl.live_edge(elapsed),
                "segment {n} available before published"
            );
            let _ = tl.published_at(n);
        }
    }
}

fn check_control(method: &str, body: &[u8], elapsed: Duration) {
    let Ok(req) = control::parse_request(method, body) else {
        return;
    };
    let faults = FaultControl::new(7, FaultConfig::default());
    if let ControlRequest::Put(cfg) = &req {
        let text = control::render_spec(cfg);
        assert_eq!(
            control::parse_spec(&text).as_ref(),
            Ok(&**cfg),
            "rendered spec does not parse back: {text:?}"
        );
    }
    let reply = control::respond(req, &faults);
    assert_eq!(reply.status, 200);
    for kind in FaultKind::ALL {
        for at in [Duration::ZERO, elapsed, Duration::MAX] {
            let d = faults.decide(kind, at);
            if let Some(s) = d.error {
                assert!((400..=599).contains(&s), "status {s}");
            }
            if let Some(f) = d.reset_at {
                assert!((0.25..=0.75).contains(&f), "reset at {f}");
            }
            let _ = faults.playlist_time(at);
        }
    }
}

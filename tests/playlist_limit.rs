//! `--max-playlist-size` at the HTTP client: a kept body (a playlist) is bounded whatever
//! the origin sends, against the hostile origin.

mod hostile;

use std::sync::Arc;
use std::time::Duration;

use hls_swarm::engine::http::{Connections, HttpSettings};
use hls_swarm::stats::event::ErrorClass;
use hostile::{Case, HostileOrigin, Settings};
use url::Url;

fn client(limit: u64) -> Connections {
    let mut s = HttpSettings::new(Duration::from_secs(10), "limit-test".into());
    s.max_kept_body = limit;
    Connections::new(Arc::new(s), "limit-test/1".into())
}

fn url(o: &HostileOrigin, case: Case) -> Url {
    Url::parse(&o.url(case)).unwrap()
}

#[tokio::test]
async fn an_endless_playlist_is_cut_off_just_past_the_limit() {
    let o = HostileOrigin::start().await;
    let limit = 64 * 1024;
    let f = client(limit)
        .get(&url(&o, Case::EndlessPlaylist), None, true)
        .await;
    assert_eq!(f.error, Some(ErrorClass::PlaylistTooLarge), "{f:?}");
    assert_eq!(f.status, Some(200));
    assert!(f.body.is_none());
    assert!(!f.connect_error, "not a connection failure");
    // Read past the limit by at most one read buffer, never on and on.
    assert!(
        f.bytes > limit && f.bytes <= limit + 512 * 1024,
        "{} bytes",
        f.bytes
    );
    o.shutdown().await;
}

#[tokio::test]
async fn a_playlist_announced_too_large_is_refused_before_its_body() {
    let o = HostileOrigin::start().await;
    let f = client(8 << 20)
        .get(&url(&o, Case::HugePlaylist), None, true)
        .await;
    assert_eq!(f.error, Some(ErrorClass::PlaylistTooLarge), "{f:?}");
    assert_eq!(f.bytes, 0, "no body byte read");
    o.shutdown().await;
}

#[tokio::test]
async fn the_limit_is_inclusive_and_applies_only_to_kept_bodies() {
    let size = 300_000;
    let o = HostileOrigin::start_with(Settings {
        huge_playlist_bytes: size,
        ..Settings::default()
    })
    .await;
    let u = url(&o, Case::HugePlaylist);
    let at = client(size).get(&u, None, true).await;
    assert_eq!(at.error, None, "{at:?}");
    assert_eq!(at.body.as_ref().map(|b| b.len() as u64), Some(size));
    let over = client(size - 1).get(&u, None, true).await;
    assert_eq!(over.error, Some(ErrorClass::PlaylistTooLarge));
    // Not kept (a segment): streamed and counted, no limit.
    let streamed = client(1024).get(&u, None, false).await;
    assert_eq!((streamed.error, streamed.bytes), (None, size));
    o.shutdown().await;
}

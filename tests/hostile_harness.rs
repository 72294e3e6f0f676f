//! The hostile origin harness itself: each case misbehaves as documented and the log
//! records what reached the socket.

mod hostile;

#[path = "common/origin_util.rs"]
mod util;

use std::io::Read as _;
use std::time::Duration;

use hostile::{Case, HostileOrigin, Settings};

fn path(case: Case, file: &str) -> String {
    format!("/{}/{file}", case.name())
}

#[tokio::test]
async fn healthy_stream_is_logged_with_exact_bytes() {
    let o = HostileOrigin::start().await;
    let mut c = util::Conn::open(o.addr()).await;
    let pl = c.get(&path(Case::Healthy, "index.m3u8")).await;
    assert_eq!(pl.status, 200);
    let uris = util::segment_uris(&pl.text());
    assert_eq!(uris.len(), 4);
    let seg = c.get(&path(Case::Healthy, &uris[0])).await;
    assert_eq!(seg.body.len(), 4_000);
    let served = o.served(Case::Healthy);
    assert_eq!(served.len(), 2);
    assert_eq!(served[0].body_bytes, pl.body.len() as u64);
    assert_eq!(served[1].body_bytes, 4_000);
    assert!(served.iter().all(|s| s.complete && s.status == 200));
    assert!(o.served(Case::Gzip).is_empty(), "cases are logged apart");
    o.shutdown().await;
}

#[tokio::test]
async fn huge_playlist_has_its_exact_size_and_is_valid() {
    let o = HostileOrigin::start_with(Settings {
        huge_playlist_bytes: 300_001,
        ..Settings::default()
    })
    .await;
    let got = util::get(o.addr(), &path(Case::HugePlaylist, "index.m3u8")).await;
    assert_eq!(got.body.len(), 300_001);
    assert_eq!(got.content_length(), Some(300_001));
    let text = got.text();
    assert!(text.starts_with("#EXTM3U\n"));
    assert!(util::segment_uris(&text).len() > 10_000);
    let base = url::Url::parse("http://o/huge-playlist/index.m3u8").unwrap();
    assert!(matches!(
        hls_swarm::hls::parse(&got.body, &base),
        Ok(hls_swarm::hls::Playlist::Media(_))
    ));
    let served = o.served(Case::HugePlaylist);
    assert_eq!(served[0].body_bytes, 300_001);
    assert!(served[0].complete);
    o.shutdown().await;
}

#[tokio::test]
async fn endless_playlist_counts_what_was_written_until_the_client_left() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let o = HostileOrigin::start().await;
    let mut c = tokio::net::TcpStream::connect(o.addr()).await.unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: o\r\n\r\n",
        path(Case::EndlessPlaylist, "index.m3u8")
    );
    c.write_all(req.as_bytes()).await.unwrap();
    // Read a megabyte of it, then go away.
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while got < 1024 * 1024 {
        let n = c.read(&mut buf).await.unwrap();
        assert!(n > 0, "the body does not end");
        got += n;
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = o.served(Case::EndlessPlaylist);
    assert_eq!(served.len(), 1);
    assert!(!served[0].complete);
    assert!(
        served[0].body_bytes >= got as u64 - served[0].head_bytes,
        "{:?}",
        served[0]
    );
    o.shutdown().await;
}

#[tokio::test]
async fn late_labels_turn_hostile_after_their_first_request() {
    let o = HostileOrigin::start_with(Settings {
        switch_after: Duration::from_millis(300),
        ..Settings::default()
    })
    .await;
    let url = o.url_labelled(Case::ExtinfNegative, "late-a");
    let p = url.split_once("127.0.0.1").unwrap().1;
    let p = &p[p.find('/').unwrap()..];
    let first = util::get(o.addr(), p).await.text();
    assert!(!first.contains("#EXTINF:-1"), "healthy at first");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = util::get(o.addr(), p).await.text();
    assert!(later.contains("#EXTINF:-1"), "hostile later");
    assert_eq!(o.served_labelled(Case::ExtinfNegative, "late-a").len(), 2);
    assert!(o.served_labelled(Case::ExtinfNegative, "late-b").is_empty());
    o.shutdown().await;
}

#[tokio::test]
async fn gzip_bodies_decode_to_a_playlist_and_log_wire_bytes() {
    let o = HostileOrigin::start().await;
    let got = util::get(o.addr(), &path(Case::Gzip, "index.m3u8")).await;
    assert_eq!(got.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&got.body[..])
        .read_to_string(&mut text)
        .expect("valid gzip");
    assert!(text.starts_with("#EXTM3U\n"));
    assert_eq!(o.served(Case::Gzip)[0].body_bytes, got.body.len() as u64);
    // Only when offered:
    let plain = util::get(o.addr(), &path(Case::GzipIfAccepted, "index.m3u8")).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.text().starts_with("#EXTM3U\n"));
    o.shutdown().await;
}

#[tokio::test]
async fn playlist_values_are_as_named() {
    let o = HostileOrigin::start().await;
    let text = |case| {
        let o = &o;
        async move { util::get(o.addr(), &path(case, "index.m3u8")).await.text() }
    };
    assert!(
        text(Case::TargetZero)
            .await
            .contains("#EXT-X-TARGETDURATION:0\n")
    );
    assert!(text(Case::ExtinfNegative).await.contains("#EXTINF:-1,"));
    let huge = text(Case::HugeSequence).await;
    assert!(util::media_sequence(&huge) > u64::MAX - 30);
    let a = util::media_sequence(&text(Case::SeqRandom).await);
    let b = util::media_sequence(&text(Case::SeqRandom).await);
    assert_ne!(a, b);
    let master = text(Case::HugeMaster).await;
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 10_000);
    o.shutdown().await;
}

#[tokio::test]
async fn segment_misbehaviours() {
    let o = HostileOrigin::start().await;
    let empty = util::get(o.addr(), &path(Case::EmptySegment, "s1.ts")).await;
    assert_eq!((empty.status, empty.body.len()), (200, 0));
    let long = util::get(o.addr(), &path(Case::ContentLengthLong, "s1.ts")).await;
    assert_eq!(long.content_length(), Some(8_000));
    assert_eq!(long.body.len(), 4_000);
    assert!(long.truncated.is_some());
    let reset = util::get(o.addr(), &path(Case::ResetMidBody, "s1.ts")).await;
    assert!(reset.truncated.is_some());
    assert_eq!(o.served(Case::ResetMidBody)[0].body_bytes, 1_000);
    let old = util::get(o.addr(), &path(Case::Http10Close, "s1.ts")).await;
    assert_eq!(old.header("connection"), Some("close"));
    o.shutdown().await;
}

//! Truth tests of `--viewer-bandwidth` (each viewer's last-mile link) against the built-in
//! origin and its access log (127.0.0.1 only):
//!
//! * one paced download: a segment of S bytes behind a 2 Mbit/s link takes at least
//!   S·8/2e6 s from its request, and not much more; two segments at once share
//!   the link; the bytes read equal what the origin logged;
//! * whole runs: with `--viewer-bandwidth 2M` segment downloads take their size over the
//!   link (unpaced they are far quicker), requests and bytes equal the access log
//!   exactly, the report carries the model and the rates drawn; a link below the
//!   stream's bitrate makes viewers stall, a link well above it does not.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Lab, assert_exact_counts_and_bytes, config, run};
use hls_swarm::engine::http::{Connections, HttpSettings};
use hls_swarm::hls::{self, Playlist};
use hls_swarm::origin::{self, FaultConfig, OriginConfig};
use hls_swarm::stats::event::RequestKind;
use url::Url;

/// The link of the paced runs, bits per second.
const LINK: u64 = 2_000_000;

/// An origin of one variant of `bps` with 1 s segments, logging every request.
async fn one_variant_origin(
    bps: u64,
) -> (origin::OriginHandle, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.jsonl");
    let o = origin::start(OriginConfig {
        variants_bps: vec![bps],
        segment_duration: Duration::from_secs(1),
        access_log: Some(log.clone()),
        faults: FaultConfig::default(),
        ..OriginConfig::default()
    })
    .await
    .expect("origin starts");
    (o, log, dir)
}

/// The URLs of the first two segments the origin's media playlist lists.
async fn two_segments(master: &str) -> (Url, Url) {
    let mut c = Connections::new(Arc::new(HttpSettings::default()), "probe".into());
    let url = Url::parse(master).expect("url");
    let f = c.get(&url, None, true).await;
    let Ok(Playlist::Master(m)) = hls::parse(&f.body.unwrap_or_default(), &f.final_url) else {
        panic!("master playlist");
    };
    let media = m.variants[0].uri.clone();
    let f = c.get(&media, None, true).await;
    let Ok(Playlist::Media(p)) = hls::parse(&f.body.unwrap_or_default(), &f.final_url) else {
        panic!("media playlist");
    };
    assert!(p.segments.len() >= 2, "the window lists two segments");
    (p.segments[0].uri.clone(), p.segments[1].uri.clone())
}

/// Seconds `bytes` take over the link.
fn over_link(bytes: u64) -> f64 {
    bytes as f64 * 8.0 / LINK as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_download_takes_its_size_over_the_link() {
    let (o, log, _dir) = one_variant_origin(800_000).await;
    let (seg_a, seg_b) = two_segments(&o.master_url()).await;
    let settings = Arc::new(HttpSettings::default());

    // Unpaced: loopback, far quicker than the link.
    let mut plain = Connections::new(settings.clone(), "plain".into());
    let t = Instant::now();
    let f = plain.get(&seg_a, None, false).await;
    let unpaced = t.elapsed().as_secs_f64();
    assert!(f.is_ok(), "{:?}", f.error);
    let s = f.bytes;
    assert!(s > 50_000, "an 800 kbit/s 1 s segment is ~100 kB, got {s}");
    assert!(unpaced < over_link(s) / 4.0, "unpaced {unpaced} s");

    // Behind the link: at least S·8/rate (the body ends when its last byte has crossed,
    // whatever the pacing granule), and not much more.
    let mut linked = Connections::new(settings.clone(), "linked".into()).with_link(LINK);
    let t = Instant::now();
    let f = linked.get(&seg_a, None, false).await;
    let paced = t.elapsed().as_secs_f64();
    assert!(f.is_ok(), "{:?}", f.error);
    assert_eq!(f.bytes, s, "the same bytes, paced or not");
    let want = over_link(s);
    assert!(paced >= want, "{paced} s < {want} s");
    assert!(paced <= want + 0.3, "{paced} s >> {want} s");

    // Two segments at once on two handles of one viewer share its link.
    let mut other = linked.handle();
    let t = Instant::now();
    let (fa, fb) = tokio::join!(
        linked.get(&seg_a, None, false),
        other.get(&seg_b, None, false)
    );
    let both = t.elapsed().as_secs_f64();
    assert!(fa.is_ok() && fb.is_ok());
    let want = over_link(fa.bytes + fb.bytes);
    assert!(both >= want, "{both} s < {want} s");
    assert!(both <= want + 0.3, "{both} s >> {want} s");

    // Bytes read equal what the origin logged for these requests.
    o.shutdown().await;
    let served: u64 = common::read_log(&log)
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.bytes)
        .sum();
    assert_eq!(served, s + s + fa.bytes + fb.bytes);
}

/// A 10-viewer-second run of 3 viewers on the lowest variant, plus `extra`.
fn run_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        url,
        "-clients",
        "3",
        "-ramp-rate",
        "10",
        "-ramp-jitter",
        "0",
        "-variant",
        "lowest",
        "-duration",
        "8s",
        "--metrics",
        "off",
        "--seed",
        "5",
    ];
    v.extend_from_slice(extra);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_runs_download_at_the_link_rate_with_exact_bytes() {
    let plain_lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let unpaced = run(config(&run_args(&plain_lab.url(), &[]))).await;
    plain_lab.finish().await;
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let paced = run(config(&run_args(&url, &["--viewer-bandwidth", "2M"]))).await;
    let log = lab.finish().await;
    assert_exact_counts_and_bytes(&paced.snapshot, &log, "paced run");
    let seg_sizes: Vec<u64> = log
        .iter()
        .filter(|l| l.kind == "segment")
        .map(|l| l.bytes)
        .collect();
    let (min, max) = (
        *seg_sizes.iter().min().unwrap_or(&0),
        *seg_sizes.iter().max().unwrap_or(&0),
    );
    assert!(min > 10_000, "200 kbit/s 1 s segments are ~25 kB: {min}");

    let d = paced.snapshot.kind(RequestKind::Segment).download;
    assert!(d.count > 10, "{} segments downloaded", d.count);
    // A download ends when its last byte has crossed the link; 1 % for the histogram's
    // precision.
    assert!(
        d.p50 >= over_link(min) * 0.99,
        "p50 {} < {}",
        d.p50,
        over_link(min)
    );
    assert!(
        d.max <= over_link(max) + 0.3,
        "max {} >> {}",
        d.max,
        over_link(max)
    );
    let u = unpaced.snapshot.kind(RequestKind::Segment).download;
    assert!(u.p50 < over_link(min) / 4.0, "unpaced p50 {}", u.p50);

    let b = paced
        .bandwidth_summary()
        .expect("the report names the links");
    assert_eq!(b.model, "fixed:2000000");
    assert_eq!(b.viewers, 3);
    assert_eq!((b.min_bits_per_second, b.max_bits_per_second), (LINK, LINK));
    assert!(unpaced.bandwidth.is_none());
    // The live snapshot (/metrics' hls_swarm_viewer_link_bits_per_second) has them too.
    let live = paced
        .snapshot
        .link_rates
        .as_ref()
        .expect("the snapshot carries the links");
    assert_eq!(live.count, 3);
    assert_eq!(live.sum, 3.0 * LINK as f64);
    let at_link = live.buckets.iter().find(|(le, _)| *le == LINK as f64);
    assert_eq!(at_link.map(|(_, n)| *n), Some(3), "{:?}", live.buckets);
    assert!(unpaced.snapshot.link_rates.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_below_the_bitrate_stalls_and_one_well_above_does_not() {
    let (o, _log, _dir) = one_variant_origin(800_000).await;
    let url = o.master_url();
    let slow = run(config(&run_args(&url, &["--viewer-bandwidth", "400k"]))).await;
    let fast = run(config(&run_args(&url, &["--viewer-bandwidth", "20M"]))).await;
    o.shutdown().await;
    assert!(
        slow.snapshot.stalls() > 0,
        "400 kbit/s under an 800 kbit/s stream stalls"
    );
    assert_eq!(fast.snapshot.stalls(), 0, "20 Mbit/s never stalls");
    assert!(
        slow.snapshot.rebuffer_ratio() > 0.1,
        "{}",
        slow.snapshot.rebuffer_ratio()
    );
}

//! Many streams (issue 10 §1), truth tests against the built-in origin serving 20
//! channels (`--channels 20`), its access log naming each request's channel:
//!
//! * 200 native viewers ramped fast over the 20 channels (`--streams FILE`,
//!   `--popularity zipf:1.0`): every stream's per-kind request counts and bytes in the
//!   report equal the access log's for its channel; every viewer played the channel the
//!   pure draw from `-seed` and its id gives; the JSON report's `streams[]` names them;
//! * the same test as two shards (`--shard 0/2`, `--shard 1/2`): each viewer plays the
//!   same channel as in the single-host draw, and `hls-swarm merge`'s combination of the
//!   two reports gives per-stream figures equal to the access log's, channel by channel;
//! * with no URL, `-origin-channels N` makes the swarm's own origin serve N channels and
//!   play them;
//! * bad `--streams` files, `--popularity` values and combinations exit 2 naming the flag.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{LogLine, config, read_log, run};
use hls_swarm::config::streams::{Popularity, StreamMix};
use hls_swarm::origin::{self, OriginConfig};
use hls_swarm::slo::SloResult;
use hls_swarm::stats::sections::Sections;
use hls_swarm::swarm::RunReport;

const CHANNELS: u32 = 20;
const SEED: &str = "7";

/// An origin serving `CHANNELS` channels with 1 s segments and an access log, and a
/// `--streams` file listing its channels (with a comment and a blank line).
struct ChannelLab {
    origin: origin::OriginHandle,
    log_path: PathBuf,
    streams_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl ChannelLab {
    async fn start() -> ChannelLab {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("access.jsonl");
        let origin = origin::start(OriginConfig {
            segment_duration: Duration::from_secs(1),
            access_log: Some(log_path.clone()),
            channels: CHANNELS,
            ..OriginConfig::default()
        })
        .await
        .expect("origin starts");
        let mut text = String::from("# the lab's channels, most popular first\n\n");
        for c in 0..CHANNELS {
            text += &format!("{}\n", origin.channel_url(c));
        }
        let streams_file = dir.path().join("streams.txt");
        std::fs::write(&streams_file, text).expect("streams file");
        ChannelLab {
            origin,
            log_path,
            streams_file,
            _dir: dir,
        }
    }

    async fn finish(self) -> Vec<LogLine> {
        self.origin.shutdown().await;
        read_log(&self.log_path)
    }
}

/// The viewer id in a User-Agent `…/client-<id>`.
fn viewer_of(ua: &str) -> Option<u64> {
    ua.rsplit_once("/client-")
        .and_then(|(_, id)| id.parse().ok())
}

/// Per channel and kind: (requests, bytes) in the access log.
fn log_by_channel(log: &[LogLine]) -> BTreeMap<(u32, String), (u64, u64)> {
    let mut m: BTreeMap<(u32, String), (u64, u64)> = BTreeMap::new();
    for l in log {
        let c = l.channel.expect("every request names its channel");
        let e = m.entry((c, l.kind.clone())).or_default();
        e.0 += 1;
        e.1 += l.bytes;
    }
    m
}

/// Every stream's figures in `report` equal the access log's for its channel (stream i
/// is channel i), kind by kind, with nothing left over.
fn assert_streams_equal_log(report: &RunReport, log: &[LogLine], who: &str) {
    let x = Sections::of(report);
    assert_eq!(
        x.streams.len(),
        CHANNELS as usize,
        "{who}: one entry per stream"
    );
    let by_channel = log_by_channel(log);
    assert!(
        by_channel.keys().all(|(_, k)| k != "other"),
        "{who}: no unexpected paths"
    );
    let mut checked_bytes = 0;
    for (c, s) in x.streams.iter().enumerate() {
        assert!(
            s.url.ends_with(&format!("/ch{c}/master.m3u8")),
            "{who}: stream {c} is {}",
            s.url
        );
        for kind in ["master", "playlist", "segment"] {
            let (n, b) = by_channel
                .get(&(c as u32, kind.to_string()))
                .copied()
                .unwrap_or_default();
            let q = &s.requests[kind];
            assert_eq!(
                q.count, n,
                "{who}: channel {c} {kind} requests vs access log"
            );
            assert_eq!(q.bytes, b, "{who}: channel {c} {kind} bytes vs access log");
            checked_bytes += b;
        }
        assert_eq!(s.total_errors(), 0, "{who}: channel {c} errors");
    }
    let served: u64 = log.iter().map(|l| l.bytes).sum();
    assert_eq!(checked_bytes, served, "{who}: every byte is some stream's");
    assert_eq!(
        x.streams.iter().map(|s| s.total_bytes).sum::<u64>(),
        x.total_bytes,
        "{who}: the streams add up to the run"
    );
}

/// The channel each viewer's requests went to, from the access log (one per viewer).
fn channel_of_viewer(log: &[LogLine]) -> BTreeMap<u64, u32> {
    let mut m = BTreeMap::new();
    for l in log {
        let Some(id) = viewer_of(&l.ua) else {
            continue; // the swarm's own probes
        };
        let c = l.channel.expect("channel");
        let before = m.insert(id, c);
        assert!(
            before.is_none_or(|b| b == c),
            "viewer {id} requested channels {before:?} and {c}"
        );
    }
    m
}

/// The verdict of no objectives.
fn no_slo(report: &RunReport) -> SloResult {
    hls_swarm::slo::evaluate(&config(&["-duration", "1s"]).slo, &report.snapshot)
}

fn zipf_mix() -> StreamMix {
    StreamMix::new(&[1.0; CHANNELS as usize], Popularity::Zipf(1.0))
}

fn args<'a>(file: &'a str, clients: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--streams",
        file,
        "--popularity",
        "zipf:1.0",
        "-clients",
        clients,
        "-ramp-rate",
        "100",
        "-variant",
        "lowest",
        "-seed",
        SEED,
        "-duration",
        "6s",
    ];
    v.extend_from_slice(extra);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_stream_counts_and_bytes_equal_the_access_log_per_channel() {
    let lab = ChannelLab::start().await;
    let file = lab.streams_file.display().to_string();
    let request_log = lab._dir.path().join("requests.ndjson");
    let request_log_arg = request_log.display().to_string();
    let argv = args(
        &file,
        "200",
        &[
            "--metrics-stream-top-k",
            "5",
            "--request-log",
            &request_log_arg,
        ],
    );
    let info = hls_swarm::metrics::Info::new(&config(&argv));
    let report = run(config(&argv)).await;
    let request_lines = std::fs::read_to_string(&request_log).expect("request log");
    let log = lab.finish().await;

    assert_streams_equal_log(&report, &log, "single host");

    // The request log names each request's stream: its path is under that channel, and
    // per stream the log's requests and bytes are the access log's for the channel.
    let mut logged: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for line in request_lines.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).expect("request log line");
        let stream = v["stream"].as_u64().expect("every line names its stream") as u32;
        let path = v["path"].as_str().expect("path");
        assert!(
            path.starts_with(&format!("/ch{stream}/")),
            "{path} logged as stream {stream}"
        );
        let e = logged.entry(stream).or_default();
        e.0 += 1;
        e.1 += v["bytes"].as_u64().expect("bytes");
    }
    let mut served: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for ((c, _), (n, b)) in log_by_channel(&log) {
        let e = served.entry(c).or_default();
        e.0 += n;
        e.1 += b;
    }
    assert_eq!(logged, served, "request log vs access log, per stream");

    // Every viewer played the channel the pure draw gives it, and each stream's
    // `viewers` is how many the draw sent there.
    let seen = channel_of_viewer(&log);
    assert_eq!(seen.len(), 200, "every viewer reached the origin");
    let mix = zipf_mix();
    let mut expected = vec![0u64; CHANNELS as usize];
    for (id, c) in &seen {
        let want = mix.stream_for(7, *id);
        assert_eq!(*c as usize, want, "viewer {id}");
        expected[want] += 1;
    }
    let x = Sections::of(&report);
    let viewers: Vec<u64> = x.streams.iter().map(|s| s.viewers).collect();
    assert_eq!(viewers, expected, "viewers per stream");
    assert!(
        expected[0] > expected[CHANNELS as usize - 1],
        "Zipf: rank 1 gets more viewers than rank 20 ({expected:?})"
    );

    // The JSON report: schema 7, `streams[]` with redacted URLs and per-kind requests;
    // per-stream latency percentiles for these 20 streams.
    let json = hls_swarm::output::json::Report::new(&report, &no_slo(&report));
    let v: serde_json::Value =
        serde_json::from_str(&hls_swarm::output::json::to_line(&json).expect("json"))
            .expect("parses");
    assert_eq!(v["schema"], 7);
    let streams = v["streams"].as_array().expect("streams[]");
    assert_eq!(streams.len(), CHANNELS as usize);
    assert!(streams[0]["url"].as_str().expect("url").contains("/ch0/"));
    let seg = &streams[0]["requests"]["segment"];
    assert!(seg["count"].as_u64().expect("count") > 0);
    assert!(seg["ttfb_seconds"]["p95"].as_f64().expect("p95") > 0.0);
    assert_eq!(
        streams
            .iter()
            .map(|s| s["viewers"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        200
    );

    // /metrics: the 5 streams of largest configured share (Zipf ranks 1-5: channels 0-4)
    // by URL, the other 15 added up as `other`; nothing else.
    let text = hls_swarm::metrics::render::render(&report.snapshot, &info);
    let samples = hls_swarm::metrics::parse::samples(&text).expect("exposition parses");
    let stream_samples: Vec<_> = samples
        .iter()
        .filter(|x| {
            x.name == "hls_swarm_stream_requests_total" && x.label("kind") == Some("segment")
        })
        .collect();
    assert_eq!(
        stream_samples.len(),
        6,
        "top 5 and other: {stream_samples:?}"
    );
    for c in 0..5 {
        let url = &x.streams[c].url;
        let got = stream_samples
            .iter()
            .find(|x| x.label("stream") == Some(url))
            .unwrap_or_else(|| panic!("no series for {url}"));
        assert_eq!(got.value as u64, x.streams[c].requests["segment"].count);
    }
    let other = stream_samples
        .iter()
        .find(|x| x.label("stream") == Some("other"))
        .expect("other");
    let rest: u64 = x.streams[5..]
        .iter()
        .map(|s| s.requests["segment"].count)
        .sum();
    assert_eq!(other.value as u64, rest);
    let viewers: f64 = samples
        .iter()
        .filter(|x| x.name == "hls_swarm_stream_viewers_started_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(viewers, 200.0);

    // The summary lists the top streams and adds the others up.
    let summary = hls_swarm::output::summary::render(&report, &no_slo(&report));
    assert!(
        summary.contains("Streams: 20 (top 10 by viewers)"),
        "{summary}"
    );
    assert!(summary.contains("the rest (10 streams)"), "{summary}");
    let html = hls_swarm::output::html::render(&report, &no_slo(&report));
    assert!(
        html.contains("<h2>Streams (20 streams, top 20 by viewers)</h2>"),
        "the HTML report has the per-stream table"
    );
    assert!(html.contains("/ch19/master.m3u8</th>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_draw_the_same_streams_and_merge_by_url() {
    let lab = ChannelLab::start().await;
    let file = lab.streams_file.display().to_string();
    let mut lines = String::new();
    for shard in ["0/2", "1/2"] {
        let report = run(config(&args(
            &file,
            "40",
            &["--shard", shard, "--run-id", "streams-shards"],
        )))
        .await;
        let json = hls_swarm::output::json::Report::new(&report, &no_slo(&report));
        lines += &hls_swarm::output::json::to_line(&json).expect("json");
    }
    let log = lab.finish().await;

    // Each viewer of either shard played the single-host draw's channel.
    let seen = channel_of_viewer(&log);
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..40).collect::<Vec<u64>>(),
        "the two shards ran the 40 viewers, each once"
    );
    let mix = zipf_mix();
    for (id, c) in &seen {
        assert_eq!(*c as usize, mix.stream_for(7, *id), "viewer {id}");
    }

    // Merged by URL, the two shards' per-stream figures equal the access log's.
    let scan = hls_swarm::merge::input::scan("shards", &lines).expect("scan");
    assert_eq!(scan.reports.len(), 2);
    let merged = hls_swarm::merge::combine::combine(&scan.reports).expect("merge");
    assert_streams_equal_log(&merged, &log, "merged shards");
    let x = Sections::of(&merged);
    assert_eq!(x.streams.iter().map(|s| s.viewers).sum::<u64>(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_origin_serves_channels_to_the_swarm() {
    let report = run(config(&[
        "-origin-channels",
        "3",
        "-clients",
        "12",
        "-ramp-rate",
        "50",
        "-variant",
        "lowest",
        "-duration",
        "4s",
    ]))
    .await;
    let x = Sections::of(&report);
    assert_eq!(x.streams.len(), 3);
    for (c, s) in x.streams.iter().enumerate() {
        assert!(s.url.ends_with(&format!("/ch{c}/master.m3u8")), "{}", s.url);
        assert!((s.share - 1.0 / 3.0).abs() < 1e-9);
    }
    assert_eq!(x.streams.iter().map(|s| s.viewers).sum::<u64>(), 12);
    assert_eq!(x.errors.total, 0);
    assert_eq!(
        x.streams.iter().map(|s| s.total_requests()).sum::<u64>(),
        x.total_requests
    );
}

#[test]
fn bad_streams_input_exits_2_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("s.txt");
    let bin = env!("CARGO_BIN_EXE_hls-swarm");
    for (text, extra, want) in [
        (
            "http://127.0.0.1:9/a.m3u8\nnot-a-url 2\n",
            vec![],
            "line 2: not a valid URL",
        ),
        (
            "http://127.0.0.1:9/a.m3u8 -3\n",
            vec![],
            "line 1: weight '-3'",
        ),
        ("# nothing\n", vec![], "lists no stream URL"),
        (
            "http://127.0.0.1:9/a.m3u8 2\nhttp://127.0.0.1:9/b.m3u8\n",
            vec!["--popularity", "zipf:1"],
            "--popularity zipf:1: the --streams file gives weights",
        ),
        (
            "http://127.0.0.1:9/a.m3u8\n",
            vec!["--popularity", "zipf:x"],
            "--popularity: 'zipf:x'",
        ),
        (
            "http://127.0.0.1:9/a.m3u8\nhttp://127.0.0.1:9/b.m3u8\n",
            vec!["-engine", "ffmpeg"],
            "-engine ffmpeg plays one stream",
        ),
    ] {
        std::fs::write(&file, text).expect("write");
        let out = std::process::Command::new(bin)
            .arg("--streams")
            .arg(&file)
            .args(&extra)
            .args(["-duration", "1s", "-tui=false"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?} {extra:?}: {stderr}");
        assert!(stderr.contains(want), "{text:?} {extra:?}: {stderr}");
        assert!(
            stderr.contains("--streams")
                || stderr.contains("--popularity")
                || stderr.contains("-engine")
        );
    }
    let out = std::process::Command::new(bin)
        .args(["http://127.0.0.1:9/a.m3u8", "-origin-channels", "3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("-origin-channels 3: only the built-in origin")
    );
}

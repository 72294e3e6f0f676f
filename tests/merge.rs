//! `hls-swarm merge`, real binaries against the built-in origin on loopback: one test run
//! as 3 shards (`--shard I/3`, one `--start-at`, one `--run-id`), each writing its JSON
//! report, then merged:
//!
//! * the merged request counts per kind and bytes equal the origin's access log, and the
//!   sum of the shards';
//! * the merged segment TTFB percentiles are those of the union of the shards' histograms
//!   (and lie between the shards' own);
//! * the merged TTFB and download percentiles of every kind are those of the union of the
//!   shards' request logs (`--request-log`, one per shard), within the HDR histograms'
//!   precision, and the logs together are the origin's access log with no viewer in two
//!   shards;
//! * the reports read from stdin (with other text around them) merge the same;
//! * SLO flags judge the merged result (exit 0 or 3);
//! * reports of different tests, or the same shard twice, are refused (exit 2), a missing
//!   shard is said;
//! * arrival-mode shards with paced links: the merged `sessions` counts are the shards'
//!   sums, the merged length figures those of the shards' sessions together, and the
//!   merged `bandwidth` is every shard's viewers' links; a shard without them leaves them
//!   out rather than reporting some shards' figures as the test's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use common::request_log::{self as reqlog, assert_dist_is_of, assert_equals_access_log, micros};
use common::{Lab, counts_by_kind};
use hls_swarm::origin::FaultConfig;
use hls_swarm::stats::histogram_codec;
use hls_swarm::stats::percentiles::Percentiles;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const KINDS: [&str; 7] = [
    "master", "playlist", "blocking", "segment", "init", "part", "hint",
];

fn bin() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
}

/// Run shard `i` of 3 of the test; its report goes to `dir/shard-i.json`, its request log
/// to `dir/shard-i.ndjson`.
async fn shard(url: &str, i: u64, at: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("shard-{i}.json"));
    let shard = format!("{i}/3");
    let o = bin()
        .args([
            url,
            "-clients",
            "9",
            "-ramp-rate",
            "30",
            "-variant",
            "all",
            "-duration",
            "4s",
            "-tui=false",
            "-metrics",
            "off",
            "--start-at",
            at,
            "--run-id",
            "merge-test",
            "--shard",
            &shard,
            "--request-log",
        ])
        .arg(dir.join(format!("shard-{i}.ndjson")))
        .arg("--output")
        .arg(&out)
        .output()
        .await
        .expect("run hls-swarm");
    assert_eq!(
        o.status.code(),
        Some(0),
        "shard {i}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `hls-swarm merge ARGS`, with `stdin` piped in when given.
async fn merge(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = bin();
    cmd.arg("merge")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn merge");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(bytes).await.expect("write stdin");
        drop(pipe);
    }
    child.wait_with_output().await.expect("merge runs")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("JSON")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `p` as it reads back from a report file: written as text, parsed again. serde_json's
/// float parser (without `float_roundtrip`) may land an ulp off the written f64, so a
/// figure is compared after the same trip the report's figure took; the written text is
/// the shortest that round-trips, so equal text means equal f64s.
fn as_report_reads_it(p: Percentiles) -> Value {
    serde_json::from_str(&serde_json::to_string(&p).expect("serialises")).expect("parses")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_into_the_origins_counts_and_the_union_percentiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2)).to_string();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let (url, at, dir) = (url.clone(), at.clone(), dir.path().to_path_buf());
            tokio::spawn(async move { shard(&url, i, &at, &dir).await })
        })
        .collect();
    let mut files = Vec::new();
    for h in handles {
        files.push(h.await.expect("shard task"));
    }
    let log = lab.finish().await;
    let shards: Vec<Value> = files.iter().map(|f| read(f)).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["schema"], 7);
        assert_eq!(s["run"]["shard"]["index"], i as u64);
        assert!(s["merge"]["accumulator"]["kinds"]["segment"]["ttfb"].is_string());
    }

    // Merge the three files.
    let total_path = dir.path().join("total.json");
    let html_path = dir.path().join("total.html");
    let o = merge(
        &[
            p(&files[0]),
            p(&files[1]),
            p(&files[2]),
            "--output",
            p(&total_path),
            "--report",
            p(&html_path),
        ],
        None,
    )
    .await;
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}{stdout}", text(&o.stderr));
    assert!(
        stdout.contains("merge-test · merged: all 3 shards (0, 1, 2)"),
        "{stdout}"
    );
    assert!(stdout.contains("upper bound"), "{stdout}");
    let total = read(&total_path);
    assert_eq!(total["run"]["id"], "merge-test");
    assert_eq!(total["run"]["shard"], Value::Null);
    assert_eq!(
        total["run"]["merged"]["indices"],
        serde_json::json!([0, 1, 2])
    );
    assert_eq!(total["stop_reason"], "merged");
    let html = std::fs::read_to_string(&html_path).expect("HTML report");
    assert!(html.contains("merged: all 3 shards"));
    assert!(html.contains("time series are not merged"));

    // Counts per kind and bytes: the origin's access log, and the shards' sum.
    let by_kind = counts_by_kind(&log);
    assert_eq!(by_kind.get("other"), None, "no unexpected paths");
    for kind in KINDS {
        let merged = total["requests"][kind]["count"].as_u64().expect("count");
        let logged = by_kind.get(kind).copied().unwrap_or(0);
        assert_eq!(merged, logged, "{kind} requests: merged vs access log");
        let summed: u64 = shards
            .iter()
            .map(|s| s["requests"][kind]["count"].as_u64().expect("count"))
            .sum();
        assert_eq!(merged, summed, "{kind} requests: merged vs the shards' sum");
    }
    assert!(by_kind["segment"] > 9, "the shards fetched segments");
    let served: u64 = log.iter().map(|l| l.bytes).sum();
    assert_eq!(total["total_bytes"], served, "bytes: merged vs access log");
    let summed: u64 = shards
        .iter()
        .map(|s| s["total_bytes"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(total["total_bytes"], summed);
    assert_eq!(
        total["viewers"]["target"], 9,
        "the shards' shares make the whole test"
    );

    // Segment TTFB: the percentiles of the union of the shards' histograms.
    let mut union = hls_swarm::stats::accumulator::duration_histogram();
    for s in &shards {
        let h = histogram_codec::decode(
            s["merge"]["accumulator"]["kinds"]["segment"]["ttfb"]
                .as_str()
                .expect("histogram"),
        )
        .expect("decodes");
        union.add(&h).expect("same bounds");
    }
    let want = as_report_reads_it(Percentiles::of(&union));
    let ttfb = &total["requests"]["segment"]["ttfb_seconds"];
    assert_eq!(ttfb, &want, "merged p50/p90/p95/p99 vs the union's");
    assert_eq!(ttfb["count"], by_kind["segment"], "every segment's TTFB");
    let p50s: Vec<f64> = shards
        .iter()
        .map(|s| {
            s["requests"]["segment"]["ttfb_seconds"]["p50"]
                .as_f64()
                .expect("p50")
        })
        .collect();
    let p50 = ttfb["p50"].as_f64().expect("p50");
    let (lo, hi) = (
        p50s.iter().copied().fold(f64::INFINITY, f64::min),
        p50s.iter().copied().fold(0.0, f64::max),
    );
    assert!(
        lo <= p50 && p50 <= hi,
        "merged p50 {p50} within the shards' {p50s:?}"
    );

    // The shards' request logs: together the origin's access log, no viewer in two shards,
    // and the merged percentiles are those of their union.
    let mut union_lines = Vec::new();
    let mut seen_viewers = std::collections::BTreeSet::new();
    for (i, s) in shards.iter().enumerate() {
        let (header, lines) = reqlog::read(&dir.path().join(format!("shard-{i}.ndjson")));
        assert_eq!(
            (
                header.run_id.as_str(),
                header.shard_index,
                header.shard_count
            ),
            ("merge-test", i as u64, 3)
        );
        assert_eq!(s["request_log"]["lines_written"], lines.len() as u64);
        let mine: std::collections::BTreeSet<u64> = lines.iter().filter_map(|l| l.viewer).collect();
        assert_eq!(mine.len(), 3, "shard {i}'s viewers: {mine:?}");
        assert!(
            seen_viewers.is_disjoint(&mine),
            "shard {i}: viewer ids collide"
        );
        seen_viewers.extend(mine);
        union_lines.extend(lines);
    }
    assert_equals_access_log(&union_lines, &log);
    assert_eq!(
        total["request_log"]["lines_written"],
        union_lines.len() as u64,
        "the merged report sums the shards' request-log counts"
    );
    for kind in KINDS {
        let of_kind = || union_lines.iter().filter(move |l| l.kind == kind);
        let mut ttfb: Vec<u64> = of_kind().filter_map(|l| l.ttfb_ms.map(micros)).collect();
        assert_dist_is_of(&total["requests"][kind]["ttfb_seconds"], &mut ttfb, kind);
        let mut download: Vec<u64> = of_kind()
            .filter(|l| l.error.is_none() && !l.aborted && l.total_ms > 0.0)
            .map(|l| micros(l.total_ms))
            .collect();
        assert_dist_is_of(
            &total["requests"][kind]["download_seconds"],
            &mut download,
            kind,
        );
    }

    // The client's wake-up lag: the union of every shard's probes.
    let mut lag = hls_swarm::stats::accumulator::duration_histogram();
    for s in &shards {
        let text = s["merge"]["client_wakeup_lag"]
            .as_str()
            .expect("native engine: lag");
        lag.add(histogram_codec::decode(text).expect("decodes"))
            .expect("same bounds");
    }
    assert_eq!(
        total["client"]["wakeup_lag_seconds"],
        as_report_reads_it(Percentiles::of(&lag))
    );
    let probes: u64 = shards
        .iter()
        .map(|s| {
            s["client"]["wakeup_lag_seconds"]["count"]
                .as_u64()
                .expect("count")
        })
        .sum();
    assert!(probes > 0);
    assert_eq!(lag.len(), probes, "every shard's probes, once");

    // The same reports through stdin, with log text around them, merge the same.
    let mut piped = b"pod shard-0 starting\n{\"level\":\"INFO\",\"fields\":{}}\n".to_vec();
    for f in &files {
        piped.extend(std::fs::read(f).expect("report"));
        piped.extend(b"  summary line\n");
    }
    let stdin_path = dir.path().join("stdin-total.json");
    let o = merge(&["-", "--output", p(&stdin_path)], Some(&piped)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let from_stdin = read(&stdin_path);
    assert_eq!(from_stdin["requests"], total["requests"]);
    assert_eq!(from_stdin["merge"], total["merge"]);

    // SLOs judge the merged result: p95 segment TTFB under half of it fails, over twice
    // it holds.
    let p95_ms = ttfb["p95"].as_f64().expect("p95") * 1e3;
    let tight = format!("{:.3}ms", p95_ms / 2.0);
    let loose = format!("{:.3}ms", p95_ms * 2.0 + 0.01);
    let args = |limit: &str| {
        vec![
            p(&files[0]).to_string(),
            p(&files[1]).to_string(),
            p(&files[2]).to_string(),
            "--slo-p95-segment-ttfb".to_string(),
            limit.to_string(),
        ]
    };
    let fail = merge(
        &args(&tight).iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    )
    .await;
    assert_eq!(fail.status.code(), Some(3), "{}", text(&fail.stdout));
    assert!(
        text(&fail.stdout).contains("FAIL"),
        "{}",
        text(&fail.stdout)
    );
    let pass = merge(
        &args(&loose).iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    )
    .await;
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass.stdout));

    // A merged report merges on with the test's other shards: (0 + 1) + 2 = 0 + 1 + 2.
    let partial_path = dir.path().join("partial.json");
    let o = merge(
        &[p(&files[0]), p(&files[1]), "--output", p(&partial_path)],
        None,
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let again_path = dir.path().join("again.json");
    let o = merge(
        &[p(&partial_path), p(&files[2]), "--output", p(&again_path)],
        None,
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let again = read(&again_path);
    assert_eq!(again["requests"], total["requests"]);
    assert_eq!(again["merge"], total["merge"]);
    assert_eq!(again["run"]["merged"], total["run"]["merged"]);

    // A missing shard is said, not refused.
    let o = merge(&[p(&files[0]), p(&files[2])], None).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("2 of 3 shards (0, 2; MISSING shard 1)"),
        "{}",
        text(&o.stderr)
    );

    // The same shard twice: refused.
    let o = merge(&[p(&files[0]), p(&files[1]), p(&files[0])], None).await;
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("shard 0 of run `merge-test` is in both"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no summary when refused");

    // A merged report and one of its own shards overlap too.
    let o = merge(&[p(&total_path), p(&files[1])], None).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("overlapping"),
        "{}",
        text(&o.stderr)
    );

    // A report of another test: refused, naming both ids.
    let mut other = shards[1].clone();
    other["run"]["id"] = "another-test".into();
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, other.to_string()).expect("write");
    let o = merge(&[p(&files[0]), p(&other_path)], None).await;
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("different tests: run id `merge-test`") && err.contains("`another-test`"),
        "{err}"
    );

    // A report from before the merge section: refused.
    let mut old = shards[2].clone();
    old["schema"] = 2.into();
    old.as_object_mut().expect("object").remove("merge");
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, old.to_string()).expect("write");
    let o = merge(&[p(&files[0]), p(&old_path)], None).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no `merge` section"),
        "{}",
        text(&o.stderr)
    );
}

/// Shard `i` of 2 of an arrival-mode test with paced links.
async fn arrival_shard(url: &str, i: u64, at: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("arrivals-{i}.json"));
    let shard = format!("{i}/2");
    let o = bin()
        .args([
            url,
            "-clients",
            "40",
            "--arrival-rate",
            "8",
            "--session-duration",
            "exp:mean=1s",
            "--viewer-bandwidth",
            "lognormal:median=20M,sigma=0.5",
            "-variant",
            "lowest",
            "-duration",
            "4s",
            "-tui=false",
            "-metrics",
            "off",
            "--start-at",
            at,
            "--run-id",
            "arrivals-merge",
            "--shard",
            &shard,
            "--output",
        ])
        .arg(&out)
        .output()
        .await
        .expect("run hls-swarm");
    assert_eq!(
        o.status.code(),
        Some(0),
        "shard {i}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an int: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `Σ count·mean / Σ count` of `key` (`{count, mean_<unit>}`) over `shards`.
fn weighted_mean(shards: &[&Value], mean: &str) -> f64 {
    let n: f64 = shards.iter().map(|s| f(&s["count"])).sum();
    shards
        .iter()
        .map(|s| f(&s["count"]) * f(&s[mean]))
        .sum::<f64>()
        / n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_shards_merge_their_sessions_and_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::start(Duration::from_secs(1), FaultConfig::default()).await;
    let url = lab.url();
    let at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2)).to_string();
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (url, at, dir) = (url.clone(), at.clone(), dir.path().to_path_buf());
            tokio::spawn(async move { arrival_shard(&url, i, &at, &dir).await })
        })
        .collect();
    let mut files = Vec::new();
    for h in handles {
        files.push(h.await.expect("shard task"));
    }
    let _ = lab.finish().await;
    let shards: Vec<Value> = files.iter().map(|f| read(f)).collect();
    for s in &shards {
        assert!(u(&s["sessions"]["ended"]) > 0, "{}", s["sessions"]);
        assert!(s["merge"]["sessions"]["drawn"].is_string());
        assert!(s["merge"]["bandwidth"]["histogram"].is_string());
    }

    let total_path = dir.path().join("arrivals-total.json");
    let html_path = dir.path().join("arrivals-total.html");
    let o = merge(
        &[
            p(&files[0]),
            p(&files[1]),
            "--output",
            p(&total_path),
            "--report",
            p(&html_path),
        ],
        None,
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let total = read(&total_path);
    // The HTML report's sessions table says the merged counts.
    let html = std::fs::read_to_string(&html_path).expect("HTML report");
    let row = |k: &str, v: &Value| format!("<tr><th>{k}</th><td>{v}</td></tr>");
    for (k, key) in [("started", "started"), ("ended", "ended")] {
        let want = row(k, &total["sessions"][key]);
        assert!(html.contains(&want), "no {want} in the HTML report");
    }
    assert!(html.contains("Sessions (arrivals)") && html.contains("Viewer links"));
    let (m, a, b) = (
        &total["sessions"],
        &shards[0]["sessions"],
        &shards[1]["sessions"],
    );
    for key in [
        "started",
        "ended",
        "censored",
        "refused",
        "open",
        "peak_open",
        "cap",
    ] {
        assert_eq!(u(&m[key]), u(&a[key]) + u(&b[key]), "sessions.{key}: {m}");
    }
    assert_eq!(u(&m["started"]), u(&m["ended"]) + u(&m["censored"]));
    assert_eq!(u(&m["cap"]), 40, "the shards' shares of -clients add up");
    assert!((f(&m["asked_arrival_rate"]) - 8.0).abs() < 1e-9, "{m}");
    let arrivals = u(&m["started"]) + u(&m["refused"]);
    let rate = arrivals as f64 / f(&total["duration_seconds"]);
    assert!((f(&m["arrival_rate"]) - rate).abs() < 1e-9, "{m}");
    assert_eq!(m["asked"], a["asked"], "one test, one asked model");
    for key in ["drawn", "realised", "realised_drawn"] {
        let (mk, ak, bk) = (&m[key], &a[key], &b[key]);
        assert_eq!(u(&mk["count"]), u(&ak["count"]) + u(&bk["count"]), "{key}");
        let mean = weighted_mean(&[ak, bk], "mean_seconds");
        assert!(
            (f(&mk["mean_seconds"]) - mean).abs() < 1e-6,
            "{key}: {mk} vs {mean}"
        );
        // The median of the union lies between the shards' own.
        let (lo, hi) = (
            f(&ak["p50_seconds"]).min(f(&bk["p50_seconds"])),
            f(&ak["p50_seconds"]).max(f(&bk["p50_seconds"])),
        );
        assert!((lo..=hi).contains(&f(&mk["p50_seconds"])), "{key}: {mk}");
    }
    assert_eq!(u(&m["realised"]["count"]), u(&m["ended"]));

    let (m, a, b) = (
        &total["bandwidth"],
        &shards[0]["bandwidth"],
        &shards[1]["bandwidth"],
    );
    assert_eq!(m["model"], "lognormal:median=20000000,sigma=0.5");
    assert_eq!(u(&m["viewers"]), u(&a["viewers"]) + u(&b["viewers"]));
    assert_eq!(
        u(&m["min_bits_per_second"]),
        u(&a["min_bits_per_second"]).min(u(&b["min_bits_per_second"]))
    );
    assert_eq!(
        u(&m["max_bits_per_second"]),
        u(&a["max_bits_per_second"]).max(u(&b["max_bits_per_second"]))
    );
    let by_viewers = |key: &str| {
        let n = (u(&a["viewers"]) + u(&b["viewers"])) as f64;
        (u(&a["viewers"]) as f64 * f(&a[key]) + u(&b["viewers"]) as f64 * f(&b[key])) / n
    };
    let mean = by_viewers("mean_bits_per_second");
    assert!(
        (f(&m["mean_bits_per_second"]) / mean - 1.0).abs() < 1e-9,
        "{m}"
    );
    // exp(mean ln) of the union is the viewer-weighted mean of the shards' ln means.
    let ln_mean = {
        let n = (u(&a["viewers"]) + u(&b["viewers"])) as f64;
        (u(&a["viewers"]) as f64 * f(&a["geometric_mean_bits_per_second"]).ln()
            + u(&b["viewers"]) as f64 * f(&b["geometric_mean_bits_per_second"]).ln())
            / n
    };
    assert!((f(&m["geometric_mean_bits_per_second"]).ln() - ln_mean).abs() < 1e-9);
    assert!(
        total["merge"]["sessions"].is_object(),
        "a merge merges again"
    );
    assert!(total["merge"]["bandwidth"].is_object());

    // A shard without the mergeable parts (a report before schema 7): left out, not
    // reported as the whole test's.
    let mut old = shards[1].clone();
    let merge_part = old["merge"].as_object_mut().expect("object");
    merge_part.remove("sessions");
    merge_part.remove("bandwidth");
    let old_path = dir.path().join("arrivals-old.json");
    std::fs::write(&old_path, old.to_string()).expect("write");
    let partial_path = dir.path().join("arrivals-partial.json");
    let o = merge(
        &[p(&files[0]), p(&old_path), "--output", p(&partial_path)],
        None,
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let partial = read(&partial_path);
    assert_eq!(partial["sessions"], Value::Null);
    assert_eq!(partial["bandwidth"], Value::Null);
}

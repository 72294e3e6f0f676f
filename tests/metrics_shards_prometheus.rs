//! Issue 11's Prometheus truth test: a real Prometheus (Debian package) on loopback, with
//! monitoring/recording.yml loaded, scrapes three shard processes of one test (`--shard
//! 0/3..2/3`, one `--run-id`, one `--start-at`) every second. While the shards linger
//! after their run (`--metrics-linger`), the `run:*` totals equal `hls-swarm merge` of
//! their three JSON reports: requests, errors and bytes per kind, errors per class and
//! status, aborted requests, the target. The segment TTFB quantiles Prometheus computes
//! from the summed buckets lie in the same bucket as the merged report's exact ones.
//! After the shards have exited, the run's maximum still gives the totals.

mod common;
mod metrics_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::Lab;
use hls_swarm::origin::{ErrorRate, FaultConfig};
use metrics_support::prometheus::{Prometheus, free_port};
use metrics_support::{repo, tool};
use serde_json::Value;

const KINDS: [&str; 7] = [
    "master", "playlist", "blocking", "segment", "init", "part", "hint",
];
const RUN_ID: &str = "prom-truth";
/// How long each shard keeps serving its final values: well over the two 1 s scrapes and
/// the 1 s rule evaluation the test waits for.
const LINGER_SECS: u64 = 8;

/// The shard processes, killed by pid on every path out of the test.
struct Shards(Vec<Child>);

impl Drop for Shards {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hls-swarm")
}

/// Start shard `i` of 3, its metrics on `port`, its report to `dir/shard-i.json`.
fn spawn_shard(url: &str, i: usize, port: u16, at: &str, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join(format!("shard-{i}.log"))).expect("log file");
    Command::new(bin())
        .args([
            url,
            "-clients",
            "9",
            "-ramp-rate",
            "30",
            "-variant",
            "all",
            "-duration",
            "6s",
            "-tui=false",
            "-metrics",
            &format!("127.0.0.1:{port}"),
            "--metrics-linger",
            &format!("{LINGER_SECS}s"),
            "--start-at",
            at,
            "--run-id",
            RUN_ID,
            "--shard",
            &format!("{i}/3"),
            "--output",
        ])
        .arg(dir.join(format!("shard-{i}.json")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start a shard")
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn shard_log(dir: &Path, i: usize) -> String {
    std::fs::read_to_string(dir.join(format!("shard-{i}.log"))).unwrap_or_default()
}

fn int(v: &Value) -> f64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as f64
}

/// The bucket `(lower, upper]` of cumulative `buckets` (le → count, `+Inf` as infinity)
/// that holds rank `q × count`, as Prometheus's histogram_quantile picks it.
fn bucket_of(buckets: &[(f64, f64)], q: f64) -> (f64, f64) {
    let total = buckets.last().expect("buckets").1;
    let rank = q * total;
    let mut lower = 0.0;
    for &(le, count) in buckets {
        if count >= rank {
            return (lower, le);
        }
        lower = le;
    }
    unreachable!("the +Inf bucket holds every rank")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_totals_of_three_shards_equal_their_merged_report() {
    let Some(prometheus) = tool("prometheus") else {
        return;
    };
    let test_start = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut faults = FaultConfig::default();
    faults.error.segment = Some(ErrorRate {
        status: 503,
        probability: 0.1,
    });
    faults.delay.segment = Duration::from_millis(20);
    let lab = Lab::start(Duration::from_secs(1), faults).await;
    let url = lab.url();

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let targets: Vec<String> = ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir(&prom_dir).expect("mkdir");
    let prom = Prometheus::start(
        &prometheus,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {recording}\n\
             scrape_configs:\n  - job_name: hls-swarm\n    static_configs:\n      - targets: [{targets}]\n",
            recording = repo().join("monitoring/recording.yml").display(),
            targets = targets.join(", "),
        ),
        &prom_dir,
    );
    prom.ready(Duration::from_secs(30)).await;

    let at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(3)).to_string();
    let mut shards = Shards(
        (0..3)
            .map(|i| spawn_shard(&url, i, ports[i], &at, dir.path()))
            .collect(),
    );
    let report_paths: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("shard-{i}.json")))
        .collect();

    // Each report is written (atomically) at the end of its run, before the linger.
    let deadline = Instant::now() + Duration::from_secs(60);
    while report_paths.iter().any(|p| read_json(p).is_none()) {
        for (i, c) in shards.0.iter_mut().enumerate() {
            if let Ok(Some(st)) = c.try_wait() {
                assert!(
                    read_json(&report_paths[i]).is_some(),
                    "shard {i} exited ({st}) without its report:\n{}",
                    shard_log(dir.path(), i)
                );
            }
        }
        assert!(Instant::now() < deadline, "the shards' reports within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reports_at = Instant::now();
    // Lingering: every shard still serves /metrics after writing its report.
    for (i, port) in ports.iter().enumerate() {
        let addr = format!("127.0.0.1:{port}").parse().expect("addr");
        let (status, _) = metrics_support::get(addr, "/metrics").await;
        assert_eq!(
            status, 200,
            "shard {i} serves its final metrics after its report"
        );
    }
    // Two scrapes (1 s apart) and a rule evaluation (1 s) after the last report.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        reports_at.elapsed() < Duration::from_secs(LINGER_SECS - 2),
        "the queries below run while the shards linger"
    );

    let merged_path = dir.path().join("total.json");
    let o = Command::new(bin())
        .arg("merge")
        .args(&report_paths)
        .arg("--output")
        .arg(&merged_path)
        .output()
        .expect("run merge");
    assert_eq!(
        o.status.code(),
        Some(0),
        "merge: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let total = read_json(&merged_path).expect("merged report");
    assert_eq!(total["run"]["id"], RUN_ID);

    let sel = format!("{{run_id=\"{RUN_ID}\"}}");
    let shards_up = prom
        .by_label(&format!("run:hls_swarm_shards:count{sel}"), "shards")
        .await;
    assert_eq!(shards_up, vec![("3".to_string(), 3.0)], "all three shards");

    // Per kind: requests, errors, aborted requests, bytes.
    for (rule, field) in [
        ("run:hls_swarm_requests_total:sum", "count"),
        ("run:hls_swarm_request_errors_total:sum", "errors"),
        ("run:hls_swarm_requests_aborted_total:sum", "aborted"),
        ("run:hls_swarm_response_bytes_total:sum", "bytes"),
    ] {
        let got: BTreeMap<String, f64> = prom
            .by_label(&format!("{rule}{sel}"), "kind")
            .await
            .into_iter()
            .collect();
        let want: BTreeMap<String, f64> = KINDS
            .iter()
            .map(|k| (k.to_string(), int(&total["requests"][*k][field])))
            .collect();
        assert_eq!(got, want, "{rule} vs the merged requests.<kind>.{field}");
    }
    let bytes = prom
        .by_label(
            &format!("run:hls_swarm_bytes_downloaded_total:sum{sel}"),
            "run_id",
        )
        .await;
    assert_eq!(
        bytes,
        vec![(RUN_ID.to_string(), int(&total["total_bytes"]))]
    );
    let target = prom
        .by_label(&format!("run:hls_swarm_target_clients:sum{sel}"), "run_id")
        .await;
    assert_eq!(target, vec![(RUN_ID.to_string(), 9.0)]);
    assert_eq!(total["viewers"]["target"], 9);

    // Errors per class and per status: the report lists the non-zero ones.
    let by_class = prom
        .by_label(
            &format!("run:hls_swarm_errors_total:sum{sel}"),
            "error_class",
        )
        .await;
    assert!(
        by_class.len() >= 13,
        "every class is exported: {by_class:?}"
    );
    for (class, v) in &by_class {
        let want = total["errors"]["by_class"].get(class).map_or(0.0, int);
        assert_eq!(*v, want, "errors of class {class}");
    }
    let by_status: BTreeMap<String, f64> = prom
        .by_label(
            &format!("run:hls_swarm_http_errors_total:sum{sel}"),
            "status_code",
        )
        .await
        .into_iter()
        .collect();
    let want: BTreeMap<String, f64> = total["errors"]["by_status"]
        .as_object()
        .expect("by_status")
        .iter()
        .map(|(k, v)| (k.clone(), int(v)))
        .collect();
    assert_eq!(by_status, want, "HTTP errors per status");
    let errors = int(&total["requests"]["segment"]["errors"]);
    let segments = int(&total["requests"]["segment"]["count"]);
    assert!(
        errors > 0.0 && segments > 50.0,
        "a test with segments and errors: {segments} segments, {errors} errors"
    );

    // Segment TTFB: the summed buckets count every TTFB the merged report has, and
    // Prometheus's estimate and the merged exact quantile lie in the same bucket.
    let mut buckets: Vec<(f64, f64)> = prom
        .by_label(
            &format!(
                "run:hls_swarm_request_ttfb_seconds_bucket:sum{{run_id=\"{RUN_ID}\",kind=\"segment\"}}"
            ),
            "le",
        )
        .await
        .into_iter()
        .map(|(le, c)| (le.parse::<f64>().expect("le"), c))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ttfb = &total["requests"]["segment"]["ttfb_seconds"];
    assert_eq!(
        buckets.last().map(|b| b.1),
        Some(int(&ttfb["count"])),
        "+Inf bucket vs the merged TTFB count"
    );
    for (q, rule, field) in [
        (0.5, "run:hls_swarm_request_ttfb_seconds:p50", "p50"),
        (0.95, "run:hls_swarm_request_ttfb_seconds:p95", "p95"),
        (0.99, "run:hls_swarm_request_ttfb_seconds:p99", "p99"),
    ] {
        let (lower, upper) = bucket_of(&buckets, q);
        let estimate = prom
            .by_label(
                &format!("{rule}{{run_id=\"{RUN_ID}\",kind=\"segment\"}}"),
                "kind",
            )
            .await;
        assert_eq!(estimate.len(), 1, "{rule}: {estimate:?}");
        let estimate = estimate[0].1;
        let exact = ttfb[field].as_f64().expect("merged percentile");
        // Prometheus interpolates inside the bucket; the HDR value is exact to 0.1 %
        // (3 significant figures), so it may sit that far past a bound.
        assert!(
            lower <= estimate && estimate <= upper,
            "{rule} {estimate} in ({lower}, {upper}]"
        );
        assert!(
            lower * 0.999 <= exact && exact <= upper * 1.001,
            "merged {field} {exact} in the bucket ({lower}, {upper}] of {rule} {estimate}"
        );
        eprintln!(
            "segment TTFB {field}: merged {exact:.4} s, Prometheus {estimate:.4} s, bucket ({lower}, {upper}]"
        );
    }

    // The shards exit once their linger ends (0: every SLO passed, none given).
    let deadline = Instant::now() + Duration::from_secs(LINGER_SECS + 20);
    for (i, c) in shards.0.iter_mut().enumerate() {
        loop {
            if let Some(st) = c.try_wait().expect("try_wait") {
                assert_eq!(
                    st.code(),
                    Some(0),
                    "shard {i}:\n{}",
                    shard_log(dir.path(), i)
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "shard {i} exits after its linger"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = shard_log(dir.path(), i);
        assert!(
            log.contains("serving the final metrics for 8s (--metrics-linger)"),
            "{log}"
        );
    }
    assert!(
        reports_at.elapsed() >= Duration::from_secs(LINGER_SECS - 1),
        "the shards served their final values for the linger"
    );
    // After the fact: the live sum has lost the exited shards, the run's maximum has not.
    let count_rule = format!(
        "max_over_time(run:hls_swarm_requests_total:sum{{run_id=\"{RUN_ID}\",kind=\"segment\"}}[5m])"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let gone = prom
            .by_label(&format!("run:hls_swarm_shards:count{sel}"), "shards")
            .await;
        if gone.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the exited shards' series go stale"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after = prom.by_label(&count_rule, "kind").await;
    assert_eq!(
        after,
        vec![("segment".to_string(), segments)],
        "{count_rule}"
    );

    drop(shards);
    drop(prom);
    let _ = lab.finish().await;
    eprintln!(
        "{segments} segment requests, {errors} errors, {} bytes; test took {:?}",
        total["total_bytes"],
        test_start.elapsed()
    );
}

//! The hostile-origin matrix: the real binary against every misbehaviour of
//! tests/hostile/mod.rs, each row with the outcome it must have — error class, counts and
//! bytes against what the origin served, a memory bound on the child, the exit code and
//! the JSON report written.
//!
//! Rows run concurrently (one child process each, one shared hostile origin), so the
//! whole matrix takes about as long as its longest row. Bounds on rates and memory are
//! loose enough for a loaded 2-core machine and tight enough that today's failure modes
//! (a reload storm, gigabytes of playlist) are far outside them.

mod hostile;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hostile::{Case, HostileOrigin, Served};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");

/// A child over this much resident memory is killed at once (host protection); rows
/// bound memory far below it.
const KILL_RSS_KIB: u64 = 1024 * 1024;

/// The memory bound every row must stay under (peak RSS of the child).
const MAX_RSS_KIB: u64 = 200 * 1024;

/// What one run of the binary left behind.
struct Outcome {
    exit: Option<i32>,
    /// Peak resident set (VmHWM) seen while it ran, KiB.
    peak_rss_kib: u64,
    /// Peak of the summed private resident memory (RssAnon) of its child processes
    /// (FFmpeg viewers), KiB. Private memory is what an endless playlist grows; VmRSS
    /// would also count each FFmpeg's ~40 MB of shared library pages, once per process,
    /// so an FFmpeg exiting while its replacement starts would look like twice the use.
    peak_children_rss_kib: u64,
    /// Killed for memory (over [`KILL_RSS_KIB`]) or for not ending in time.
    killed: Option<&'static str>,
    json: Option<Value>,
    stdout: String,
    stderr: String,
    /// The `--log-file` (with `-v`).
    log: String,
    /// What the origin served for this row's case.
    served: Vec<Served>,
    wall: Duration,
}

impl Outcome {
    fn j(&self) -> &Value {
        self.json.as_ref().expect("JSON report written")
    }
    fn class(&self, name: &str) -> u64 {
        self.j()["errors"]["by_class"][name].as_u64().unwrap_or(0)
    }
    fn count(&self, kind: &str) -> u64 {
        self.j()["requests"][kind]["count"].as_u64().unwrap_or(0)
    }
    fn bytes(&self, kind: &str) -> u64 {
        self.j()["requests"][kind]["bytes"].as_u64().unwrap_or(0)
    }
    fn playback(&self, key: &str) -> f64 {
        self.j()["playback"][key].as_f64().unwrap_or(-1.0)
    }
    fn served_playlists(&self) -> usize {
        self.served.iter().filter(|s| s.is_playlist()).count()
    }
    fn served_segments(&self) -> usize {
        self.served.iter().filter(|s| s.is_segment()).count()
    }
    fn served_segment_bytes(&self) -> u64 {
        self.served
            .iter()
            .filter(|s| s.is_segment())
            .map(|s| s.body_bytes)
            .sum()
    }
    fn no_panic(&self) -> Result<(), String> {
        check(
            !self.stderr.contains("panicked") && !self.log.contains("panicked"),
            "no panic",
        )
    }
}

fn check(ok: bool, what: impl Into<String>) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.into()) }
}

/// Peak RSS (VmHWM), current RSS and current private anonymous RSS of `pid`, KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?, field("RssAnon:")?))
}

/// The pids of `pid`'s child processes (every thread's children: a child belongs to the
/// thread that spawned it).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Run the binary against `url` with `args` (after the common ones), sampling its memory;
/// killed past [`KILL_RSS_KIB`] or `deadline`.
fn run(url: &str, args: &[String], deadline: Duration) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let json: PathBuf = dir.path().join("run.json");
    let log: PathBuf = dir.path().join("run.log");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg(url)
        .args([
            "-clients",
            "1",
            "-ramp-rate",
            "100",
            "-metrics",
            "off",
            "-tui=false",
            "-v",
        ])
        .args(args)
        .arg("--output")
        .arg(&json)
        .arg("--log-file")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn hls-swarm");
    let pid = child.id();
    let mut peak = 0;
    let mut peak_children = 0;
    let mut killed = None;
    let status = loop {
        if let Some((hwm, rss, _)) = rss_kib(pid) {
            peak = peak.max(hwm).max(rss);
            let kids: u64 = children(pid)
                .into_iter()
                .filter_map(|c| rss_kib(c).map(|(_, _, anon)| anon))
                .sum();
            peak_children = peak_children.max(kids);
            if (rss > KILL_RSS_KIB || kids > KILL_RSS_KIB) && killed.is_none() {
                killed = Some("memory");
                let _ = child.kill();
            }
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if started.elapsed() > deadline && killed.is_none() {
            killed = Some("deadline");
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    Outcome {
        exit: status.code(),
        peak_rss_kib: peak,
        peak_children_rss_kib: peak_children,
        killed,
        json: std::fs::read_to_string(&json)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
        stdout: read(&out_path),
        stderr: read(&err_path),
        log: read(&log),
        served: Vec::new(),
        wall: started.elapsed(),
    }
}

/// One row of the matrix.
struct Row {
    name: &'static str,
    case: Case,
    /// Hostile from the start, or only after the harness's switch time (mid-run).
    late: bool,
    args: &'static [&'static str],
    expect: fn(&Outcome) -> Result<(), String>,
}

fn common(o: &Outcome) -> Result<(), String> {
    check(o.killed.is_none(), format!("killed ({:?})", o.killed))?;
    check(
        o.peak_rss_kib < MAX_RSS_KIB,
        format!("peak RSS {} KiB over {MAX_RSS_KIB} KiB", o.peak_rss_kib),
    )?;
    check(
        o.peak_children_rss_kib < MAX_RSS_KIB,
        format!(
            "children's peak private RSS {} KiB over {MAX_RSS_KIB} KiB",
            o.peak_children_rss_kib
        ),
    )?;
    o.no_panic()
}

/// A run that went to its end: exit 0 and the JSON report written.
fn completed(o: &Outcome) -> Result<(), String> {
    common(o)?;
    check(o.exit == Some(0), format!("exit {:?}", o.exit))?;
    check(o.json.is_some(), "JSON report written")
}

/// Refused at start: exit 1, the class named on stderr.
fn refused_at_start(o: &Outcome, class: &str) -> Result<(), String> {
    common(o)?;
    check(o.exit == Some(1), format!("exit {:?}", o.exit))?;
    check(o.stderr.contains(class), format!("stderr names {class}"))
}

/// Every request of the run equals what the origin served: counts per kind and bytes.
fn exact_counts(o: &Outcome) -> Result<(), String> {
    let playlists = o.count("master") + o.count("playlist");
    check(
        playlists == o.served_playlists() as u64,
        format!(
            "playlist requests {playlists} vs served {}",
            o.served_playlists()
        ),
    )?;
    check(
        o.count("segment") == o.served_segments() as u64,
        format!(
            "segment requests {} vs served {}",
            o.count("segment"),
            o.served_segments()
        ),
    )?;
    let served: u64 = o.served.iter().map(|s| s.body_bytes).sum();
    let total = o.j()["total_bytes"].as_u64().unwrap_or(0);
    check(total == served, format!("bytes {total} vs served {served}"))
}

/// Playlist requests per second of run time.
fn playlist_rate(o: &Outcome) -> f64 {
    o.served_playlists() as f64 / o.j()["duration_seconds"].as_f64().unwrap_or(1.0).max(0.5)
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "healthy baseline: no errors, counts and bytes exact",
            case: Case::Healthy,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                check(o.playback("played_seconds") > 0.0, "played")?;
                exact_counts(o)
            },
        },
        Row {
            name: "reset mid-body: reset/truncated, counted per request",
            case: Case::ResetMidBody,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                let n = o.class("reset") + o.class("truncated");
                check(n > 0, "reset or truncated errors")?;
                check(o.class("other") == 0, "nothing unnamed")?;
                check(
                    o.count("segment") == o.served_segments() as u64,
                    "segment requests equal served",
                )
            },
        },
        Row {
            name: "stalled body: timeout",
            case: Case::StalledBody,
            late: false,
            args: &["-timeout", "2s"],
            expect: |o| {
                completed(o)?;
                check(o.class("timeout") > 0, "timeouts")?;
                check(o.class("other") == 0, "nothing unnamed")
            },
        },
        Row {
            name: "slowloris head: timeout",
            case: Case::SlowHead,
            late: false,
            args: &["-timeout", "2s"],
            expect: |o| {
                completed(o)?;
                check(o.class("timeout") > 0, "timeouts")
            },
        },
        Row {
            name: "endless playlist at start, -timeout 20s: refused at the size limit, memory bounded",
            case: Case::EndlessPlaylist,
            late: false,
            // A long timeout: what stops the read must be the size limit.
            args: &["-timeout", "20s"],
            expect: |o| refused_at_start(o, "playlist_too_large"),
        },
        Row {
            name: "endless playlist mid-run: playlist_too_large, memory bounded",
            case: Case::EndlessPlaylist,
            late: true,
            args: &["-duration", "6s"],
            expect: |o| {
                completed(o)?;
                check(o.class("playlist_too_large") > 0, "playlist_too_large")?;
                check(o.class("other") == 0, "nothing unnamed")
            },
        },
        Row {
            name: "endless playlist mid-run, FFmpeg engine: the proxy cuts it at the limit, FFmpeg bounded",
            case: Case::EndlessPlaylist,
            late: true,
            // Long enough for an unbounded FFmpeg to pass the memory bound (it took ~60 MB
            // more per second of endless playlist). FFmpeg keeps every entry it parses
            // (~4 KB each), so the proxy relays a playlist only once it is whole and within
            // the limit: at the 8 MiB default, FFmpeg gets none of the endless one.
            args: &["-engine", "ffmpeg", "-duration", "12s"],
            expect: |o| {
                // FFmpeg exits on the cut playlist and is respawned; as the hostile media
                // never plays, the crash-loop breaker may end the run first (exit 1).
                common(o)?;
                check(o.json.is_some(), "JSON report written")?;
                let stop = o.j()["stop_reason"].as_str().unwrap_or("");
                check(
                    o.exit == Some(0) || (o.exit == Some(1) && stop == "crash_loop"),
                    format!("exit {:?}, stop reason {stop}", o.exit),
                )?;
                check(o.class("playlist_too_large") > 0, "playlist_too_large")?;
                check(o.class("other") == 0, "nothing unnamed")
            },
        },
        Row {
            name: "endless playlist mid-run, --max-playlist-size 64KiB: reading stops at the limit",
            case: Case::EndlessPlaylist,
            late: true,
            args: &["-duration", "6s", "--max-playlist-size", "64KiB"],
            expect: |o| {
                completed(o)?;
                let failed = o.class("playlist_too_large");
                check(failed > 0, "playlist_too_large")?;
                // Per failed load: the limit plus at most one read buffer.
                let served_endless: Vec<_> = o
                    .served
                    .iter()
                    .filter(|s| s.is_playlist() && !s.complete)
                    .collect();
                check(
                    served_endless.len() as u64 == failed,
                    format!(
                        "{} endless loads vs {failed} failures",
                        served_endless.len()
                    ),
                )?;
                let per_load = o.bytes("playlist") / o.count("playlist").max(1);
                check(
                    per_load < 1024 * 1024,
                    format!("{per_load} bytes per playlist load"),
                )
            },
        },
        Row {
            name: "huge playlist at start: refused from Content-Length",
            case: Case::HugePlaylist,
            late: false,
            args: &[],
            expect: |o| refused_at_start(o, "--max-playlist-size"),
        },
        Row {
            name: "huge playlist mid-run: playlist_too_large, no body read",
            case: Case::HugePlaylist,
            late: true,
            args: &["-duration", "6s"],
            expect: |o| {
                completed(o)?;
                check(o.class("playlist_too_large") > 0, "playlist_too_large")?;
                check(o.playback("played_seconds") > 0.0, "played before")
            },
        },
        Row {
            name: "endless chunked segment: timeout, memory bounded, bytes as they arrived",
            case: Case::EndlessChunked,
            late: false,
            args: &["-timeout", "2s"],
            expect: |o| {
                completed(o)?;
                check(o.class("timeout") > 0, "timeouts")?;
                // Counted as they arrive: short of what was written by at most what the
                // socket buffers held when the request ended.
                let (got, served) = (o.bytes("segment"), o.served_segment_bytes());
                check(
                    got <= served && served - got <= 32 << 20,
                    format!("segment bytes {got} vs served {served}"),
                )
            },
        },
        Row {
            name: "Content-Length too long: truncated",
            case: Case::ContentLengthLong,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.class("truncated") > 0, "truncated")?;
                check(
                    o.bytes("segment") == o.served_segment_bytes(),
                    format!(
                        "segment bytes {} vs served {}",
                        o.bytes("segment"),
                        o.served_segment_bytes()
                    ),
                )
            },
        },
        Row {
            name: "Content-Length too short: no panic, never more bytes than served",
            case: Case::ContentLengthShort,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(
                    o.bytes("segment") <= o.served_segment_bytes(),
                    "segment bytes at most served",
                )
            },
        },
        Row {
            name: "redirect loop mid-run: 5 redirects per load, then an error",
            case: Case::RedirectLoop,
            late: true,
            args: &["-duration", "6s"],
            expect: |o| {
                completed(o)?;
                let failed = o.j()["requests"]["playlist"]["errors"]
                    .as_u64()
                    .unwrap_or(0);
                check(failed > 0, "failed playlist loads")?;
                // Each load: 5 redirects followed, the 6th 302 is its final response.
                let hops = o.served.iter().filter(|s| s.status == 302).count() as u64;
                check(
                    hops == 6 * failed,
                    format!("{hops} 302s served vs {failed} loads"),
                )?;
                let followed = o.j()["redirects"].as_u64().unwrap_or(0);
                check(
                    followed == 5 * failed,
                    format!("{followed} redirects counted vs {failed} loads"),
                )
            },
        },
        Row {
            name: "gzip playlists sent unasked: decoded, played, wire bytes exact",
            case: Case::Gzip,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                check(o.playback("played_seconds") > 0.0, "played")?;
                exact_counts(o)
            },
        },
        Row {
            name: "gzip when offered: offered on every playlist, decoded, exact",
            case: Case::GzipIfAccepted,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                let offered = o.served.iter().filter(|s| s.is_playlist()).all(|s| {
                    s.accept_encoding
                        .as_deref()
                        .is_some_and(|a| a.contains("gzip"))
                });
                check(offered, "every playlist request offers gzip")?;
                let segments_plain = o
                    .served
                    .iter()
                    .filter(|s| s.is_segment())
                    .all(|s| s.accept_encoding.is_none());
                check(
                    segments_plain,
                    "segment requests do not ask for compression",
                )?;
                exact_counts(o)
            },
        },
        Row {
            name: "stalled body in flight at stop: aborted, counts and bytes equal the log",
            case: Case::StalledBody,
            late: false,
            args: &["-timeout", "60s"],
            expect: |o| {
                completed(o)?;
                let aborted = o.j()["requests"]["segment"]["aborted"]
                    .as_u64()
                    .unwrap_or(0);
                check(aborted == 1, format!("{aborted} aborted segment requests"))?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                exact_counts(o)
            },
        },
        Row {
            name: "TARGETDURATION:0: clamped and visible, no reload storm",
            case: Case::TargetZero,
            late: false,
            args: &["-duration", "5s"],
            expect: |o| {
                completed(o)?;
                check(o.playback("timing_clamped") > 0.0, "timing_clamped counted")?;
                let rate = playlist_rate(o);
                check(rate <= 4.0, format!("{rate:.1} playlist requests/s"))?;
                check(o.log.contains("timing clamped"), "logged")?;
                check(o.playback("played_seconds") > 0.0, "played")
            },
        },
        Row {
            name: "TARGETDURATION:86400: clamped, still reloads and plays",
            case: Case::TargetHuge,
            late: false,
            args: &["-duration", "5s"],
            expect: |o| {
                completed(o)?;
                check(o.playback("timing_clamped") > 0.0, "timing_clamped counted")?;
                check(o.served_playlists() >= 3, "reloaded")
            },
        },
        Row {
            name: "EXTINF:0: clamped, plays",
            case: Case::ExtinfZero,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.playback("timing_clamped") > 0.0, "timing_clamped counted")?;
                check(playlist_rate(o) <= 4.0, "no reload storm")
            },
        },
        Row {
            name: "EXTINF:80000: clamped",
            case: Case::ExtinfHuge,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.playback("timing_clamped") > 0.0, "timing_clamped counted")
            },
        },
        Row {
            name: "EXTINF:-1 at start: refused as playlist_invalid",
            case: Case::ExtinfNegative,
            late: false,
            args: &[],
            expect: |o| refused_at_start(o, "playlist_invalid"),
        },
        Row {
            name: "EXTINF:-1 mid-run: playlist_invalid, cause logged at -v",
            case: Case::ExtinfNegative,
            late: true,
            args: &["-duration", "6s"],
            expect: |o| {
                completed(o)?;
                check(o.class("playlist_invalid") > 0, "playlist_invalid")?;
                check(o.class("other") == 0, "nothing unnamed")?;
                check(o.log.contains("negative value"), "cause logged")
            },
        },
        Row {
            name: "EXTINF:NaN mid-run: playlist_invalid",
            case: Case::ExtinfNan,
            late: true,
            args: &["-duration", "6s"],
            expect: |o| {
                completed(o)?;
                check(o.class("playlist_invalid") > 0, "playlist_invalid")?;
                check(o.class("other") == 0, "nothing unnamed")
            },
        },
        Row {
            name: "media sequence up to u64::MAX: no overflow",
            case: Case::HugeSequence,
            late: false,
            args: &["-duration", "7s"],
            expect: |o| {
                completed(o)?;
                let expired = o.playback("segments_expired");
                check(
                    (0.0..100.0).contains(&expired),
                    format!("{expired} expired"),
                )
            },
        },
        Row {
            name: "media sequence jumps backwards: stream resets",
            case: Case::SeqBackwards,
            late: false,
            args: &["-duration", "7s"],
            expect: |o| {
                completed(o)?;
                check(o.playback("stream_resets") >= 1.0, "stream resets counted")?;
                let expired = o.playback("segments_expired");
                check(
                    (0.0..100.0).contains(&expired),
                    format!("{expired} expired"),
                )
            },
        },
        Row {
            name: "media sequence jumps 2^60 forward: stream resets, not 2^60 expired",
            case: Case::SeqFarForward,
            late: false,
            args: &["-duration", "7s"],
            expect: |o| {
                completed(o)?;
                check(o.playback("stream_resets") >= 1.0, "stream resets counted")?;
                let expired = o.playback("segments_expired");
                check(
                    (0.0..100.0).contains(&expired),
                    format!("{expired} expired"),
                )
            },
        },
        Row {
            name: "random media sequence: resets, expired bounded",
            case: Case::SeqRandom,
            late: false,
            args: &["-duration", "5s"],
            expect: |o| {
                completed(o)?;
                check(o.playback("stream_resets") >= 1.0, "stream resets counted")?;
                let expired = o.playback("segments_expired");
                check(
                    (0.0..10_000.0).contains(&expired),
                    format!("{expired} expired"),
                )
            },
        },
        Row {
            name: "HTTP/1.0 close per response: no errors, counts exact",
            case: Case::Http10Close,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                exact_counts(o)
            },
        },
        Row {
            name: "1xx before every response: no errors, counts exact",
            case: Case::Informational,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.j()["errors"]["total"] == 0, "no errors")?;
                exact_counts(o)
            },
        },
        Row {
            name: "empty 200 segments: empty_body, nothing played",
            case: Case::EmptySegment,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                check(o.class("empty_body") > 0, "empty_body")?;
                check(
                    o.class("empty_body") == o.served_segments() as u64,
                    "every empty segment is an error",
                )?;
                check(o.playback("played_seconds") == 0.0, "nothing played")
            },
        },
        Row {
            name: "empty 200 segments, FFmpeg engine: the proxy names them empty_body too",
            case: Case::EmptySegment,
            late: false,
            args: &["-engine", "ffmpeg", "-duration", "6s"],
            expect: |o| {
                completed(o)?;
                check(o.class("empty_body") > 0, "empty_body")?;
                check(
                    o.class("empty_body") == o.served_segments() as u64,
                    "every empty segment is an error",
                )
            },
        },
        Row {
            name: "10,000 variants with -variant all: 16 tracks (default --max-tracks), said",
            case: Case::HugeMaster,
            late: false,
            args: &["-variant", "all"],
            expect: |o| {
                completed(o)?;
                let tracks: BTreeSet<&str> = o
                    .served
                    .iter()
                    .filter(|s| s.path.contains("/v"))
                    .map(|s| s.path.as_str())
                    .collect();
                check(
                    tracks.len() == 16,
                    format!("{} tracks played", tracks.len()),
                )?;
                check(o.log.contains("--max-tracks"), "capping said")?;
                let rate = playlist_rate(o);
                check(rate < 16.0 * 4.0, format!("{rate:.0} playlist requests/s"))
            },
        },
        Row {
            name: "--max-tracks 3",
            case: Case::HugeMaster,
            late: false,
            args: &["-variant", "all", "--max-tracks", "3"],
            expect: |o| {
                completed(o)?;
                let tracks: BTreeSet<&str> = o
                    .served
                    .iter()
                    .filter(|s| s.path.contains("/v"))
                    .map(|s| s.path.as_str())
                    .collect();
                check(tracks.len() == 3, format!("{} tracks played", tracks.len()))
            },
        },
        Row {
            name: "gzip playlist, offered or not: decoded, 0 errors, wire bytes counted",
            case: Case::Gzip,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                let errors = o.j()["errors"]["total"].as_u64().unwrap_or(u64::MAX);
                check(errors == 0, format!("{errors} errors"))?;
                check(o.served_segments() > 0, "segments played")?;
                same_playlists_as_served(o)
            },
        },
        Row {
            name: "gzip only when accepted: offered on playlists, never on segments",
            case: Case::GzipIfAccepted,
            late: false,
            args: &[],
            expect: |o| {
                completed(o)?;
                let errors = o.j()["errors"]["total"].as_u64().unwrap_or(u64::MAX);
                check(errors == 0, format!("{errors} errors"))?;
                let offered = |s: &Served| {
                    s.accept_encoding
                        .as_deref()
                        .is_some_and(|v| v.contains("gzip"))
                };
                check(
                    o.served.iter().filter(|s| s.is_playlist()).all(offered),
                    "every playlist request offers gzip",
                )?;
                check(
                    o.served
                        .iter()
                        .filter(|s| s.is_segment())
                        .all(|s| s.accept_encoding.is_none()),
                    "no segment request asks for compression",
                )?;
                same_playlists_as_served(o)
            },
        },
        Row {
            name: "endless chunked segment stopped mid-body (-timeout 60s): aborted, bytes as sent",
            case: Case::EndlessChunked,
            late: false,
            args: &["-timeout", "60s"],
            expect: |o| {
                completed(o)?;
                let seg = &o.j()["requests"]["segment"];
                let aborted = seg["aborted"].as_u64().unwrap_or(0);
                let served = o.served_segments() as u64;
                check(
                    served > 0 && aborted == served && o.count("segment") == served,
                    format!(
                        "{served} served, {} counted, {aborted} aborted",
                        o.count("segment")
                    ),
                )?;
                // The origin's figure includes the chunk framing (a few bytes per chunk).
                let ratio = o.bytes("segment") as f64 / o.served_segment_bytes() as f64;
                check(
                    (0.95..=1.0).contains(&ratio),
                    format!(
                        "{} of {} bytes counted ({ratio:.4})",
                        o.bytes("segment"),
                        o.served_segment_bytes()
                    ),
                )?;
                // -duration 4 s + the 2 s grace + the cut-off.
                check(
                    o.wall < Duration::from_secs(9),
                    format!("took {:?}", o.wall),
                )
            },
        },
    ]
}

/// Playlist requests and bytes (the wire bytes) equal what the origin served.
fn same_playlists_as_served(o: &Outcome) -> Result<(), String> {
    let counted = o.count("master") + o.count("playlist");
    let served = o.served_playlists() as u64;
    check(
        counted == served,
        format!("{counted} playlist requests counted, {served} served"),
    )?;
    let bytes = o.bytes("master") + o.bytes("playlist");
    let served_bytes: u64 = o
        .served
        .iter()
        .filter(|s| s.is_playlist())
        .map(|s| s.body_bytes)
        .sum();
    check(
        bytes == served_bytes,
        format!("{bytes} playlist bytes counted, {served_bytes} served"),
    )
}

#[test]
fn hostile_matrix() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let origin = Arc::new(rt.block_on(HostileOrigin::start()));
    let started = Instant::now();
    let handles: Vec<_> = rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let origin = Arc::clone(&origin);
            std::thread::spawn(move || {
                // Stagger the starts a little so the children do not all start at once.
                std::thread::sleep(Duration::from_millis(40 * i as u64));
                // Every row gets its own path prefix (a unique query would not separate
                // the segment requests), so its log is its own.
                let label = format!("{}r{i}", if row.late { "late-" } else { "" });
                let url = origin.url_labelled(row.case, &label);
                let mut args: Vec<String> = row.args.iter().map(|s| s.to_string()).collect();
                // A generous timeout, so a loaded machine does not turn slow answers into
                // errors; rows about timeouts set a short one.
                for (flag, default) in [("-duration", "4s"), ("-timeout", "10s")] {
                    if !row.args.contains(&flag) {
                        args.extend([flag.to_string(), default.to_string()]);
                    }
                }
                let mut o = run(&url, &args, Duration::from_secs(40));
                o.served = origin.served_labelled(row.case, &label);
                let verdict = (row.expect)(&o);
                (row, o, verdict)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (row, o, verdict) = h.join().expect("row thread");
        let line = format!(
            "{:<80} exit {:?} rss {:>6} KiB children (anon) {:>6} KiB wall {:>5.1}s served {:>5} {}",
            row.name,
            o.exit,
            o.peak_rss_kib,
            o.peak_children_rss_kib,
            o.wall.as_secs_f64(),
            o.served.len(),
            match &verdict {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
        eprintln!(
            "{line}\n    by_class {} playback {}",
            o.json
                .as_ref()
                .map(|j| j["errors"]["by_class"].to_string())
                .unwrap_or_default(),
            o.json
                .as_ref()
                .map(|j| format!(
                    "played {} resets {} clamped {} expired {}",
                    j["playback"]["played_seconds"],
                    j["playback"]["stream_resets"],
                    j["playback"]["timing_clamped"],
                    j["playback"]["segments_expired"]
                ))
                .unwrap_or_default()
        );
        if verdict.is_err() {
            failures.push(format!(
                "{line}\n  stdout: {}\n  stderr: {}\n  errors: {}",
                o.stdout.lines().take(3).collect::<Vec<_>>().join(" | "),
                o.stderr.lines().take(5).collect::<Vec<_>>().join(" | "),
                o.json
                    .as_ref()
                    .map(|j| j["errors"].to_string())
                    .unwrap_or_default()
            ));
        }
    }
    eprintln!("matrix took {:.1}s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_limit_flags_exit_2_naming_the_flag() {
    for args in [
        ["--max-playlist-size", "12XB"],
        ["--max-playlist-size", "0"],
        ["--max-playlist-size", "2GiB"],
        ["--max-tracks", "0"],
        ["--max-tracks", "many"],
    ] {
        let out = Command::new(BIN)
            .args(["http://127.0.0.1:9/x.m3u8", "-metrics", "off", "-tui=false"])
            .args(args)
            .output()
            .expect("run hls-swarm");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}

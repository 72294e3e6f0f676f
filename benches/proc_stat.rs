//! Per-tick cost of reading the CPU and RSS of many child processes, the FFmpeg engine's
//! hot path: the hand read (`/proc/<pid>/stat` kept open and re-read with one `pread`,
//! engine::ffmpeg::procfs) against the `procfs` crate (`Process::new(pid)?.stat()`:
//! open the pid directory, open, read, parse every field, close). Spawns N `sleep`
//! children (killed by PID at the end), then times ROUNDS alternating rounds of each and
//! prints the medians and the ratio. Not a test: nothing is asserted about time.
//!
//!   cargo bench --bench proc_stat -- [CHILDREN] [ROUNDS]      (default 1000 200)

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hls_swarm::engine::ffmpeg::procfs::{StatFiles, sample};

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1000);
    let rounds = args.get(1).copied().unwrap_or(200);
    let mut children: Vec<Child> = Vec::with_capacity(n);
    for _ in 0..n {
        match Command::new("sleep")
            .arg("120")
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("proc_stat: spawned {} of {n}: {e}", children.len());
                break;
            }
        }
    }
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let mut files = StatFiles::default();
    let (mut hand, mut krate) = (Vec::new(), Vec::new());
    let mut check = (0.0, 0.0, 0.0);
    for _ in 0..rounds {
        let t = Instant::now();
        let u = sample(&mut files, &pids, &[]);
        hand.push(t.elapsed());
        let t = Instant::now();
        let (mut ticks, mut rss) = (0u64, 0u64);
        for pid in &pids {
            if let Ok(s) = procfs::process::Process::new(*pid as i32).and_then(|p| p.stat()) {
                ticks += s.utime + s.stime;
                rss += s.rss;
            }
        }
        krate.push(t.elapsed());
        check = (
            u.rss_bytes as f64,
            (rss * procfs::page_size()) as f64,
            ticks as f64,
        );
    }
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let (h, k) = (median(hand), median(krate));
    println!(
        "proc_stat: {} children, {rounds} rounds: hand (kept-open pread) median {h:.3} ms, procfs crate median {k:.3} ms, crate/hand {:.2} (RSS seen: hand {} B, crate {} B; crate CPU ticks {})",
        pids.len(),
        k / h,
        check.0,
        check.1,
        check.2
    );
}

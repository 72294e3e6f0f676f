//! Resource use of the FFmpeg children from Linux procfs.
//!
//! CPU: `utime + stime` of every running child (`/proc/<pid>/stat`) plus `cutime + cstime`
//! of this process (`/proc/self/stat`), which the kernel credits with every child once it
//! has been reaped — so the total covers exited processes too and only grows. The swarm
//! spawns no other children in FFmpeg mode (its probe runs are FFmpeg as well).
//! Memory: RSS (`/proc/<pid>/stat`, read with the CPU times) of the running children,
//! summed, and PSS
//! (`/proc/<pid>/smaps_rollup`) of the ones asked for. PSS splits shared library pages
//! between the processes sharing them, so it is the honest per-process cost — but the
//! kernel walks every page table entry to compute it (≈ 1–2 ms for one FFmpeg), so callers
//! measure it for a few processes at a time.
//!
//! Which reads use the `procfs` crate and which are by hand: this process's own `stat`
//! (once a tick), the `smaps_rollup` of a few children at a time, the clock tick and the
//! page size go through the crate. The per-child `stat` lines, read every tick for every
//! running FFmpeg (thousands), stay a hand read: their files are kept open between
//! samples ([`StatFiles`]) and re-read from offset 0 (the kernel regenerates the line on
//! every read), and only the three fields used are parsed. The crate opens the pid
//! directory and the file, reads, parses all 52 fields and closes, per child and tick:
//! benches/proc_stat.rs measured it slower (see the note at [`StatFiles`]).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use ::procfs::process::{Process, SmapsRollup};

/// CPU and memory figures of a set of processes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// CPU seconds of running children + reaped children.
    pub cpu_seconds: f64,
    /// RSS of running children, bytes.
    pub rss_bytes: u64,
    /// PSS figures of the processes it was asked for.
    pub pss: Vec<(u32, Rollup)>,
    /// CPU seconds of this process itself.
    pub self_cpu_seconds: f64,
}

fn clock_ticks() -> f64 {
    match ::procfs::ticks_per_second() {
        0 => 100.0,
        t => t as f64,
    }
}

/// Fields after the `(comm)` of a `/proc/*/stat` line; field 3 (state) is index 0.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let end = stat.rfind(')')?;
    Some(stat[end + 1..].split_whitespace().collect())
}

/// `(utime + stime, cutime + cstime)` in clock ticks from a `/proc/*/stat` line.
pub fn parse_stat_cpu(stat: &str) -> Option<(u64, u64)> {
    let f = stat_fields(stat)?;
    // Fields 14..17 (1-based) are utime, stime, cutime, cstime; index = field - 3.
    let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some((n(11)? + n(12)?, n(13)? + n(14)?))
}

/// Resident pages (field 24) from a `/proc/*/stat` line.
pub fn parse_stat_rss_pages(stat: &str) -> Option<u64> {
    stat_fields(stat)?.get(21)?.parse().ok()
}

/// One process's memory from `/proc/<pid>/smaps_rollup`, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Proportional set size: private pages plus each shared page divided by its sharers.
    pub pss: u64,
    /// Private pages only (`Private_Clean + Private_Dirty`): what the process alone costs.
    /// Unlike PSS it does not change when other processes start or stop sharing pages.
    pub private: u64,
}

impl Rollup {
    /// The shared pages' share in the PSS (PSS − private).
    pub fn shared_share(&self) -> u64 {
        self.pss.saturating_sub(self.private)
    }
}

/// The `Pss`, `Private_Clean` and `Private_Dirty` figures of a `smaps_rollup` as the
/// `procfs` crate reads it (it converts the kB to bytes).
pub fn rollup_of(r: &SmapsRollup) -> Option<Rollup> {
    let map = &r.memory_map_rollup.0.first()?.extension.map;
    let bytes = |k: &str| map.get(k).copied();
    Some(Rollup {
        pss: bytes("Pss")?,
        private: bytes("Private_Clean").unwrap_or(0) + bytes("Private_Dirty").unwrap_or(0),
    })
}

/// `(utime + stime, cutime + cstime)` of this process, in clock ticks.
fn self_ticks() -> Option<(u64, u64)> {
    let s = Process::myself().and_then(|p| p.stat()).ok()?;
    let reaped = u64::try_from(s.cutime.saturating_add(s.cstime)).unwrap_or(0);
    Some((s.utime + s.stime, reaped))
}

/// Open `/proc/<pid>/stat` files, kept from one sample to the next.
///
/// Why by hand: `cargo bench --bench proc_stat -- 1000 200` (1,000 `sleep` children, release
/// build, 2 shared cores) gave medians of 5.6 and 5.1 ms a round (two runs) for this read against
/// 12.1 and 11.8 ms for the crate's `Process::new(pid)?.stat()` (2.2× and 2.3×; same RSS).
#[derive(Debug, Default)]
pub struct StatFiles {
    open: HashMap<u32, File>,
    buf: Vec<u8>,
}

impl StatFiles {
    /// The current `stat` line of `pid`. A kept descriptor of a process that has gone
    /// (reads fail with ESRCH) is reopened once, in case the pid now names a new process.
    fn read(&mut self, pid: u32) -> Option<&str> {
        for _ in 0..2 {
            let file = match self.open.entry(pid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(File::open(format!("/proc/{pid}/stat")).ok()?)
                }
            };
            self.buf.resize(1024, 0);
            match file.read_at(&mut self.buf, 0) {
                Ok(n) if n > 0 && n < self.buf.len() => {
                    self.buf.truncate(n);
                    return std::str::from_utf8(&self.buf).ok();
                }
                _ => {
                    self.open.remove(&pid);
                }
            }
        }
        None
    }

    /// Close the descriptors of processes not in `pids`.
    fn retain(&mut self, pids: &[u32]) {
        self.open.retain(|p, _| pids.contains(p));
    }
}

/// Measure the running children `pids` (through `files`), and the PSS of `pss_of`.
pub fn sample(files: &mut StatFiles, pids: &[u32], pss_of: &[u32]) -> Usage {
    let hz = clock_ticks();
    let page = ::procfs::page_size();
    let (self_ticks, reaped_ticks) = self_ticks().unwrap_or((0, 0));
    let mut live_ticks = 0u64;
    let mut rss = 0u64;
    files.retain(pids);
    for pid in pids {
        let Some(stat) = files.read(*pid) else {
            continue;
        };
        if let Some((t, _)) = parse_stat_cpu(stat) {
            live_ticks += t;
        }
        if let Some(p) = parse_stat_rss_pages(stat) {
            rss += p * page;
        }
    }
    let pss = pss_of
        .iter()
        .filter_map(|pid| {
            let r = Process::new(i32::try_from(*pid).ok()?)
                .and_then(|p| p.smaps_rollup())
                .ok()?;
            rollup_of(&r).map(|b| (*pid, b))
        })
        .collect();
    Usage {
        cpu_seconds: (live_ticks + reaped_ticks) as f64 / hz,
        rss_bytes: rss,
        pss,
        self_cpu_seconds: self_ticks as f64 / hz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let stat = "1234 (ff mpeg) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 50 7 3 20 0 5 0 100 1000 300 9";
        assert_eq!(parse_stat_cpu(stat), Some((200, 10)));
        assert_eq!(parse_stat_rss_pages(stat), Some(300));
    }

    #[test]
    fn parses_rollup() {
        let rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:   65000 kB\nPss:   12345 kB\nPss_Anon: 4000 kB\nShared_Clean: 9000 kB\nPrivate_Clean: 300 kB\nPrivate_Dirty: 4045 kB\n";
        let parse = |text: &str| {
            <SmapsRollup as ::procfs::FromBufRead>::from_buf_read(text.as_bytes())
                .ok()
                .and_then(|r| rollup_of(&r))
        };
        let r = parse(rollup).expect("rollup");
        assert_eq!(r.pss, 12345 * 1024);
        assert_eq!(r.private, 4345 * 1024);
        assert_eq!(r.shared_share(), 8000 * 1024);
        assert_eq!(
            parse("55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 1 kB\n"),
            None
        );
    }

    #[test]
    fn samples_this_process() {
        let me = std::process::id();
        let mut files = StatFiles::default();
        let u = sample(&mut files, &[me], &[me]);
        let again = sample(&mut files, &[me], &[]);
        assert!(again.rss_bytes > 0 && again.pss.is_empty());
        assert_eq!(files.open.len(), 1, "descriptor kept");
        sample(&mut files, &[], &[]);
        assert!(files.open.is_empty(), "descriptor of a gone process closed");
        assert!(u.rss_bytes > 0);
        assert!(
            u.pss
                .first()
                .is_some_and(|(p, r)| *p == me && r.pss >= r.private && r.private > 0)
        );
        assert!(u.cpu_seconds >= 0.0);
    }
}

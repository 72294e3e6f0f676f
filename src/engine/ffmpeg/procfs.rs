//! Resource use of the FFmpeg children from Linux procfs.
//!
//! CPU: `utime + stime` of every running child (`/proc/<pid>/stat`) plus `cutime + cstime`
//! of this process (`/proc/self/stat`), which the kernel credits with every child once it
//! has been reaped — so the total covers exited processes too and only grows. The swarm
//! spawns no other children in FFmpeg mode (its probe runs are FFmpeg as well).
//! Memory: RSS (`/proc/<pid>/statm`) and PSS (`/proc/<pid>/smaps_rollup`) of the running
//! children, summed; PSS splits shared library pages between the processes sharing them,
//! so it is the honest per-process cost.

use std::fs;

/// CPU and memory figures of a set of processes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// CPU seconds of running children + reaped children.
    pub cpu_seconds: f64,
    /// RSS of running children, bytes.
    pub rss_bytes: u64,
    /// PSS of running children, bytes (None if not measured this time).
    pub pss_bytes: Option<u64>,
    /// CPU seconds of this process itself.
    pub self_cpu_seconds: f64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
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

/// Resident pages from a `/proc/*/statm` line.
pub fn parse_statm_resident(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

/// The `Pss:` line of `/proc/*/smaps_rollup`, in bytes.
pub fn parse_rollup_pss(rollup: &str) -> Option<u64> {
    let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Measure the running children `pids` (PSS only when `with_pss`, it costs more).
pub fn sample(pids: &[u32], with_pss: bool) -> Usage {
    let hz = clock_ticks();
    let page = page_size();
    let (self_ticks, reaped_ticks) = fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat_cpu(&s))
        .unwrap_or((0, 0));
    let mut live_ticks = 0u64;
    let mut rss = 0u64;
    let mut pss = 0u64;
    for pid in pids {
        if let Some((t, _)) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat_cpu(&s))
        {
            live_ticks += t;
        }
        if let Some(p) = fs::read_to_string(format!("/proc/{pid}/statm"))
            .ok()
            .and_then(|s| parse_statm_resident(&s))
        {
            rss += p * page;
        }
        if with_pss
            && let Some(b) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|s| parse_rollup_pss(&s))
        {
            pss += b;
        }
    }
    Usage {
        cpu_seconds: (live_ticks + reaped_ticks) as f64 / hz,
        rss_bytes: rss,
        pss_bytes: with_pss.then_some(pss),
        self_cpu_seconds: self_ticks as f64 / hz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let stat =
            "1234 (ff mpeg) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 50 7 3 20 0 5 0 100 1000 300";
        assert_eq!(parse_stat_cpu(stat), Some((200, 10)));
    }

    #[test]
    fn parses_statm_and_rollup() {
        assert_eq!(parse_statm_resident("5000 1200 800 10 0 300 0"), Some(1200));
        let rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:   65000 kB\nPss:   12345 kB\nPss_Anon: 4000 kB\n";
        assert_eq!(parse_rollup_pss(rollup), Some(12345 * 1024));
    }

    #[test]
    fn samples_this_process() {
        let me = std::process::id();
        let u = sample(&[me], true);
        assert!(u.rss_bytes > 0);
        assert!(u.pss_bytes.unwrap_or(0) > 0);
        assert!(u.cpu_seconds >= 0.0);
    }
}

//! Facts about the load host that `--check` and the reports show: CPU cores, memory,
//! kernel, open-files limits and the local port range. [`gather`] reads them (the
//! `sysinfo` crate for cores, memory and kernel; the `procfs` crate for this process's
//! limits and the port-range sysctl); [`HostFacts::lines`] formats them and is pure.
//!
//! They are read once (at `--check`, at the start of a run), never per tick. A fact the
//! host does not give is `None` and shown as unknown, never as 0.

use serde::Serialize;

/// What the load host is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// Logical CPUs this process may run on.
    pub cpus: Option<usize>,
    /// Physical cores.
    pub physical_cores: Option<usize>,
    /// Installed memory, bytes.
    pub memory_total_bytes: Option<u64>,
    /// Memory available for new work (MemAvailable), bytes, when read.
    pub memory_available_bytes: Option<u64>,
    /// Kernel release (`uname -r`).
    pub kernel: Option<String>,
    /// Operating system name and version (e.g. `Debian GNU/Linux 12`).
    pub os: Option<String>,
    /// This process's open-files limit (soft) when read; a run raises soft to hard first.
    pub open_files_soft: Option<u64>,
    /// The open-files hard limit.
    pub open_files_hard: Option<u64>,
    /// `net.ipv4.ip_local_port_range`: the ephemeral ports outgoing connections use.
    pub local_port_range: Option<(u16, u16)>,
}

/// Read the facts of this host now.
pub fn gather() -> HostFacts {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let (soft, hard) = open_files_limits();
    HostFacts {
        cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
        physical_cores: System::physical_core_count(),
        memory_total_bytes: Some(sys.total_memory()).filter(|m| *m > 0),
        memory_available_bytes: Some(sys.available_memory()).filter(|m| *m > 0),
        kernel: System::kernel_version(),
        os: System::long_os_version(),
        open_files_soft: soft,
        open_files_hard: hard,
        local_port_range: local_port_range(),
    }
}

fn open_files_limits() -> (Option<u64>, Option<u64>) {
    use ::procfs::process::{LimitValue, Process};
    let Ok(l) = Process::myself().and_then(|p| p.limits()) else {
        return (None, None);
    };
    let v = |x: LimitValue| match x {
        LimitValue::Value(n) => Some(n),
        LimitValue::Unlimited => Some(u64::MAX),
    };
    (
        v(l.max_open_files.soft_limit),
        v(l.max_open_files.hard_limit),
    )
}

fn local_port_range() -> Option<(u16, u16)> {
    // The procfs crate has no typed reader for this sysctl: a plain read.
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    parse_port_range(&text)
}

/// `"32768\t60999\n"` → `(32768, 60999)`.
pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    (lo <= hi).then_some((lo, hi))
}

/// A byte count for people: `23.4 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn limit(n: u64) -> String {
    if n == u64::MAX {
        "unlimited".into()
    } else {
        n.to_string()
    }
}

impl HostFacts {
    /// One `name: value` line per fact, unknown facts said so.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let unknown = || "unknown".to_string();
        let cpus = match (self.cpus, self.physical_cores) {
            (Some(l), Some(p)) => format!("{l} logical, {p} physical"),
            (Some(l), None) => format!("{l} logical"),
            (None, Some(p)) => format!("{p} physical"),
            (None, None) => unknown(),
        };
        let memory = match (self.memory_total_bytes, self.memory_available_bytes) {
            (Some(t), Some(a)) => format!("{} total, {} available", bytes(t), bytes(a)),
            (Some(t), None) => format!("{} total", bytes(t)),
            _ => unknown(),
        };
        let kernel = match (&self.kernel, &self.os) {
            (Some(k), Some(o)) => format!("{k} ({o})"),
            (Some(k), None) => k.clone(),
            _ => unknown(),
        };
        let files = match (self.open_files_soft, self.open_files_hard) {
            (Some(s), Some(h)) => format!("soft {}, hard {}", limit(s), limit(h)),
            _ => unknown(),
        };
        let ports = self.local_port_range.map_or_else(unknown, |(lo, hi)| {
            format!("{lo}-{hi} ({} ports)", u32::from(hi) - u32::from(lo) + 1)
        });
        vec![
            ("cpus", cpus),
            ("memory", memory),
            ("kernel", kernel),
            ("open files", files),
            ("local ports", ports),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_format_known_and_unknown_facts() {
        let f = HostFacts {
            cpus: Some(8),
            physical_cores: Some(4),
            memory_total_bytes: Some(16 * 1024 * 1024 * 1024),
            memory_available_bytes: Some(1536 * 1024 * 1024),
            kernel: Some("6.1.0-18-amd64".into()),
            os: Some("Linux 12 Debian GNU/Linux".into()),
            open_files_soft: Some(1024),
            open_files_hard: Some(u64::MAX),
            local_port_range: Some((32768, 60999)),
        };
        let l = f.lines();
        assert_eq!(l[0], ("cpus", "8 logical, 4 physical".to_string()));
        assert_eq!(l[1].1, "16.0 GiB total, 1.5 GiB available");
        assert_eq!(l[2].1, "6.1.0-18-amd64 (Linux 12 Debian GNU/Linux)");
        assert_eq!(l[3].1, "soft 1024, hard unlimited");
        assert_eq!(l[4].1, "32768-60999 (28232 ports)");
        let none = HostFacts::default().lines();
        assert!(none.iter().all(|(_, v)| v == "unknown"), "{none:?}");
    }

    #[test]
    fn port_range_parsing() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("1024 65535"), Some((1024, 65535)));
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("x"), None);
        assert_eq!(parse_port_range(""), None);
    }

    #[test]
    fn this_host_has_facts() {
        // Ground truth from other sources: the standard library and the getrlimit call.
        let f = gather();
        assert_eq!(
            f.cpus,
            std::thread::available_parallelism().ok().map(|n| n.get())
        );
        assert!(f.memory_total_bytes.is_some_and(|m| m > 0));
        assert!(f.kernel.as_deref().is_some_and(|k| !k.is_empty()));
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct passed.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let as_u64 = |v: libc::rlim_t| {
            if v == libc::RLIM_INFINITY {
                u64::MAX
            } else {
                v
            }
        };
        assert_eq!(f.open_files_soft, Some(as_u64(lim.rlim_cur)));
        assert_eq!(f.open_files_hard, Some(as_u64(lim.rlim_max)));
    }
}

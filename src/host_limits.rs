//! The host's per-process limits a run depends on (open files), read and raised once at
//! start by the run and by `--check`.

/// Raise the soft open-files limit to the hard limit (each viewer holds a few sockets);
/// returns (soft, hard) as they stand afterwards, `None` if the limit cannot be read.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        Some((lim.rlim_cur, lim.rlim_max))
    }
}

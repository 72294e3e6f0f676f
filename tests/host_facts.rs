//! The host facts `--check` prints and the JSON report's `host` object, against what this
//! test reads itself from the kernel (uname, getrlimit, sysconf, the port-range sysctl).
//! Runs the real binary against the built-in origin.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_hls-swarm");

fn hard_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_max == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        lim.rlim_max
    }
}

fn kernel_release() -> String {
    // SAFETY: uname only writes the struct passed; the release is NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        assert_eq!(libc::uname(&mut u), 0);
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

fn phys_memory() -> u64 {
    // SAFETY: sysconf only reads configuration values.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages as u64) * (size as u64)
}

#[test]
fn json_report_host_object_is_this_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let out = Command::new(BIN)
        .args([
            "-metrics",
            "off",
            "-tui=false",
            "-clients",
            "1",
            "-duration",
            "2s",
        ])
        .arg("--output")
        .arg(&json)
        .stdin(Stdio::null())
        .output()
        .expect("run hls-swarm");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    let h = &r["host"];
    assert_eq!(
        h["cpus"].as_u64(),
        std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64),
        "{h}"
    );
    // The run raises its soft limit to the hard one it inherited from this test.
    assert_eq!(h["open_files_hard"].as_u64(), Some(hard_nofile()), "{h}");
    assert_eq!(h["open_files_soft"].as_u64(), Some(hard_nofile()), "{h}");
    assert_eq!(h["kernel"].as_str(), Some(kernel_release().as_str()), "{h}");
    let mem = h["memory_total_bytes"].as_u64().unwrap_or(0) as f64;
    let truth = phys_memory() as f64;
    assert!((mem - truth).abs() <= truth * 0.01, "{mem} vs {truth}");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("port range sysctl");
    let want: Vec<u64> = range
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let got: Vec<u64> = h["local_port_range"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(got, want, "{h}");
}

#[test]
fn check_prints_the_host_facts_first() {
    let out = Command::new(BIN)
        .args(["--check", "-clients", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run hls-swarm --check");
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.find("host:").expect("host section");
    let first_check = text.find('✓').or(text.find('✗')).expect("checks");
    assert!(host < first_check, "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line: {text}"))
            .to_string()
    };
    assert!(line("kernel").contains(&kernel_release()), "{text}");
    let hard = hard_nofile();
    let hard = if hard == u64::MAX {
        "unlimited".to_string()
    } else {
        hard.to_string()
    };
    assert!(
        line("open files").ends_with(&format!("hard {hard}")),
        "{text}"
    );
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    assert!(line("cpus").contains(&format!("{cpus} logical")), "{text}");
}

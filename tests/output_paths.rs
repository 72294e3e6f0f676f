//! `--output` and `--report` write *into* what the path names and never replace it: a
//! device node stays a device, a symlink stays a link (its target gets the report), and a
//! bad path is refused before the first viewer starts. Every node is made by the test in
//! its own temporary directory (no system path is ever a target).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mknod_char(dir: &Path, name: &str, major: u32, minor: u32) -> PathBuf {
    let p = dir.join(name);
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path");
    // SAFETY: mknod on a path inside the test's own temporary directory.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
    p
}

fn swarm(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hls-swarm"));
    cmd.args([
        "-clients",
        "2",
        "-ramp-rate",
        "10",
        "-duration",
        "2s",
        "-metrics",
        "off",
        "-tui=false",
    ])
    .args(args);
    for (flag, p) in paths {
        cmd.arg(flag).arg(p);
    }
    cmd.output().expect("run hls-swarm")
}

fn kind(p: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(p).expect("lstat").file_type()
}

#[test]
fn device_nodes_and_symlinks_are_written_through_not_replaced() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let null = mknod_char(d.path(), "null", 1, 3);
    let real = d.path().join("real.html");
    std::fs::write(&real, "old").expect("write");
    let link = d.path().join("link.html");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");

    let out = swarm(&[], &[("--output", &null), ("--report", &link)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        kind(&null).is_char_device(),
        "--output onto a device must not replace it"
    );
    assert!(kind(&link).is_symlink(), "the link stays a link");
    let html = std::fs::read_to_string(&real).expect("target written");
    assert!(
        html.starts_with("<!doctype html>"),
        "the link's target got the report"
    );
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["link.html", "null", "real.html"],
        "no temporary files left"
    );
}

#[test]
fn a_full_device_is_an_error_and_stays_a_device() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let full = mknod_char(d.path(), "full", 1, 7);
    let json = d.path().join("r.json");
    let out = swarm(
        &[],
        &[("--output", &full), ("--report", &d.path().join("r.html"))],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed write is exit 1: {stderr}"
    );
    assert!(
        stderr.contains("--output"),
        "the error names the flag: {stderr}"
    );
    assert!(kind(&full).is_char_device(), "still a device");
    assert!(!json.exists());
    assert!(
        d.path().join("r.html").exists(),
        "the other report is still written"
    );
}

#[test]
fn output_to_a_link_to_stdout_goes_to_stdout() {
    // What `--output /dev/stdout` does, through a link of the test's own (so a broken
    // build could only ever replace this link, never the system's /dev/stdout).
    let d = tempfile::tempdir().expect("tempdir");
    let stdout_link = d.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout_link).expect("symlink");
    let out = swarm(&[], &[("--output", &stdout_link)]);
    assert!(kind(&stdout_link).is_symlink());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"schema\""),
        "the JSON went to stdout: {stdout}"
    );
    assert!(stdout.contains("run summary"));
}

#[test]
fn a_bad_output_path_is_refused_before_the_run() {
    let d = tempfile::tempdir().expect("tempdir");
    let began = Instant::now();
    let cases: [(&str, PathBuf); 3] = [
        ("--output", d.path().join("no/such/dir/r.json")),
        ("--output", d.path().to_path_buf()),
        ("--output", d.path().join("dangling")),
    ];
    std::os::unix::fs::symlink(d.path().join("nowhere"), d.path().join("dangling"))
        .expect("symlink");
    for (flag, path) in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
            .args([
                "-clients",
                "1",
                "-duration",
                "30s",
                "-metrics",
                "off",
                "-tui=false",
            ])
            .arg(flag)
            .arg(path)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert!(stderr.contains(flag), "{stderr}");
        assert!(out.stdout.is_empty(), "no run, no summary");
    }
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "refused at once, not after a 30 s run"
    );
    assert!(!d.path().join("nowhere").exists(), "nothing created");
}

#[test]
fn a_log_file_fifo_without_reader_is_an_error_not_a_hang() {
    let d = tempfile::tempdir().expect("tempdir");
    let fifo = d.path().join("log.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: mkfifo on a path inside the test's own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args([
            "-clients",
            "1",
            "-duration",
            "2s",
            "-metrics",
            "off",
            "-tui=false",
        ])
        .arg("--log-file")
        .arg(&fifo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let began = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if began.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("hung opening a FIFO without reader");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--log-file"), "{err}");
    assert!(kind(&fifo).is_fifo(), "the FIFO is still a FIFO");
}

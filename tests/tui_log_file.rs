//! `--log-file`: tracing logs go to the file (appended, in `-log-format`), not to stderr,
//! which keeps only the program's own messages.

use std::process::Command;

#[test]
fn logs_go_to_the_log_file_not_stderr() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("swarm.log");
    std::fs::write(&log, "earlier line\n").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args([
            "-v",
            "-tui=false",
            "-metrics",
            "off",
            "-clients",
            "1",
            "-duration",
            "2s",
            "--log-file",
        ])
        .arg(&log)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.starts_with("earlier line\n"),
        "appended, not truncated"
    );
    let logged: serde_json::Value = text
        .lines()
        .nth(1)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("a JSON log line after the old one:\n{text}"));
    assert_eq!(logged["fields"]["message"], "origin listening");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("origin listening"),
        "not on stderr: {stderr}"
    );
    assert!(
        stderr.contains("built-in origin"),
        "own messages stay: {stderr}"
    );
}

//! The namespace lab (tests/lab/run.sh): a real origin (Debian's nginx and the ffmpeg
//! generator rendered from nix/lab.json, plus node and nginx exporters) in its own network
//! namespace at 10.177.0.10, and hls-swarm runs from client namespaces, whose per-kind
//! request counts and bytes must equal nginx's access log. Its shards phase runs the
//! container entrypoint as the 3 pods of an Indexed Job (each in its own namespace),
//! merges their logs with `hls-swarm merge -` and checks the merge against the log.
//!
//! It needs root (network namespaces), so it runs when root and either `CI` is set or
//! `HLS_SWARM_LAB=1`; elsewhere it says why it did nothing. In CI a missing tool fails the
//! test instead of skipping it. The script tears everything down on every exit path.

use std::path::Path;
use std::process::Command;

fn wanted() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let asked = std::env::var("HLS_SWARM_LAB").is_ok_and(|v| v == "1");
    if !root {
        return Err("not root".into());
    }
    if !(ci || asked) {
        return Err("set HLS_SWARM_LAB=1 (or CI) to run it".into());
    }
    Ok(())
}

#[test]
fn namespace_lab_counts_equal_the_nginx_access_log() {
    if let Err(why) = wanted() {
        eprintln!("namespace lab not run: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("tests/lab/run.sh"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_hls-swarm"))
        .current_dir(root)
        .output()
        .expect("run tests/lab/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture, and with the failure message otherwise.
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "namespace lab failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "lab printed no verdict:\n{stdout}"
    );
}

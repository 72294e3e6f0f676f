//! The binary's command line: Go and GNU spellings, flags after the URL, exit 2 naming
//! every bad flag, `-resolve` gated by `--dangerous`, `--version`.

use std::process::{Command, Output};

fn swarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(args)
        .output()
        .expect("run hls-swarm")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_in_both_spellings() {
    for flag in ["--version", "-version"] {
        let o = swarm(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}");
        assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn each_invalid_value_exits_2_naming_its_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["-clients", "abc"], "-clients"),
        (&["--clients", "0"], "-clients"),
        (&["-clients=-3"], "-clients"),
        (&["-ramp-rate", "0"], "-ramp-rate"),
        (&["-ramp-rate", "fast"], "-ramp-rate"),
        (&["-ramp-jitter", "5"], "-ramp-jitter"),
        (&["-duration", "5x"], "-duration"),
        (&["-variant", "best"], "-variant"),
        (&["-timeout", "0"], "-timeout"),
        (&["-seg-retry", "-1"], "-seg-retry"),
        (&["-log-format", "xml"], "-log-format"),
        (&["-header", "no-colon"], "-header"),
        (&["-header-file", "/nonexistent/h"], "-header-file"),
        (&["-client-id-offset", "x"], "-client-id-offset"),
        (&["--slo-max-error-rate", "5"], "--slo-max-error-rate"),
        (
            &["--slo-p95-segment-ttfb", "fast"],
            "--slo-p95-segment-ttfb",
        ),
        (&["--slo-min-active-ratio", "2"], "--slo-min-active-ratio"),
        (&["--slo-max-stalled", "many"], "--slo-max-stalled"),
        (&["--metrics-linger", "15"], "--metrics-linger"),
        (
            &["-metrics", "off", "--metrics-linger", "5s"],
            "--metrics-linger",
        ),
        (&["ftp://example.com/x.m3u8"], "ftp://"),
        (&["-bogus"], "--bogus"),
        (&["-reconnect=maybe"], "reconnect"),
        (&["--viewer-bandwidth", "fast"], "--viewer-bandwidth"),
        (
            &["-viewer-bandwidth", "lognormal:median=8M"],
            "--viewer-bandwidth",
        ),
        (
            &["-engine", "ffmpeg", "--viewer-bandwidth", "8M"],
            "--viewer-bandwidth",
        ),
        (&["--http2", "yes"], "--http2"),
        (&["--http2", ""], "--http2"),
        (&["--ll-hls", "yes"], "--ll-hls"),
        (&["-engine", "ffmpeg", "--ll-hls", "on"], "--ll-hls on"),
        (&["--arrival-rate", "0"], "--arrival-rate"),
        (&["--arrival-rate", "fast"], "--arrival-rate"),
        (&["--session-duration", "30m"], "--session-duration"),
        (
            &["--arrival-rate", "1", "--session-duration", "exp:10m"],
            "--session-duration",
        ),
    ];
    for (args, flag) in cases {
        let o = swarm(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(flag),
            "{args:?} must name {flag}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn all_config_errors_are_reported_together_even_after_the_url() {
    let o = swarm(&[
        "http://example.invalid/x.m3u8",
        "-clients",
        "abc",
        "-duration",
        "soon",
        "-variant",
        "best",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    for flag in ["-clients", "-duration", "-variant"] {
        assert!(e.contains(flag), "missing {flag}: {e}");
    }
}

#[test]
fn resolve_without_dangerous_is_rejected() {
    let o = swarm(&["http://origin.example/x.m3u8", "-resolve", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dangerous"));
    let o = swarm(&[
        "http://origin.example/x.m3u8",
        "-resolve",
        "not-an-ip",
        "--dangerous",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-resolve"));
}

#[test]
fn unreachable_stream_exits_1_with_a_clear_error() {
    // Bind then drop a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/master.m3u8");
    let o = swarm(&[&url, "-clients", "1", "-duration", "2s", "-metrics", "off"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not reachable"), "{}", stderr(&o));
}

#[test]
fn help_lists_exit_codes() {
    let o = swarm(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Exit codes"));
    assert!(out.contains("-clients") || out.contains("--clients"));
}

//! The live TUI in a real terminal: tmux runs the real binary against the built-in origin
//! in a 160×50 pane; `capture-pane` reads the screen and `send-keys` types.
//!
//! Proves: the TUI comes up on its own when stdout is a terminal, every panel is drawn
//! with live, non-zero figures, stderr lands in the log pane (not on the dashboard), `q`
//! and Ctrl+C end the run with exit 0 and the summary printed on the normal screen (the
//! alternate screen is left), the HTML report is written on that path too, and
//! `-tui=false` gives progress lines instead.
//!
//! Needs tmux. Skipped with a loud message only when tmux is missing and `CI` is unset.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own (private socket) running one session; killed on drop, also
/// when an assertion fails.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(name: &str, shell_command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("hls-swarm-test-{}-{name}", std::process::id()),
            session: name.to_string(),
        };
        let out = t.cmd(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "50",
            shell_command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            text(&out.stderr)
        );
        t
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap_or_else(|e| panic!("running tmux: {e}"))
    }

    /// The visible screen.
    fn screen(&self) -> String {
        text(
            &self
                .cmd(&["capture-pane", "-p", "-t", &self.session])
                .stdout,
        )
    }

    /// The screen plus scroll-back.
    fn everything(&self) -> String {
        text(
            &self
                .cmd(&["capture-pane", "-p", "-S", "-500", "-t", &self.session])
                .stdout,
        )
    }

    fn alternate_screen(&self) -> bool {
        let out = self.cmd(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{alternate_on}",
        ]);
        text(&out.stdout).trim() == "1"
    }

    fn send(&self, keys: &str) {
        let out = self.cmd(&["send-keys", "-t", &self.session, keys]);
        assert!(out.status.success(), "send-keys: {}", text(&out.stderr));
    }

    /// Wait until `pred` holds for the visible screen; panics with the screen on timeout.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-session", "-t", &self.session]);
        let _ = self.cmd(&["kill-server"]);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmux_usable() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required in CI (scripts/test.sh installs it)"
        );
        eprintln!("\n!!! SKIPPED: tmux is not installed; the TUI tests did not run !!!\n");
    }
    ok
}

/// `sh -c` command running the binary with `args`, then printing its exit code and
/// keeping the pane open so the screen can be read after it exited.
fn shell(args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_hls-swarm");
    // No metrics endpoint: tests run in parallel and must not race for :17091.
    format!("'{bin}' -metrics off {args}; {AFTER}")
}

/// Shell run after the program: its exit code, then the terminal's line discipline
/// (`icanon echo` once raw mode is undone, `-icanon -echo` if it was left on).
const AFTER: &str = "echo EXIT=$?; \
    echo STTY $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo); \
    sleep 120";

fn assert_restored(tmux: &Tmux, all: &str) {
    assert!(
        !tmux.alternate_screen(),
        "the alternate screen was left:\n{all}"
    );
    assert!(
        all.contains("STTY icanon echo"),
        "raw mode was undone (stty):\n{all}"
    );
}

/// The words after the first `label` on the screen (panels share screen lines, so a
/// line is read from the label on).
fn after(screen: &str, label: &str) -> Vec<String> {
    screen
        .lines()
        .find_map(|l| l.find(label).map(|at| &l[at + label.len()..]))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Requests finished, from the Requests panel's `finished  N requests · …` line.
fn total_requests(screen: &str) -> u64 {
    let words = after(screen, "finished");
    match words.get(1).map(String::as_str) {
        Some("requests") => words[0].parse().unwrap_or(0),
        _ => 0,
    }
}

/// The segment row of the last-30-s latency line has a TTFB figure.
fn segment_latency_shown(screen: &str) -> bool {
    after(screen, "segment 30 s")
        .first()
        .is_some_and(|w| w.ends_with("ms") || w.ends_with("µs") || w.ends_with('s'))
}

fn assert_dashboard(screen: &str, clients: u64) {
    for title in [
        "hls-swarm 0.",
        "Viewers",
        "Requests",
        "Playback",
        "Latency",
        "Errors",
        "Log",
    ] {
        assert!(screen.contains(title), "panel {title} missing:\n{screen}");
    }
    assert!(
        screen.contains("engine native") && screen.contains("stream http://127.0.0.1:"),
        "header shows engine and stream:\n{screen}"
    );
    assert!(
        screen.contains(&format!("{clients} / {clients} active")),
        "all viewers active:\n{screen}"
    );
    assert!(total_requests(screen) > 0, "requests counted:\n{screen}");
    let seg_rate_30s = after(screen, "segment req/s")
        .get(1)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        seg_rate_30s > 0.0,
        "segment rate over 30 s is non-zero:\n{screen}"
    );
    assert!(
        segment_latency_shown(screen),
        "segment latency has figures:\n{screen}"
    );
    let startup = after(screen, "startup");
    assert_eq!(
        startup.first().map(String::as_str),
        Some("p50"),
        "startup percentiles:\n{screen}"
    );
    assert!(
        screen.contains("playing the built-in origin"),
        "stderr is shown in the log pane:\n{screen}"
    );
    assert!(screen.contains("0.00%"), "error rate shown:\n{screen}");
}

fn stop_with(key: &str, expect_reason: &str) {
    if !tmux_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let name = format!("tui-{}", key.to_lowercase().replace('-', ""));
    let tmux = Tmux::start(
        &name,
        &shell(&format!(
            "-clients 3 -ramp-rate 10 -duration 5m --report '{}' --output '{}'",
            report.display(),
            json.display()
        )),
    );
    let screen = tmux.wait_for(
        "the dashboard with all viewers active and figures in",
        Duration::from_secs(30),
        |s| {
            s.contains("3 / 3 active")
                && total_requests(s) > 0
                && segment_latency_shown(s)
                && after(s, "startup").first().map(String::as_str) == Some("p50")
        },
    );
    assert!(
        tmux.alternate_screen(),
        "the TUI draws on the alternate screen"
    );
    assert_dashboard(&screen, 3);
    assert!(!screen.contains("EXIT="), "still running:\n{screen}");

    tmux.send(key);
    let after = tmux.wait_for("the run to end", Duration::from_secs(20), |s| {
        s.contains("STTY")
    });
    let all = tmux.everything();
    assert!(after.contains("EXIT=0"), "exit code 0:\n{all}");
    assert_restored(&tmux, &all);
    assert!(
        all.contains("run summary"),
        "the summary is printed:\n{all}"
    );
    assert!(
        all.contains("Target reached:    yes"),
        "the summary has the run's figures:\n{all}"
    );
    assert!(
        all.contains("playing the built-in origin"),
        "captured stderr is replayed after the TUI:\n{all}"
    );
    assert!(
        !all.contains("Viewers ─") && !all.contains("q, Esc or Ctrl+C"),
        "no dashboard left on the normal screen:\n{all}"
    );
    check_report(&report, expect_reason);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("JSON not written: {e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        json["stop_reason"], "requested",
        "the JSON names the ending"
    );
}

fn check_report(path: &Path, reason: &str) {
    let html = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("report {} not written: {e}", path.display()));
    assert!(html.contains(reason), "stop reason {reason} in the report");
    assert!(html.contains("<svg"), "charts in the report");
}

#[test]
fn q_stops_the_run_prints_the_summary_and_restores_the_terminal() {
    stop_with("q", "stopped by the user");
}

#[test]
fn ctrl_c_stops_the_run_gracefully_too() {
    stop_with("C-c", "stopped by the user");
}

#[test]
fn tui_false_prints_progress_lines_instead() {
    if !tmux_usable() {
        return;
    }
    let tmux = Tmux::start(
        "tui-off",
        &shell("-tui=false -clients 2 -ramp-rate 10 -duration 7s"),
    );
    let screen = tmux.wait_for("a progress line", Duration::from_secs(20), |s| {
        s.contains("viewers 2/2")
    });
    assert!(
        !tmux.alternate_screen(),
        "no alternate screen without the TUI"
    );
    assert!(!screen.contains("Viewers ─"), "no dashboard:\n{screen}");
    let after = tmux.wait_for("the run to end", Duration::from_secs(20), |s| {
        s.contains("STTY")
    });
    let all = tmux.everything();
    assert!(after.contains("EXIT=0"), "exit code 0:\n{all}");
    assert!(
        all.contains("run summary"),
        "the summary is printed:\n{all}"
    );
}

/// Env var that makes `panicking_tui_child` run (it is the program inside the pane).
const CHILD: &str = "HLS_SWARM_TUI_PANIC_CHILD";

/// Not a test of its own: the program `a_panic_restores_the_terminal` runs in a pane. It
/// starts the TUI through the library, lets it draw, then panics.
#[test]
#[ignore = "run by a_panic_restores_the_terminal inside tmux"]
fn panicking_tui_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    use hls_swarm::output::tui::{Tui, TuiParams};
    use hls_swarm::stats::series::SeriesRecorder;
    use std::sync::Arc;
    let cli = hls_swarm::config::cli::parse_from(["hls-swarm", "-clients", "2"])
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = hls_swarm::config::Config::from_args(&cli.run).unwrap_or_else(|e| panic!("{e}"));
    let (_snap_tx, snapshots) = tokio::sync::watch::channel(None);
    let (_info_tx, info) = tokio::sync::watch::channel(None);
    let _tui = Tui::start(TuiParams {
        cfg: Arc::new(cfg),
        snapshots,
        info,
        series: Arc::new(SeriesRecorder::default()),
        stop: tokio_util::sync::CancellationToken::new(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    panic!("deliberate panic while the TUI is up");
}

#[test]
fn a_panic_restores_the_terminal() {
    if !tmux_usable() {
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let tmux = Tmux::start(
        "tui-panic",
        &format!(
            "{CHILD}=1 '{}' --ignored --exact panicking_tui_child --nocapture --test-threads=1; {AFTER}",
            exe.display()
        ),
    );
    tmux.wait_for("the TUI to draw", Duration::from_secs(20), |s| {
        s.contains("waiting for the first tick")
    });
    assert!(tmux.alternate_screen(), "the TUI is up");
    tmux.wait_for("the child to end", Duration::from_secs(20), |s| {
        s.contains("STTY")
    });
    let all = tmux.everything();
    assert!(
        all.contains("EXIT=101"),
        "the child test failed by panicking:\n{all}"
    );
    assert_restored(&tmux, &all);
    assert!(
        all.contains("deliberate panic while the TUI is up"),
        "the panic message is readable on the restored screen:\n{all}"
    );
}

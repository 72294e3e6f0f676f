//! Command-line definition (clap derive) and go-ffmpeg-hls-swarm compatible spelling.
//!
//! The Go tool used Go's `flag` package: `-clients 5` and `--clients 5` are the same flag,
//! booleans take `=false`, and flags may come in any order. clap wants `--long`, so before
//! parsing, [`normalize_args`] rewrites a single-dash long flag (`-clients`, `-tui=false`)
//! into its double-dash form: any single-dash word of two or more characters starting
//! with a letter, so an unknown `-bogus` is reported as `--bogus` rather than as a short
//! `-b`. Short flags (`-v`, `-h`) and negative numbers (`-5s`) pass through untouched.
//!
//! These are the low-level arguments: values are kept as strings here and parsed into the
//! high-level [`crate::config::Config`] (and the origin's configuration), so every invalid
//! value is reported at once (clap stops at the first). The container's environment is
//! mapped to these flags by its entrypoint (nix/swarm-client/entrypoint.sh).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// hls-swarm: simulate N live HLS viewers and measure exactly what they experience.
#[derive(Parser, Debug)]
#[command(
    name = "hls-swarm",
    version,
    about = "Simulate a swarm of live HLS viewers and measure exactly what they experience",
    long_about = None,
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true,
    after_help = "With no URL, a built-in live test origin is started on loopback and the swarm plays it.\n\
                  Flags also work in the Go spelling: -clients 5, -tui=false, flags after the URL.\n\
                  Exit codes: 0 ok, 1 could not run, 2 usage/config error, 3 an SLO failed."
)]
pub struct Cli {
    /// `run` (the default) or `origin`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the default `run` command.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
// Parsed once per process, so the size gap between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a swarm (the default when no subcommand is given).
    Run(RunArgs),
    /// Run only the built-in live test origin.
    Origin(OriginArgs),
    /// Merge the JSON reports of a test's shards into one exact result: the summary, and
    /// --output/--report of the whole test, judged by the --slo-* flags.
    Merge(MergeArgs),
}

/// Flags of `hls-swarm merge`.
#[derive(Args, Debug, Clone, Default)]
pub struct MergeArgs {
    /// JSON reports of the shards (each shard's --output). `-`, or no FILE, reads them from
    /// stdin, one after another (e.g. `kubectl logs … | hls-swarm merge -`); lines before a
    /// report's `{` are skipped.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Write the merged report as JSON to FILE; `-` prints it on stdout as one compact
    /// line, after the summary.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Write the merged report as HTML to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// The objectives the merged result is judged by.
    #[command(flatten)]
    pub slo: SloArgs,
}

/// The `--slo-*` objectives, shared by a run and `hls-swarm merge`.
#[derive(Args, Debug, Clone, Default)]
pub struct SloArgs {
    /// SLO: fail (exit 3) if peak active (playing) viewers < RATIO × target (in a merge,
    /// the shards' peaks summed).
    #[arg(long, value_name = "RATIO")]
    pub slo_min_active_ratio: Option<String>,

    /// SLO: fail if more than N viewers are ever stalled at once (peak; a viewer without
    /// its first media past -startup-timeout is stalled; in a merge, the shards' peaks
    /// summed).
    #[arg(long, value_name = "N")]
    pub slo_max_stalled: Option<String>,

    /// SLO: fail if failed/finished requests exceed RATE (e.g. 0.001).
    #[arg(long, value_name = "RATE")]
    pub slo_max_error_rate: Option<String>,

    /// SLO: fail if the p95 segment TTFB exceeds DURATION (e.g. 500ms).
    #[arg(long = "slo-p95-segment-ttfb", value_name = "DURATION")]
    pub slo_p95_segment_ttfb: Option<String>,
}

/// Flags of a swarm run.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// HLS URL (master or media playlist); several URLs make a many-stream run (viewers
    /// spread over them, see --popularity). Omit to play the built-in origin.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// Read the streams from FILE: one URL per line, optionally followed by whitespace and
    /// a weight (default 1); blank lines and `#` comments are skipped. Adds to the URLs on
    /// the command line (those first, weight 1).
    #[arg(long, value_name = "FILE")]
    pub streams: Option<PathBuf>,

    /// How viewers spread over several streams: `weights` (in proportion to each
    /// stream's weight) or `zipf:S` (the stream of rank r, in the order given, gets weight
    /// 1/r^S). Each viewer's stream is drawn from -seed and its viewer id (the same on
    /// every shard).
    #[arg(long, value_name = "MODEL", default_value = "weights")]
    pub popularity: String,

    /// With several streams: /metrics labels the K streams of largest configured share by
    /// their URL and adds the rest up under stream="other".
    #[arg(long, value_name = "K", default_value = "10")]
    pub metrics_stream_top_k: String,

    /// With no URL: the built-in origin serves N channels (/ch0/ … /ch{N-1}/) and the
    /// swarm's streams are those channels (weights 1, or --popularity zipf:S).
    #[arg(long, value_name = "N")]
    pub origin_channels: Option<String>,

    /// Read the stream URL from FILE (its first non-empty line) instead of the command
    /// line, so a URL carrying a token stays out of this process's argv; output shows it
    /// without user info, query or fragment. (-engine ffmpeg still hands the URL to each
    /// ffmpeg on its command line.)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["urls", "streams"])]
    pub url_file: Option<PathBuf>,

    /// Number of concurrent viewers. With --arrival-rate: the most sessions open at once
    /// (an arrival past it is refused and counted).
    #[arg(long, value_name = "N", default_value = "10")]
    pub clients: String,

    /// Arrival mode: viewers arrive at PER_SEC per second on average (a Poisson process,
    /// drawn from -seed), each stays for --session-duration, then leaves; -clients caps
    /// the sessions open at once, and -ramp-rate/-ramp-jitter do not apply. Default: the
    /// fixed crowd of -clients viewers.
    #[arg(long, value_name = "PER_SEC")]
    pub arrival_rate: Option<String>,

    /// With --arrival-rate: how long each session lasts, drawn per viewer from -seed and
    /// its id: DURATION (fixed), fixed:DURATION, exp:mean=DURATION or
    /// lognormal:median=DURATION,sigma=S. Default: until the run ends.
    #[arg(long, value_name = "MODEL")]
    pub session_duration: Option<String>,

    /// Viewers started per second (fractional allowed, e.g. 0.5).
    #[arg(long, value_name = "PER_SEC", default_value = "5")]
    pub ramp_rate: String,

    /// Symmetric random jitter on each viewer's start (capped at half the ramp interval).
    #[arg(long, value_name = "DURATION", default_value = "200ms")]
    pub ramp_jitter: String,

    /// Run time (30s, 5m, 1h30m); 0 runs until stopped.
    #[arg(long, value_name = "DURATION", default_value = "0")]
    pub duration: String,

    /// Variants each viewer plays: all (every variant, like FFmpeg -map 0), highest, lowest,
    /// first, or abr (adaptive bitrate: one variant at a time, switched at segment
    /// boundaries from the measured throughput and buffer, as hls.js does; native engine).
    #[arg(long, value_name = "CHOICE", default_value = "all")]
    pub variant: String,

    /// With -variant abr: the rung each viewer starts at: lowest, highest, or a rung number
    /// (0 = lowest BANDWIDTH; a number past the top means the top).
    #[arg(long, value_name = "RUNG", default_value = "lowest")]
    pub abr_start_rung: String,

    /// With -variant abr: half-lives of the fast and slow bandwidth averages, in seconds of
    /// download time (hls.js abrEwmaFastLive, abrEwmaSlowLive).
    #[arg(long, value_name = "FAST,SLOW", default_value = "3,9")]
    pub abr_ewma: String,

    /// With no URL: the built-in origin serves LL-HLS with parts of DURATION (a multiple
    /// of 100ms dividing its 2s segments, e.g. 200ms), as `hls-swarm origin
    /// --part-duration`. Off by default (classic HLS).
    #[arg(long, value_name = "DURATION")]
    pub origin_part_duration: Option<String>,

    /// Low-Latency HLS in the native viewer: auto (play LL-HLS when a media playlist
    /// offers CAN-BLOCK-RELOAD=YES and parts, else classic HLS), on (LL-HLS whenever the
    /// playlist lists parts; a stream without parts or a server that does not block falls
    /// back to classic HLS, said once), off (classic HLS always). FFmpeg viewers are
    /// classic-HLS viewers: -engine ffmpeg refuses on.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub ll_hls: String,

    /// Connect to this IP for every request to the stream URL's host (Host and TLS SNI keep
    /// the name). Requires --dangerous.
    #[arg(long, value_name = "IP")]
    pub resolve: Option<String>,

    /// Allow -resolve and disable TLS certificate verification (test setups only).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub dangerous: bool,

    /// HTTP/2 in the native client: auto (TLS: ALPN offers h2 and http/1.1 and the server
    /// picks; plain text stays HTTP/1.1), on (h2 on TLS via ALPN, failing the connection
    /// if the server refuses h2; prior-knowledge h2c on plain text), off (HTTP/1.1 only).
    /// Each viewer multiplexes its concurrent requests over one HTTP/2 connection.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub http2: String,

    /// Send no-cache request headers (Cache-Control: no-cache, Pragma: no-cache).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub no_cache: bool,

    /// Extra request header "Name: value" (repeatable).
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,

    /// File of "Name: value" lines sent with every request; values are treated as secrets
    /// and redacted in all output.
    #[arg(long, value_name = "FILE")]
    pub header_file: Option<PathBuf>,

    /// User-Agent base; each viewer appends /client-<id>. Default hls-swarm/<version>.
    // The text is --help's: its <placeholders> are not HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,

    /// First viewer id of the whole test (with --shard every shard gives the same; without
    /// it, hosts run separately each need their own range).
    #[arg(long, value_name = "N", default_value = "0")]
    pub client_id_offset: String,

    /// Run shard I of N (0-based, I in 0..N) of the test the other flags describe:
    /// -clients and -ramp-rate are the whole test's; this process runs the viewers whose
    /// index i (0..clients) has i mod N = I, with the ids, ramp slots, User-Agents and
    /// seeds the single-host run gives them. Default: the whole test (0/1).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Wait until TIME, then ramp: an RFC 3339 instant (2026-12-06T20:00:00Z) or +DURATION
    /// from now (+30s). Time zero of the ramp and of -duration; a process that starts
    /// late catches up (viewers whose slot has passed start at once) and says how late.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,

    /// Id of the test, shared by all its shards, in every report (A-Z a-z 0-9 . _ -, up to
    /// 64). Default: derived from the test's flags and --start-at when given (shards with
    /// the same flags agree), else random.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,

    /// Per-request timeout (connect, response head and whole body).
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub timeout: String,

    /// Retries of a failed segment before it is skipped.
    #[arg(long, value_name = "N", default_value = "3")]
    pub seg_retry: String,

    /// Largest playlist body read into memory; a larger one is cut off at the limit and
    /// fails as playlist_too_large. Bytes, or with KiB/MiB/GiB (K/M/G).
    #[arg(long, value_name = "SIZE", default_value = "8MiB")]
    pub max_playlist_size: String,

    /// Most tracks (variants plus their audio renditions) one viewer plays; with
    /// -variant all on a bigger multivariant playlist each viewer plays the first N.
    #[arg(long, value_name = "N", default_value = "16")]
    pub max_tracks: String,

    /// Reconnect with backoff after connection errors (-reconnect=false gives up instead).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub reconnect: bool,

    /// Debug logging.
    #[arg(short = 'v', long = "verbose", action = ArgAction::SetTrue)]
    pub verbose: bool,

    /// Log format on stderr: json or text.
    #[arg(long, value_name = "FORMAT", default_value = "json")]
    pub log_format: String,

    /// Check the stream and this host, print a verdict, exit 0 (pass) or 1 (fail).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub check: bool,

    /// Write the end-of-run report as JSON to FILE. `-`: print it on stdout as one compact
    /// line, after the summary, the last line the process prints (for `kubectl logs … |
    /// hls-swarm merge -`).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Service-level objectives (--slo-*).
    #[command(flatten)]
    pub slo: SloArgs,

    /// Stop the run early (exit 3, every report written) once an SLO has failed for good:
    /// at once for a peak that can't recover (--slo-max-stalled); for rates and
    /// percentiles, when failing continuously for --slo-abort-grace, judged only from the
    /// end of the ramp plus that grace.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub slo_abort: bool,

    /// With --slo-abort: the grace after the ramp and how long a rate or percentile SLO
    /// must fail without a break before the run is stopped. Default 30s.
    #[arg(long, value_name = "DURATION")]
    pub slo_abort_grace: Option<String>,

    /// Seed for the ramp jitter and backoff (reproducible runs).
    #[arg(long, value_name = "N", default_value = "1")]
    pub seed: String,

    /// Each viewer's last-mile link, bits per second: RATE for all (8M = 8 Mbit/s;
    /// decimal k/M/G), or a distribution each viewer's rate is drawn from by -seed and its
    /// id: fixed:RATE, lognormal:median=RATE,sigma=S or uniform:min=RATE,max=RATE. The
    /// native engine paces each viewer's body reads to its link. Default: no pacing.
    #[arg(long, value_name = "MODEL")]
    pub viewer_bandwidth: Option<String>,

    /// Prometheus endpoint (/metrics, /healthz, /readyz) listen address, or "off".
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:17091")]
    pub metrics: String,

    /// After the run (reports written), keep serving /metrics with the final values for
    /// DURATION, so Prometheus scrapes them before the process exits; a SIGINT, SIGTERM or
    /// SIGHUP during that time ends it at once. Use at least two scrape intervals. 0 = off.
    #[arg(long, value_name = "DURATION", default_value = "0")]
    pub metrics_linger: String,

    /// Also export per-viewer series (client_id label) for the first 1000 viewers.
    /// Adds 7 series per viewer: mind Prometheus cardinality.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub prom_client_metrics: bool,
    /// Origin host metrics (-origin-metrics, -nginx-metrics, -origin-metrics-host, …).
    #[command(flatten)]
    pub origin_metrics_args: Box<OriginMetricsArgs>,
    /// Live terminal dashboard. Default: on when stdout is a terminal; -tui=false prints
    /// progress lines instead.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub tui: Option<bool>,

    /// Write logs to FILE (appended) instead of stderr or the TUI's log pane.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Write a self-contained HTML report (charts over time and summary tables) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write one JSON line per finished request (start time, viewer, kind, URL path,
    /// status, TTFB, total time, bytes, error class) to FILE, after a header line naming
    /// the run and shard. Written off the viewers' path; lines that do not fit the buffer
    /// are dropped and counted (docs/cli.md, "Request log").
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,

    /// --request-log: lines queued for its writer before new lines are dropped (counted).
    /// Default 65536.
    #[arg(long, value_name = "LINES")]
    pub request_log_buffer: Option<String>,
    /// Viewer engine: native (built-in HLS player) or ffmpeg (one FFmpeg process per viewer,
    /// measured through an in-process proxy; docs/ffmpeg-engine.md).
    #[arg(long, value_name = "ENGINE", default_value = "native")]
    pub engine: String,

    /// FFmpeg binary of -engine ffmpeg (default: `ffmpeg` on PATH).
    #[arg(long = "ffmpeg", value_name = "PATH")]
    pub ffmpeg: Option<String>,

    /// -engine ffmpeg: when the variant probe fails, `fallback` (play the URL with FFmpeg's
    /// own stream choice) or `fail` (exit 1). Default fallback.
    #[arg(long, value_name = "POLICY")]
    pub probe_failure_policy: Option<String>,

    /// A stall longer than this counts for -restart-on-stall; for -engine ffmpeg, output
    /// time not advancing for longer than this is a stall. Default 2 × target duration.
    #[arg(long, value_name = "DURATION")]
    pub stall_threshold: Option<String>,

    /// A viewer still without its first media this long after tuning in counts as
    /// stalled (it cannot play) instead of starting. Default 10s.
    #[arg(long, value_name = "DURATION")]
    pub startup_timeout: Option<String>,

    /// Replace a viewer stalled longer than -stall-threshold (counted as a restart, not a
    /// failure): FFmpeg is killed and respawned; a native viewer re-tunes at the live edge.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub restart_on_stall: bool,

    /// -engine ffmpeg: FFmpeg's log level (quiet, panic, fatal, error, warning, info,
    /// verbose, debug, trace). Default warning for http://, debug for https:// streams.
    #[arg(long, value_name = "LEVEL")]
    pub stats_loglevel: Option<String>,

    /// -engine ffmpeg: stderr lines buffered per FFmpeg between its reader and its parser;
    /// lines beyond it are dropped and counted in the stats drop rate. Default 1000.
    #[arg(long, value_name = "LINES")]
    pub stats_buffer: Option<String>,

    /// -engine ffmpeg: print the exact per-viewer FFmpeg command (shell-quoted, secrets
    /// redacted) and exit 0.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub print_cmd: bool,
}

/// Origin host metrics flags.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Origin metrics")]
pub struct OriginMetricsArgs {
    /// Origin node_exporter metrics URL (e.g. http://origin:9100/metrics): origin CPU,
    /// memory and network in the TUI, summary, JSON and /metrics.
    #[arg(long, value_name = "URL")]
    pub origin_metrics: Option<String>,

    /// Origin nginx exporter metrics URL (e.g. http://origin:9113/metrics): nginx active
    /// connections and request rate.
    #[arg(long, value_name = "URL")]
    pub nginx_metrics: Option<String>,

    /// Origin host: scrape http://HOST:<node port>/metrics and http://HOST:<nginx
    /// port>/metrics (an explicit -origin-metrics / -nginx-metrics URL wins).
    // The text is --help's: its <placeholders> are not HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long, value_name = "HOST")]
    pub origin_metrics_host: Option<String>,

    /// node_exporter port used with -origin-metrics-host [default: 9100].
    #[arg(long, value_name = "PORT")]
    pub origin_metrics_node_port: Option<String>,

    /// nginx exporter port used with -origin-metrics-host [default: 9113].
    #[arg(long, value_name = "PORT")]
    pub origin_metrics_nginx_port: Option<String>,

    /// Time between origin metrics scrapes, 250ms..=60s [default: 2s].
    #[arg(long, value_name = "DURATION")]
    pub origin_metrics_interval: Option<String>,

    /// Trailing window of the origin p50/max figures, 10s..=300s and at least twice the
    /// interval [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub origin_metrics_window: Option<String>,

    /// Interfaces summed for origin network rates, comma-separated, trailing * = prefix
    /// (e.g. eth0,ens*) [default: all but lo and virtual devices].
    #[arg(long, value_name = "LIST")]
    pub origin_metrics_interfaces: Option<String>,
}

/// Flags of the `hls-swarm origin` subcommand.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct OriginArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:17080")]
    pub listen: String,
    /// Variant ladder: comma-separated bitrates in bit/s with optional k/M/G suffix.
    #[arg(long, value_name = "LIST", default_value = "200k,800k,2M")]
    pub variants: String,
    /// Segment duration: a whole number of seconds from 1s to 60s (e.g. 1s, 2s, 6s).
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub segment_duration: String,
    /// Segments per media playlist (1–10000).
    #[arg(long, value_name = "N", default_value = "10")]
    pub window: String,
    /// Serve LL-HLS: cut every segment into parts of DURATION (a multiple of 100ms that
    /// divides the segment duration, e.g. 200ms), with blocking playlist reloads, preload
    /// hints and delta updates. Off by default (classic HLS).
    #[arg(long, value_name = "DURATION")]
    pub part_duration: Option<String>,
    /// Serve audio as a separate EXT-X-MEDIA rendition (/a/…) with video-only variants.
    #[arg(long)]
    pub audio_rendition: bool,
    /// Seed of the fault decisions (same seed + same request order = same faults).
    #[arg(long, value_name = "N", default_value = "1")]
    pub seed: String,
    /// Write a JSON Lines access log to FILE (one line per request).
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    /// Delay before answering requests of KIND (master|playlist|segment|all), e.g.
    /// segment=200ms. Repeatable.
    #[arg(long, value_name = "KIND=DUR")]
    pub fault_delay: Vec<String>,
    /// Send segment bodies at this many bytes per second (k/M/G suffixes allowed).
    #[arg(long, value_name = "BYTES_PER_S")]
    pub fault_body_rate: Option<String>,
    /// Answer requests of KIND with STATUS (400–599) with probability PROB (0–1), e.g.
    /// segment:503:0.05. Repeatable.
    #[arg(long, value_name = "KIND:STATUS:PROB")]
    pub fault_error: Vec<String>,
    /// Answer every request of KIND with STATUS from FROM to FROM+DUR after origin start,
    /// e.g. playlist:503:30s+10s. Repeatable.
    #[arg(long, value_name = "KIND:STATUS:FROM+DUR")]
    pub fault_error_window: Vec<String>,
    /// Reset the connection mid-body for requests of KIND with probability PROB, e.g.
    /// segment:0.01. Repeatable.
    #[arg(long, value_name = "KIND:PROB")]
    pub fault_reset: Vec<String>,
    /// Freeze media playlists from FROM for DUR after origin start, e.g. 20s+8s.
    #[arg(long, value_name = "FROM+DUR")]
    pub fault_freeze: Option<String>,
    /// Publish every part (and segment) due from FROM for DUR after origin start LATE
    /// after its time, e.g. 10s+5s:300ms.
    #[arg(long, value_name = "FROM+DUR:LATE")]
    pub fault_part_late: Option<String>,
    /// Stop publishing parts (and segments) from FROM for DUR after origin start (a stuck
    /// part: blocking reloads waiting for it time out with 503), e.g. 20s+8s.
    #[arg(long, value_name = "FROM+DUR")]
    pub fault_part_stuck: Option<String>,
    /// Ignore LL-HLS delivery directives from FROM for DUR after origin start: a blocking
    /// reload is answered at once with the whole current playlist, as a CDN that drops the
    /// query string does, e.g. 0s+1h.
    #[arg(long, value_name = "FROM+DUR")]
    pub fault_no_block: Option<String>,
    /// Serve the fault API on the origin's listener, to loopback clients only: GET, PUT
    /// (one --fault-* flag per line) or DELETE /control/faults switches faults at runtime.
    #[arg(long)]
    pub fault_api: bool,
    /// Serve N channels: channel c's master playlist is /ch{c}/master.m3u8 (c in
    /// 0..N), every channel the same live content; the plain paths stay channel 0's. The
    /// access log's `channel` says which channel each request was for.
    #[arg(long, value_name = "N", default_value = "1")]
    pub channels: String,
}

/// Rewrite Go-style single-dash long flags (`-clients`, `-tui=false`) to `--clients`.
/// Arguments after a bare `--` are left alone.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, a) in args.into_iter().enumerate() {
        let a: OsString = a.into();
        if i == 0 || passthrough {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            passthrough = true;
            out.push(a);
            continue;
        }
        if let Some(rest) = s.strip_prefix('-')
            && !rest.starts_with('-')
            && rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        {
            let name = rest.split('=').next().unwrap_or(rest);
            if name.len() > 1 {
                out.push(OsString::from(format!("-{s}")));
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// Parse the process arguments (Go spellings accepted).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::try_parse_from(normalize_args(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().copied())
            .into_iter()
            .map(|s| s.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            norm(&[
                "x",
                "-clients",
                "5",
                "-reconnect=false",
                "-v",
                "--duration",
                "1s"
            ]),
            vec![
                "x",
                "--clients",
                "5",
                "--reconnect=false",
                "-v",
                "--duration",
                "1s"
            ]
        );
    }

    #[test]
    fn short_flags_values_and_passthrough_are_untouched() {
        assert_eq!(
            norm(&["x", "-bogus", "-5s", "-v", "--", "-clients"]),
            vec!["x", "--bogus", "-5s", "-v", "--", "-clients"]
        );
    }

    #[test]
    fn flags_after_the_url_and_both_spellings_parse() {
        let cli = parse_from([
            "hls-swarm",
            "http://h/x.m3u8",
            "-clients",
            "7",
            "--ramp-rate=0.5",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cli.run.urls.first().map(String::as_str),
            Some("http://h/x.m3u8")
        );
        assert_eq!(cli.run.clients, "7");
        assert_eq!(cli.run.ramp_rate, "0.5");
    }

    #[test]
    fn bools_take_equals_only() {
        let cli = parse_from(["hls-swarm", "-reconnect=false", "-no-cache", "u"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!cli.run.reconnect);
        assert!(cli.run.no_cache);
        assert_eq!(cli.run.urls.first().map(String::as_str), Some("u"));
    }

    #[test]
    fn tui_is_auto_unless_given() {
        let auto = parse_from(["hls-swarm"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auto.run.tui, None);
        let off = parse_from(["hls-swarm", "-tui=false", "u"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.run.tui, Some(false));
        assert_eq!(off.run.urls.first().map(String::as_str), Some("u"));
        let on = parse_from(["hls-swarm", "-tui", "u"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(on.run.tui, Some(true));
        assert_eq!(
            on.run.urls.first().map(String::as_str),
            Some("u"),
            "a bare -tui never eats the URL"
        );
    }

    #[test]
    fn run_and_origin_subcommands() {
        let cli =
            parse_from(["hls-swarm", "run", "-clients", "3"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cli.command, Some(Command::Run(ref r)) if r.clients == "3"));
        let cli = parse_from(["hls-swarm", "origin"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cli.command, Some(Command::Origin(_))));
    }

    #[test]
    fn unknown_flag_is_an_error_naming_it() {
        let e = parse_from(["hls-swarm", "--bogus"])
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("--bogus"));
    }
}

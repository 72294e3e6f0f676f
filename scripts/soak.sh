#!/usr/bin/env bash
# Soak run: a long swarm against the built-in origin on loopback, with origin faults
# switching on and off, watching the swarm process for leaks (docs/reliability.md, "Soak").
#
# Usage: scripts/soak.sh [--duration 30m] [--viewers 2000] [--bin PATH] [--out DIR]
#                        [--warmup SECONDS] [--fault-period SECONDS] [--interval SECONDS]
#   --duration      swarm run time, as hls-swarm takes it (default 30m)
#   --viewers       concurrent viewers (default 2000)
#   --bin           hls-swarm binary (default: target/release/hls-swarm, built if missing)
#   --out           directory for samples.csv, faults.log, the logs and report.json
#                   (default: a new directory under ${TMPDIR:-/tmp})
#   --warmup        seconds excluded from the growth checks: the ramp (about 30 s) and the
#                   settling after it (default: max(60, duration/6))
#   --fault-period  seconds each fault phase lasts (default 20)
#   --interval      seconds between samples (default 5)
#
# The origin (`hls-swarm origin --fault-api`, 2 variants) and the swarm (`--variant all`,
# ramped in about 30 s) run on 127.0.0.1. Every --fault-period the origin's faults change
# through its fault API, in cycles of four phases: errors+resets → none → delays+slow
# bodies → none. Every --interval the swarm process is sampled: RSS and threads
# (/proc/PID/status), lazily freed pages (LazyFree, /proc/PID/smaps_rollup), open
# descriptors (/proc/PID/fd) and live tokio tasks (its hls_swarm_runtime_tasks metric).
#
# The complete fault cycles after the warm-up (at least 3) are split into thirds, and the
# first third is compared with the last:
#   RSS      in use (RSS − LazyFree: pages freed with MADV_FREE stay in RSS until the
#            kernel reclaims them): lowest sample in the last third ≤ lowest in the
#            first third × 1.05
#   heap     live heap bytes (hls_swarm_heap_live_bytes): the same rule
#   fds      lowest count in the last third ≤ lowest in the first third + max(16, 2 %)
#   tasks    the same, on hls_swarm_runtime_tasks
#   threads  the same, + 2 (tokio's blocking pool may start a thread)
# Descriptors and tasks are not flat from one sample to the next, and need not be: each
# is about one connection (and its driver task) per playing track, plus requests in
# flight (more while the origin is slow), plus the spare keep-alive connections a viewer
# opens when two loads overlap, which age out after 30 s (src/engine/http.rs, up to 4 per
# viewer). Measured: 300 viewers' descriptors swung between 595 and 886 in a 3-minute
# run. The lowest count over whole fault cycles is the steady core without those; a leak
# is what never comes back, so it lifts that floor.
# and the run itself must hold up: the swarm exits 0 and writes its report, every fault
# switch is acknowledged by the origin, the faults show in the report (errors > 0), and
# viewers play (a peak of at least 90 % playing). Exit 0 = pass, 1 = fail, 2 = bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30m
viewers=2000
bin=""
out=""
warmup=""
period=20
interval=5
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
need() { [ $# -ge 2 ] || { echo "soak.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case $1 in
    --duration) need "$@"; duration=$2; shift 2 ;;
    --viewers) need "$@"; viewers=$2; shift 2 ;;
    --bin) need "$@"; bin=$2; shift 2 ;;
    --out) need "$@"; out=$2; shift 2 ;;
    --warmup) need "$@"; warmup=$2; shift 2 ;;
    --fault-period) need "$@"; period=$2; shift 2 ;;
    --interval) need "$@"; interval=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "soak.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
seconds() {
  python3 -c '
import re, sys
s = sys.argv[1]
units = {"h": 3600, "m": 60, "s": 1}
parts = re.fullmatch(r"((\d+)h)?((\d+)m)?((\d+)s)?", s)
if not s or not parts:
    sys.exit(1)
print(int(parts.group(2) or 0) * 3600 + int(parts.group(4) or 0) * 60 + int(parts.group(6) or 0))
' "$1"
}
total=$(seconds "$duration") || { echo "soak.sh: --duration '$duration': expected e.g. 30m, 3m, 90s, 1h30m" >&2; exit 2; }
for v in viewers period interval; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: --${v/period/fault-period} must be a positive whole number" >&2; exit 2; }
done
[ "$total" -ge 60 ] || { echo "soak.sh: --duration must be at least 60s" >&2; exit 2; }
if [ -z "$warmup" ]; then
  warmup=$((total / 6 > 60 ? total / 6 : 60))
fi
if ! [[ $warmup =~ ^[0-9]+$ ]] || [ "$warmup" -ge "$total" ]; then
  echo "soak.sh: --warmup must be a whole number of seconds below the duration" >&2
  exit 2
fi

if [ -z "$bin" ]; then
  bin=target/release/hls-swarm
  [ -x "$bin" ] || cargo build --release --locked
fi
[ -x "$bin" ] || { echo "soak.sh: no executable hls-swarm at '$bin'" >&2; exit 2; }
if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/hls-swarm-soak.XXXXXX")
else
  mkdir -p "$out"
fi
echo "== soak: $viewers viewers for $duration ($total s, warm-up $warmup s, faults switch every $period s); files in $out"

origin_pid=""
swarm_pid=""
toggler_pid=""
cleanup() {
  for p in $toggler_pid $swarm_pid $origin_pid; do
    kill "$p" 2>/dev/null || true
  done
  for p in $toggler_pid $swarm_pid $origin_pid; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# The origin on a free loopback port, with its fault API.
"$bin" origin --listen 127.0.0.1:0 --fault-api --variants 200k,600k --segment-duration 2s \
  >"$out/origin.out" 2>"$out/origin.log" &
origin_pid=$!
for _ in $(seq 100); do
  [ -s "$out/origin.out" ] && break
  sleep 0.1
done
url=$(head -n 1 "$out/origin.out")
[[ $url == http://127.0.0.1:*/master.m3u8 ]] || { echo "soak.sh: origin did not start: $(cat "$out/origin.log")" >&2; exit 1; }
control=${url%/master.m3u8}/control/faults

# The swarm, ramped in about 30 s, metrics on a free loopback port.
ramp=$(((viewers + 29) / 30))
"$bin" "$url" --clients "$viewers" --ramp-rate "$ramp" --duration "$duration" --variant all \
  --metrics 127.0.0.1:0 --tui=false --output "$out/report.json" \
  >"$out/swarm.out" 2>"$out/swarm.log" &
swarm_pid=$!
metrics=""
for _ in $(seq 100); do
  metrics=$(sed -n 's/.*Prometheus metrics on \(http:[^ ]*\).*/\1/p' "$out/swarm.log" | head -n 1)
  [ -n "$metrics" ] && break
  sleep 0.1
done
[ -n "$metrics" ] || { echo "soak.sh: swarm did not start: $(cat "$out/swarm.log")" >&2; exit 1; }
case $metrics in */metrics) ;; *) metrics="$metrics/metrics" ;; esac

# Faults: errors+resets → none → delays+slow bodies → none → …, each phase --fault-period.
phase_a='fault-error=segment:503:0.05
fault-error=playlist:503:0.02
fault-reset=segment:0.02'
phase_b='fault-delay=segment=300ms
fault-delay=playlist=150ms
fault-body-rate=100k'
(
  n=0
  while sleep "$period"; do
    case $((n % 4)) in
      0) what=errors+resets; ok=$(curl -fsS -X PUT --data-binary "$phase_a" "$control" >/dev/null && echo yes || echo no) ;;
      2) what=delays+slow; ok=$(curl -fsS -X PUT --data-binary "$phase_b" "$control" >/dev/null && echo yes || echo no) ;;
      *) what=none; ok=$(curl -fsS -X DELETE "$control" >/dev/null && echo yes || echo no) ;;
    esac
    echo "$(date +%s) $what $ok"
    n=$((n + 1))
  done
) >"$out/faults.log" 2>&1 &
toggler_pid=$!

# Samples until the swarm exits.
echo "epoch,t,rss_kb,lazyfree_kb,fds,threads,tasks,heap_kb" >"$out/samples.csv"
start=$(date +%s)
while kill -0 "$swarm_pid" 2>/dev/null; do
  now=$(date +%s)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$swarm_pid/status" 2>/dev/null || true)
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$swarm_pid/status" 2>/dev/null || true)
  lazy=$(awk '/^LazyFree:/ {print $2}' "/proc/$swarm_pid/smaps_rollup" 2>/dev/null || true)
  fds=$(find "/proc/$swarm_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l || true)
  scrape=$(curl -fsS --max-time 2 "$metrics" 2>/dev/null || true)
  tasks=$(awk '$1 == "hls_swarm_runtime_tasks" {print $2}' <<<"$scrape")
  heap=$(awk '$1 == "hls_swarm_heap_live_bytes" {printf "%d", $2 / 1024}' <<<"$scrape")
  if [ -n "$rss" ] && [ -n "$threads" ]; then
    echo "$now,$((now - start)),$rss,${lazy:-0},$fds,$threads,${tasks:-},${heap:-}" >>"$out/samples.csv"
  fi
  sleep "$interval"
done
status=0
wait "$swarm_pid" || status=$?
swarm_pid=""
kill "$toggler_pid" 2>/dev/null || true
wait "$toggler_pid" 2>/dev/null || true
toggler_pid=""
echo "== swarm exited with $status; $(wc -l <"$out/faults.log") fault switches; $(($(wc -l <"$out/samples.csv") - 1)) samples"

python3 scripts/soak_check.py "$out" "$warmup" "$status" "$viewers"

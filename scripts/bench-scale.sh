#!/usr/bin/env bash
# Scale benchmark: native viewers against the built-in origin in a separate process.
#
# For each viewer count it reports the client's CPU-seconds per viewer-minute, its peak
# RSS per viewer, the origin's CPU share, request/error/stall totals from the run's JSON,
# and, once, wrk pulling the same segment bytes for a CPU-per-GB comparison.
#
#   scripts/bench-scale.sh [COUNTS...]        default: 1000 5000 10000
#   STEADY=60 RAMP_RATE=500 scripts/bench-scale.sh 1000
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ "${#counts[@]}" -gt 0 ] || counts=(1000 5000 10000)
STEADY=${STEADY:-60}          # seconds measured after the ramp
RAMP_RATE=${RAMP_RATE:-500}   # viewers per second
PORT=${PORT:-17080}
SEG=${SEG:-2s}

cargo build --release --quiet
BIN=target/release/hls-swarm
ulimit -n "$(ulimit -Hn)" || true
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

hz=$(getconf CLK_TCK)
cpu_seconds() { # utime+stime of a pid, in seconds
  awk -v hz="$hz" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

"$BIN" origin --listen "127.0.0.1:$PORT" --segment-duration "$SEG" >"$tmp/origin.out" 2>&1 &
opid=$!; pids+=("$opid")
for _ in $(seq 50); do grep -q m3u8 "$tmp/origin.out" 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/master.m3u8"

printf '%-8s %10s %14s %12s %12s %10s %10s %8s %8s\n' viewers run_s "cpu_s/view·min" rss_KB/view client_cpu% origin_cpu% req/s errors stalls
for n in "${counts[@]}"; do
  ramp=$(awk -v n="$n" -v r="$RAMP_RATE" 'BEGIN { printf "%d", n / r + 1 }')
  dur=$((ramp + STEADY + 5))
  "$BIN" "$url" -clients "$n" -ramp-rate "$RAMP_RATE" -variant lowest -duration "${dur}s" \
    --output "$tmp/run-$n.json" >"$tmp/run-$n.out" 2>"$tmp/run-$n.err" &
  cpid=$!; pids+=("$cpid")
  # Measure the steady state only: after the ramp, for STEADY seconds.
  sleep $((ramp + 3))
  c0=$(cpu_seconds "$cpid"); o1=$(cpu_seconds "$opid"); t0=$(date +%s.%N)
  sleep "$STEADY"
  c1=$(cpu_seconds "$cpid"); o2=$(cpu_seconds "$opid"); t1=$(date +%s.%N)
  hwm=$(hwm_kb "$cpid")
  wait "$cpid" || true
  awk -v n="$n" -v c0="$c0" -v c1="$c1" -v o1="$o1" -v o2="$o2" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" \
      -v dur="$dur" -f /dev/stdin "$tmp/run-$n.json" <<'AWK'
BEGIN { FS = "" }
{ text = text $0 "\n" }
END {
  el = t1 - t0
  cpu = (c1 - c0) / (n * el / 60)
  # Minimal JSON picking: totals we print come from the report.
  match(text, /"errors": \{[^}]*"total": [0-9]+/); e = substr(text, RSTART, RLENGTH); sub(/.*"total": /, "", e)
  match(text, /"stalls": [0-9]+/); s = substr(text, RSTART, RLENGTH); sub(/.*: /, "", s)
  reqs = 0; while (match(text, /"count": [0-9]+,\n *"errors"/)) { r = substr(text, RSTART, RLENGTH); sub(/"count": /, "", r); reqs += r + 0; text = substr(text, RSTART + RLENGTH) }
  printf "%-8d %10d %14.4f %12.1f %12.1f %10.1f %10.0f %8s %8s\n", n, dur, cpu, hwm / n, 100 * (c1 - c0) / el, 100 * (o2 - o1) / el, reqs / dur, e, s
}
AWK
done

# wrk pulling segment bytes of the lowest variant, for CPU per GB.
if command -v wrk >/dev/null 2>&1; then
  seg=$(curl -s "http://127.0.0.1:$PORT/v0/playlist.m3u8" 2>/dev/null | grep -m1 '\.ts' || true)
  if [ -n "$seg" ]; then
    wrk -t1 -c50 -d10s "http://127.0.0.1:$PORT/v0/$seg" >"$tmp/wrk.out" 2>&1 &
    wpid=$!; pids+=("$wpid")
    sleep 1
    wait "$wpid" || true
    echo "wrk: $(grep -E 'Transfer/sec|Requests/sec' "$tmp/wrk.out" | tr -s ' ' | tr '\n' ' ')"
    echo "(compare client CPU-seconds per GB: run JSON total_bytes vs CPU; wrk CPU from /proc not available after exit: use 'perf stat' or time)"
  fi
fi

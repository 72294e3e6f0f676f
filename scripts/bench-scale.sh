#!/usr/bin/env bash
# Scale benchmark: native viewers against the built-in origin running as a separate process.
#
# For each viewer count: client CPU-seconds per viewer-minute and CPU share in the steady
# state (after the ramp), client peak RSS per viewer, origin CPU share, CPU-seconds per GB
# received, requests, errors and stalls (from the run's JSON). Then wrk pulls the same
# segment bytes and its CPU per GB is printed for comparison.
#
#   scripts/bench-scale.sh [COUNTS...]            default: 1000 5000 10000
#   STEADY=60 RAMP_RATE=500 scripts/bench-scale.sh 1000
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ "${#counts[@]}" -gt 0 ] || counts=(1000 5000 10000)
STEADY=${STEADY:-60}
RAMP_RATE=${RAMP_RATE:-500}
PORT=${PORT:-17080}
SEG=${SEG:-2s}

cargo build --release --quiet
BIN=$PWD/target/release/hls-swarm
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
start_origin "$BIN" "$PORT" --segment-duration "$SEG"

printf '%-8s %6s %15s %13s %12s %12s %12s %9s %7s %7s\n' \
  viewers run_s cpu_s/view-min rss_KB/view client_core origin_core cpu_s/GB req/s errors stalls
for n in "${counts[@]}"; do
  ramp=$(( (n + RAMP_RATE - 1) / RAMP_RATE ))
  dur=$((ramp + STEADY + 8))
  "$BIN" "$url" -clients "$n" -ramp-rate "$RAMP_RATE" -variant lowest -duration "${dur}s" \
    -log-format text --output "$tmp/run-$n.json" >"$tmp/run-$n.out" 2>"$tmp/run-$n.err" &
  cpid=$!
  pids+=("$cpid")
  sleep $((ramp + 5))
  c0=$(cpu_seconds "$cpid"); o0=$(cpu_seconds "$opid"); t0=$(date +%s.%N)
  sleep "$STEADY"
  c1=$(cpu_seconds "$cpid"); o1=$(cpu_seconds "$opid"); t1=$(date +%s.%N)
  hwm=$(hwm_kb "$cpid")
  sleep 1
  call=$(cpu_seconds "$cpid" 2>/dev/null || echo "$c1")
  wait "$cpid" || true
  python3 - "$tmp/run-$n.json" "$n" "$c0" "$c1" "$o0" "$o1" "$t0" "$t1" "$hwm" "$call" <<'PY'
import json, sys
path, n, c0, c1, o0, o1, t0, t1, hwm, call = sys.argv[1:]
n = int(n); c0, c1, o0, o1, t0, t1, hwm, call = map(float, (c0, c1, o0, o1, t0, t1, hwm, call))
r = json.load(open(path))
el = t1 - t0
reqs = sum(k["count"] for k in r["requests"].values())
gb = r["total_bytes"] / 1e9
print(f"{n:<8d} {r['duration_seconds']:6.0f} {(c1 - c0) / (n * el / 60):15.4f} {hwm / n:13.1f} "
      f"{(c1 - c0) / el:12.3f} {(o1 - o0) / el:12.3f} {call / gb if gb else 0:12.2f} "
      f"{reqs / r['duration_seconds']:9.0f} {r['errors']['total']:7d} {r['playback']['stalls']:7d}")
if r["viewers"]["peak_active"] != n:
    print(f"  WARNING: peak active {r['viewers']['peak_active']} of {n}")
PY
done

if command -v wrk >/dev/null 2>&1; then
  seg=$(python3 - "$PORT" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v0/playlist.m3u8").read().decode()
print([l for l in body.splitlines() if l.endswith(".ts")][-3])
PY
)
  /usr/bin/time -f "%U %S" -o "$tmp/wrk.time" wrk -t1 -c64 -d15s "http://127.0.0.1:$PORT/v0/$seg" >"$tmp/wrk.out" 2>&1 || true
  python3 - "$tmp/wrk.out" "$tmp/wrk.time" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
scale = {"B": 1e-9, "KB": 1.024e-6, "MB": 1.048576e-3, "GB": 1.073741824}
gb = float(m.group(2)) * scale[m.group(3)] if m else 0
print(f"wrk (same segment, 64 keep-alive connections, 15 s): {gb:.2f} GB, {u + s:.2f} CPU-s, "
      f"{(u + s) / gb if gb else 0:.2f} CPU-s/GB")
PY
fi

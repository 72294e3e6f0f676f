#!/usr/bin/env bash
# LL-HLS benchmark: native LL-HLS viewers (blocking reloads, parts, preload hints) against
# the built-in origin serving 200 ms parts, running as a separate process; HTTP/1.1 and
# HTTP/2 (h2c) runs one after the other, side by side in one table.
#
# Per run, over a steady window after the ramp: client CPU (cores), client peak RSS per
# viewer (VmHWM / viewers, the process's fixed base included), origin CPU, request rate,
# the client's wake-up lag p99 (its own queueing delay; a saturated client shows > 20 ms),
# blocking-reload hold p50 and lateness p99, live latency p50, errors, stalls and LL-HLS
# fallbacks (from the run's JSON report).
#
#   scripts/bench-llhls.sh [VIEWERS]              default: 2000
#   STEADY=30 RAMP_RATE=500 PART=200ms SEG=2s scripts/bench-llhls.sh 2000
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-2000}
STEADY=${STEADY:-30}
RAMP_RATE=${RAMP_RATE:-500}
PORT=${PORT:-17280}
SEG=${SEG:-2s}
PART=${PART:-200ms}

cargo build --release --quiet
BIN=$PWD/target/release/hls-swarm
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
start_origin "$BIN" "$PORT" --segment-duration "$SEG" --part-duration "$PART"

printf '%-6s %7s %12s %12s %12s %8s %10s %9s %9s %9s %6s %6s %9s\n' \
  proto viewers client_core rss_KB/view origin_core req/s lag_p99_ms hold_p50 late_p99 latency errors stalls fallbacks
for proto in off on; do
  ramp=$(( (n + RAMP_RATE - 1) / RAMP_RATE ))
  dur=$((ramp + STEADY + 8))
  "$BIN" "$url" -clients "$n" -ramp-rate "$RAMP_RATE" -variant lowest -duration "${dur}s" \
    --ll-hls on --http2 "$proto" -log-format text --output "$tmp/run-$proto.json" \
    >"$tmp/run-$proto.out" 2>"$tmp/run-$proto.err" &
  cpid=$!
  pids+=("$cpid")
  sleep $((ramp + 5))
  c0=$(cpu_seconds "$cpid"); o0=$(cpu_seconds "$opid"); t0=$(date +%s.%N)
  sleep "$STEADY"
  c1=$(cpu_seconds "$cpid"); o1=$(cpu_seconds "$opid"); t1=$(date +%s.%N)
  hwm=$(hwm_kb "$cpid")
  wait "$cpid" || true
  python3 - "$tmp/run-$proto.json" "$proto" "$n" "$c0" "$c1" "$o0" "$o1" "$t0" "$t1" "$hwm" <<'PY'
import json, sys
path, proto, n, c0, c1, o0, o1, t0, t1, hwm = sys.argv[1:]
n = int(n); c0, c1, o0, o1, t0, t1, hwm = map(float, (c0, c1, o0, o1, t0, t1, hwm))
r = json.load(open(path))
el = t1 - t0
reqs = sum(k["count"] for k in r["requests"].values())
b = r["requests"]["blocking"]
lag = (r.get("client") or {}).get("wakeup_lag_seconds", {}).get("p99", float("nan"))
name = "http2" if proto == "on" else "http1"
print(f"{name:<6} {n:7d} {(c1 - c0) / el:12.3f} {hwm / n:12.1f} {(o1 - o0) / el:12.3f} "
      f"{reqs / r['duration_seconds']:8.0f} {lag * 1e3:10.2f} {b['hold_seconds']['p50'] * 1e3:8.1f}ms "
      f"{b['lateness_seconds']['p99'] * 1e3:7.1f}ms {r['playback']['live_latency_seconds']['p50']:8.2f}s "
      f"{r['errors']['total']:6d} {r['playback']['stalls']:6d} {r['playback']['ll_fallbacks']:9d}")
kinds = {k: v["count"] for k, v in r["requests"].items() if v["count"]}
print(f"       requests by kind: {kinds}; peak active {r['viewers']['peak_active']} of {n}")
PY
done

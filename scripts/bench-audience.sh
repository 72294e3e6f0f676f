#!/usr/bin/env bash
# Audience benchmark (issue 10): native viewers who come and go (Poisson arrivals,
# exponential sessions, -clients as the cap), spread over the built-in origin's channels
# by a Zipf popularity, each on its own last-mile link and adapting its bitrate
# (-variant abr). The origin runs as a separate process.
#
# Over a steady window once the open sessions have reached the cap: client CPU (cores),
# client peak RSS per open session (VmHWM / peak open sessions, the process's fixed base
# included), origin CPU, request rate; from the run's JSON: sessions started, ended,
# refused, errors, stalls, ABR switches and the share of media played per rung, and the
# client's wake-up lag p99.
#
#   scripts/bench-audience.sh [CAP]                default: 10000
#   CHANNELS=100 RATE=200 SESSION=exp:mean=60s LINK=lognormal:median=3M,sigma=0.8 \
#     RUN=200 WINDOW=60 scripts/bench-audience.sh 10000
#   LINK= (empty) leaves the links unpaced. BIN=path runs a given build.
#   TUNED=1 (root): run client and origin inside a new network namespace with the load
#   hosts' TCP settings (modules/load-tuning.nix: ports 1024-65535, TIME_WAIT reuse), so
#   10,000 connections and a connection churn of RATE/s do not crowd the kernel's
#   ephemeral-port search as they do under Debian's defaults.
#
# Also reported: the live heap per open session (hls_swarm_heap_live_bytes, scraped at
# the window's end: the program's own memory, without the allocator's cache), bytes per
# second, and client CPU per GB and per request.
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${TUNED:-}" ] && [ -z "${BENCH_NETNS:-}" ]; then
  ns="hs-bench-$$"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
  status=0
  ip netns exec "$ns" env BENCH_NETNS="$ns" "$0" "$@" || status=$?
  exit "$status"
fi

cap=${1:-10000}
CHANNELS=${CHANNELS:-100}
RATE=${RATE:-$((cap / 50))}
SESSION=${SESSION:-exp:mean=60s}
LINK=${LINK-lognormal:median=3M,sigma=0.8}
RUN=${RUN:-200}
WINDOW=${WINDOW:-60}
PORT=${PORT:-17380}

# BIN=path runs that binary instead of building this checkout (to compare two builds).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/hls-swarm
fi
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
start_origin "$BIN" "$PORT" --segment-duration 2s --channels "$CHANNELS"
for c in $(seq 1 $((CHANNELS - 1))); do
  echo "http://127.0.0.1:$PORT/ch$c/master.m3u8"
done >"$tmp/channels.txt"

link_args=()
[ -z "$LINK" ] || link_args=(--viewer-bandwidth "$LINK")
"$BIN" "$url" --streams "$tmp/channels.txt" --popularity zipf:1 -variant abr \
  --arrival-rate "$RATE" --session-duration "$SESSION" -clients "$cap" "${link_args[@]}" \
  -duration "${RUN}s" -metrics "127.0.0.1:$((PORT + 1))" -log-format text --output "$tmp/run.json" \
  >"$tmp/run.out" 2>"$tmp/run.err" &
cpid=$!
pids+=("$cpid")
sleep $((RUN - WINDOW - 10))
c0=$(cpu_seconds "$cpid"); o0=$(cpu_seconds "$opid"); t0=$(date +%s.%N)
sleep "$WINDOW"
c1=$(cpu_seconds "$cpid"); o1=$(cpu_seconds "$opid"); t1=$(date +%s.%N)
hwm=$(hwm_kb "$cpid")
heap=$(curl -sf "http://127.0.0.1:$((PORT + 1))/metrics" | awk '/^hls_swarm_heap_live_bytes / { print $2 }')
wait "$cpid" || true
echo "cap $cap, $CHANNELS channels (zipf:1), arrivals $RATE/s, sessions $SESSION, links ${LINK:-unpaced}, ${RUN} s run, ${WINDOW} s window${BENCH_NETNS:+, tuned namespace}"
python3 - "$tmp/run.json" "$c0" "$c1" "$o0" "$o1" "$t0" "$t1" "$hwm" "${heap:-nan}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c0, c1, o0, o1, t0, t1, hwm, heap = map(float, sys.argv[2:])
el = t1 - t0
s = r["sessions"]
abr = r["playback"]["abr"] or {}
rungs = abr.get("rung_seconds") or []
total = sum(rungs) or 1.0
share = " ".join(f"{x / total:.0%}" for x in rungs)
reqs = sum(k["count"] for k in r["requests"].values())
lag = (r.get("client") or {}).get("wakeup_lag_seconds", {}).get("p99", float("nan"))
cores = (c1 - c0) / el
rate = reqs / r["duration_seconds"]
bps = r["total_bytes"] / r["duration_seconds"]
peak = max(s["peak_open"], 1)
print(f"client {cores:.3f} cores, peak RSS {hwm / 1024:.0f} MB = {hwm / peak:.1f} KB per open session, "
      f"live heap {heap / 1024 / peak:.1f} KB per open session; origin {(o1 - o0) / el:.3f} cores")
print(f"{rate:.0f} req/s, {bps / 1e6:.0f} MB/s; client {cores / (bps / 1e9):.2f} CPU-s per GB, "
      f"{cores / rate * 1e6:.0f} us CPU per request; wake-up lag p99 {lag * 1e3:.1f} ms")
print(f"sessions: started {s['started']}, ended {s['ended']}, censored {s['censored']}, refused {s['refused']}, "
      f"peak open {s['peak_open']} of {s['cap']}; errors {r['errors']['total']}, stalls {r['playback']['stalls']}")
print(f"ABR: switches up {abr.get('switches_up')}, down {abr.get('switches_down')}; media per rung (lowest first): {share}")
PY

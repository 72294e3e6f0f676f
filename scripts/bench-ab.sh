#!/usr/bin/env bash
# Side-by-side A/B of two hls-swarm binaries: both run N native viewers against one
# built-in origin in the same window, so machine noise hits both alike. Prints each
# client's CPU (cores) over the steady window and the ratio B/A, open descriptors, peak
# RSS, and from each run's JSON the bytes, requests, errors, stalls and segment TTFB.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY [VIEWERS] [STEADY_SECONDS]
#   e.g. git stash; cargo build --release; cp target/release/hls-swarm /tmp/old; git stash pop
#        cargo build --release; scripts/bench-ab.sh /tmp/old target/release/hls-swarm 3000 30
#   A_ARGS / B_ARGS: extra flags of side A / B (@TMP@ is the run's temporary folder), e.g.
#   one binary with and without a flag:
#        B_ARGS='--request-log @TMP@/B.ndjson' scripts/bench-ab.sh BIN BIN 2000 30
#   ORIGIN_CHANNELS=N: the origin serves N channels; @CHANNELS_FILE@ in A_ARGS / B_ARGS is
#   a --streams file of channels 1..N-1 (the URL both sides get is channel 0), e.g. B
#   playing 100 channels against A playing one:
#        ORIGIN_CHANNELS=100 B_ARGS='--streams @CHANNELS_FILE@ --popularity zipf:1' \
#          scripts/bench-ab.sh BIN BIN 2000 30
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,18p' "$0"; exit 2; }
A=$1; B=$2; N=${3:-3000}; STEADY=${4:-30}
PORT=${PORT:-17190}; RAMP_RATE=${RAMP_RATE:-500}
ORIGIN=${ORIGIN:-$B}
# shellcheck source=scripts/bench-common.sh
. "$(dirname "$0")/bench-common.sh"

channels=${ORIGIN_CHANNELS:-1}
origin_args=()
if [ "$channels" -gt 1 ]; then
  origin_args=(--channels "$channels")
  for c in $(seq 1 $((channels - 1))); do
    echo "http://127.0.0.1:$PORT/ch$c/master.m3u8"
  done >"$tmp/channels.txt"
fi
start_origin "$ORIGIN" "$PORT" --segment-duration 2s "${origin_args[@]}"
ramp=$(( (N + RAMP_RATE - 1) / RAMP_RATE )); dur=$((ramp + STEADY + 10))
declare -A pid
for x in A B; do
  extra_var=${x}_ARGS
  extra=${!extra_var:-}
  extra=${extra//@CHANNELS_FILE@/$tmp/channels.txt}
  # shellcheck disable=SC2086 # the extra flags are words on purpose
  "${!x}" "$url" -clients "$N" -ramp-rate "$RAMP_RATE" \
    -variant lowest -duration "${dur}s" -metrics off -log-format text \
    --output "$tmp/$x.json" ${extra//@TMP@/$tmp} >"$tmp/$x.out" 2>"$tmp/$x.err" &
  pid[$x]=$!
  pids+=($!)
done
sleep $((ramp + 5))
a0=$(cpu_seconds "${pid[A]}"); b0=$(cpu_seconds "${pid[B]}"); t0=$(date +%s.%N)
sleep "$STEADY"
a1=$(cpu_seconds "${pid[A]}"); b1=$(cpu_seconds "${pid[B]}"); t1=$(date +%s.%N)
for x in A B; do
  p=${pid[$x]}
  echo "$x: $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 | wc -l) open fds, peak RSS $(hwm_kb "$p") KB"
done
wait "${pid[A]}" "${pid[B]}" || true
python3 - "$tmp" "$N" "$a0" "$a1" "$b0" "$b1" "$t0" "$t1" <<'PY'
import json, sys
tmp, n = sys.argv[1], int(sys.argv[2])
a0, a1, b0, b1, t0, t1 = map(float, sys.argv[3:])
el = t1 - t0
a, b = (a1 - a0) / el, (b1 - b0) / el
print(f"{n} viewers each, {el:.0f} s steady: cores A {a:.3f}  B {b:.3f}  B/A {b / a:.3f}")
for x in "AB":
    r = json.load(open(f"{tmp}/{x}.json"))
    seg = r["requests"]["segment"]["ttfb_seconds"]
    print(f"{x}: {r['total_bytes']} bytes, {sum(k['count'] for k in r['requests'].values())} requests, "
          f"{r['errors']['total']} errors, {r['playback']['stalls']} stalls, peak active "
          f"{r['viewers']['peak_active']}, segment TTFB p50 {seg['p50'] * 1e3:.2f} ms p99 {seg['p99'] * 1e3:.2f} ms")
    pr = r.get("protocols")
    if pr:
        print(f"{x}: requests http1 {pr['requests']['http1']} http2 {pr['requests']['http2']}, "
              f"connections opened http1 {pr['connections']['http1']} http2 {pr['connections']['http2']}")
    log = r.get("request_log")
    if log:
        print(f"{x}: request log {log['lines_written']} lines written, {log['lines_dropped']} dropped, "
              f"{log['lines_failed']} failed")
PY

#!/usr/bin/env bash
# FFmpeg engine benchmark: N FFmpeg viewers and N native viewers on the same stream at the
# same time (two swarm processes against one built-in origin process), measured over a
# steady window after the ramp:
#   - native: the swarm process's CPU and PSS, per viewer;
#   - ffmpeg: its FFmpeg children's CPU and PSS (summed from /proc), per viewer, and the
#     swarm process's own CPU (proxy, parsing, supervision) as a share of its children's.
#
#   scripts/bench-ffmpeg.sh                 200 + 200 viewers, 60 s steady window
#   N=100 STEADY=30 scripts/bench-ffmpeg.sh
#   REAL=1 scripts/bench-ffmpeg.sh          a realistic stream instead of the built-in
#                                           origin's tiny test picture: 720p30 H.264
#                                           3 Mbit/s + AAC, encoded once with FFmpeg and
#                                           served live by nginx (sliding 2 s segments)
#
# Traffic stays on 127.0.0.1. Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
STEADY=${STEADY:-60}          # seconds measured after the ramp
RAMP_RATE=${RAMP_RATE:-20}    # viewers per second, per swarm
PORT=${PORT:-17089}
SEG=${SEG:-2s}

command -v ffmpeg >/dev/null || { echo "ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/hls-swarm
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
children() { # ffmpeg children of $1
  for s in /proc/[0-9]*/stat; do
    awk -v p="$1" '{ c = $2; if ($4 == p && c == "(ffmpeg)") print $1 }' "$s" 2>/dev/null || true
  done
}
sum_ticks() { local t=0; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo "$t"; }
sum_pss() { local t=0; for p in "$@"; do t=$((t + $(pss_kb "$p"))); done; echo "$t"; }

ramp=$(( N / RAMP_RATE + 1 ))
settle=10
dur=$(( ramp + settle + STEADY + 5 ))

if [ "${REAL:-0}" = 1 ]; then
  command -v nginx >/dev/null || { echo "REAL=1 needs nginx" >&2; exit 1; }
  media=target/bench-media
  secs=$(( dur + 40 ))
  if [ ! -f "$media/done-$secs" ]; then
    echo "== encoding ${secs} s of 720p30 H.264 3 Mbit/s + AAC (once)"
    rm -rf "$media"; mkdir -p "$media"
    ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 \
      -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$secs" \
      -c:v libx264 -preset ultrafast -b:v 3M -maxrate 3M -bufsize 6M -g 60 -keyint_min 60 \
      -sc_threshold 0 -c:a aac -b:a 128k -f hls -hls_time 2 -hls_list_size 0 \
      -hls_segment_filename "$media/seg%05d.ts" "$media/vod.m3u8"
    touch "$media/done-$secs"
  fi
  chmod -R a+rX "$media"
  cat >"$tmp/nginx.conf" <<NGINX
daemon off; worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server { listen 127.0.0.1:$PORT; root $(pwd)/$media; } }
NGINX
  nginx -c "$tmp/nginx.conf" &
  opid=$!; pids+=("$opid")
  # Slide a 6-segment live window over the encoded segments in real time.
  python3 - "$media" <<'PY' &
import os, sys, time
d = sys.argv[1]
segs = [l for l in open(os.path.join(d, "vod.m3u8")).read().splitlines() if l.endswith(".ts")]
t0 = time.time()
while True:
    edge = 6 + int((time.time() - t0) / 2)
    if edge > len(segs):
        break
    first = edge - 6
    body = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n" % first
    body += "".join("#EXTINF:2.000000,\n%s\n" % s for s in segs[first:edge])
    tmp = os.path.join(d, ".live.m3u8")
    open(tmp, "w").write(body)
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(d, "live.m3u8"))
    time.sleep(0.2)
PY
  pids+=("$!")
  sleep 1
  url="http://127.0.0.1:$PORT/live.m3u8"
else
  start_origin "$BIN" "$PORT" --segment-duration "$SEG"
fi
common=("$url" -clients "$N" -ramp-rate "$RAMP_RATE" -variant lowest -duration "${dur}s" -log-format text -metrics off)
"$BIN" "${common[@]}" -engine ffmpeg --output "$tmp/ffmpeg.json" >"$tmp/ffmpeg.out" 2>"$tmp/ffmpeg.err" &
fpid=$!; pids+=("$fpid")
"$BIN" "${common[@]}" -client-id-offset 100000 --output "$tmp/native.json" >"$tmp/native.out" 2>"$tmp/native.err" &
npid=$!; pids+=("$npid")

sleep $(( ramp + settle ))
mapfile -t kids < <(children "$fpid")
f0=$(ticks "$fpid"); n0=$(ticks "$npid"); k0=$(sum_ticks "${kids[@]}"); o0=$(ticks "$opid"); t0=$(date +%s.%N)
sleep "$STEADY"
f1=$(ticks "$fpid"); n1=$(ticks "$npid"); k1=$(sum_ticks "${kids[@]}"); o1=$(ticks "$opid"); t1=$(date +%s.%N)
kpss=$(sum_pss "${kids[@]}"); npss=$(pss_kb "$npid"); fpss=$(pss_kb "$fpid")
for p in "$fpid" "$npid"; do
  [ -e "/proc/$p" ] || echo "WARNING: swarm $p ended before the window closed" >&2
done
alive=0; for p in "${kids[@]}"; do [ -e "/proc/$p" ] && alive=$((alive + 1)); done
wait "$fpid" || true
wait "$npid" || true

awk -v n="$N" -v k="${#kids[@]}" -v alive="$alive" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
    -v f0="$f0" -v f1="$f1" -v n0="$n0" -v n1="$n1" -v k0="$k0" -v k1="$k1" -v o0="$o0" -v o1="$o1" \
    -v kpss="$kpss" -v npss="$npss" -v fpss="$fpss" 'BEGIN {
  el = t1 - t0
  kc = (k1 - k0) / hz; fc = (f1 - f0) / hz; nc = (n1 - n0) / hz; oc = (o1 - o0) / hz
  printf "steady window %.0f s; %d FFmpeg children measured (%d still alive at the end of the window)\n", el, k, alive
  printf "%-8s %8s %16s %16s %22s\n", "engine", "viewers", "CPU %/viewer", "PSS MB/viewer", "swarm process"
  printf "%-8s %8d %16.3f %16.2f %14.1f%% CPU, %.0f MB PSS\n", "native", n, 100 * nc / el / n, npss / 1024 / n, 100 * nc / el, npss / 1024
  printf "%-8s %8d %16.3f %16.2f %14.1f%% CPU, %.0f MB PSS\n", "ffmpeg", n, 100 * (kc + fc) / el / n, (kpss + fpss) / 1024 / n, 100 * fc / el, fpss / 1024
  printf "ffmpeg children: %.1f%% CPU total (%.3f%%/process), PSS %.1f MB/process\n", 100 * kc / el, 100 * kc / el / k, kpss / 1024 / k
  printf "swarm own CPU / FFmpeg children CPU: %.2f%% (target < 5%%)\n", 100 * fc / kc
  printf "origin: %.1f%% CPU\n", 100 * oc / el
}'
for e in ffmpeg native; do
  python3 - "$tmp/$e.json" "$e" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
req = sum(v["count"] for v in r["requests"].values())
seg = r["requests"]["segment"]
line = (f"{sys.argv[2]:7}: {req} requests, {r['errors']['total']} errors, {r['playback']['stalls']} stalls, "
        f"segment TTFB p50 {seg['ttfb_seconds']['p50']*1e3:.2f} ms p99 {seg['ttfb_seconds']['p99']*1e3:.2f} ms, "
        f"peak active {r['viewers']['peak_active']}, drop rate {r['stats_pipeline']['drop_rate']:.4f}")
f = r.get("ffmpeg")
if f:
    line += (f"; run totals: FFmpeg CPU {f['cpu_seconds_total']:.1f} s, swarm CPU {f['swarm_cpu_seconds']:.1f} s, "
             f"PSS peak {f['memory_pss_peak_bytes']/2**20:.0f} MB over {f['processes_at_pss_peak']} processes")
print(line)
PY
done

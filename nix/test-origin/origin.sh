#!/usr/bin/env bash
# The test origin's supervisor, shared by `nix run .#test-origin*` (runner.nix) and the
# origin image (container.nix): runs the ffmpeg generator and nginx from rendered files,
# optionally both exporters, until a signal or until any of them exits; everything it
# started is stopped by PID on every exit path. CI runs it for real (scripts/lab-checks.sh).
#
# Environment:
#   HLS_ORIGIN_NGINX_CONF    rendered nginx.conf (nix/lib nginxConf)        required
#   HLS_ORIGIN_FFMPEG_ARGS   file with the generator's argv, one per line   required
#   HLS_ORIGIN_PREFIX        nginx prefix holding hls/ logs/ run/; default: a new directory
#                            under $XDG_RUNTIME_DIR (or $TMPDIR), removed at exit
#   HLS_ORIGIN_URL           the URL to print once nginx answers
#   HLS_ORIGIN_PORT          nginx's port, for the health wait (default 17080)
#   HLS_ORIGIN_EXPORTERS     1: also run node_exporter and the nginx exporter
#   HLS_ORIGIN_NODE_EXPORTER, HLS_ORIGIN_NGINX_EXPORTER   their commands
#                            (default node_exporter, nginx-prometheus-exporter)
#   HLS_ORIGIN_NODE_PORT, HLS_ORIGIN_NGINX_EXPORTER_PORT  (default 9100, 9113)
#   HLS_ORIGIN_COLLECTORS    node_exporter collectors, space-separated
#   HLS_ORIGIN_LOG_MAX_BYTES the access log is renamed to access.log.1 (replacing the
#                            previous one) once larger than this, and nginx reopens it
#                            (default 67108864: the log takes at most about twice that)
#   HLS_ORIGIN_LOG_CHECK_SECONDS  how often its size is looked at (default 10)
set -euo pipefail

conf=${HLS_ORIGIN_NGINX_CONF:?set HLS_ORIGIN_NGINX_CONF}
args_file=${HLS_ORIGIN_FFMPEG_ARGS:?set HLS_ORIGIN_FFMPEG_ARGS}
port=${HLS_ORIGIN_PORT:-17080}
mapfile -t ffmpeg_args <"$args_file"

own_prefix=0
prefix=${HLS_ORIGIN_PREFIX:-}
if [ -z "$prefix" ]; then
  prefix=$(mktemp -d "${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/hls-origin.XXXXXX")
  own_prefix=1
fi
mkdir -p "$prefix/hls" "$prefix/logs" "$prefix/run"
# A new stream: files of an earlier one would confuse the generator's numbering.
find "$prefix/hls" -mindepth 1 -delete

pids=()
# shellcheck disable=SC2317 # reached through the traps below
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${rotator:-}" ]; then
    kill -TERM "$rotator" 2>/dev/null || true
    wait "$rotator" 2>/dev/null || true
  fi
  if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  [ "$own_prefix" -eq 0 ] || rm -rf "$prefix"
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$prefix/hls" && exec ffmpeg "${ffmpeg_args[@]}") 2>"$prefix/logs/generator.log" &
pids+=("$!")
nginx -c "$conf" -p "$prefix/" -e stderr &
pids+=("$!")

# The access log is bounded (the container's and the runner's directories may be in RAM):
# renamed by size, then nginx (its master: the second PID) reopens it on USR1.
log_max=${HLS_ORIGIN_LOG_MAX_BYTES:-67108864}
log_every=${HLS_ORIGIN_LOG_CHECK_SECONDS:-10}
nginx_pid=${pids[1]}
(
  # The sleep runs in the background so that TERM ends this loop at once, sleep included.
  sleeper=""
  trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$log_every" &
    sleeper=$!
    wait "$sleeper" || true
    size=$(stat -c %s "$prefix/logs/access.log" 2>/dev/null || echo 0)
    if [ "$size" -gt "$log_max" ]; then
      mv -f "$prefix/logs/access.log" "$prefix/logs/access.log.1"
      kill -USR1 "$nginx_pid" 2>/dev/null || exit 0
    fi
  done
) &
rotator=$!

healthy=0
for _ in $(seq 40); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.25
done
[ "$healthy" -eq 1 ] || echo "hls-origin: nginx does not answer on 127.0.0.1:$port yet" >&2

if [ "${HLS_ORIGIN_EXPORTERS:-0}" = 1 ]; then
  read -r -a collectors <<<"${HLS_ORIGIN_COLLECTORS:-}"
  "${HLS_ORIGIN_NODE_EXPORTER:-node_exporter}" "--web.listen-address=:${HLS_ORIGIN_NODE_PORT:-9100}" \
    --collector.disable-defaults "${collectors[@]/#/--collector.}" 2>"$prefix/logs/node-exporter.log" &
  pids+=("$!")
  "${HLS_ORIGIN_NGINX_EXPORTER:-nginx-prometheus-exporter}" \
    "--nginx.scrape-uri=http://127.0.0.1:$port/nginx_status" \
    "--web.listen-address=:${HLS_ORIGIN_NGINX_EXPORTER_PORT:-9113}" 2>"$prefix/logs/nginx-exporter.log" &
  pids+=("$!")
fi

echo "hls-origin: ${HLS_ORIGIN_URL:-http://127.0.0.1:$port/}"
echo "  files $prefix/hls, access log $prefix/logs/access.log, generator log $prefix/logs/generator.log"

set +e
wait -n "${pids[@]}"
set -e
echo "hls-origin: a process exited; stopping (generator log follows)" >&2
tail -n 20 "$prefix/logs/generator.log" >&2 || true
exit 1

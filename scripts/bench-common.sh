# Sourced by the bench-*.sh scripts: the start-up they share. Not run on its own.
#
# After `. scripts/bench-common.sh`: the open-files limit is raised to the hard limit;
# $tmp is a fresh directory (removed on exit unless KEEP is set); every PID added to
# `pids` is killed on exit; cpu_seconds PID and hwm_kb PID read a process's CPU time
# (user + system, seconds) and peak RSS (KB); start_origin BIN PORT [ARGS...] starts the
# built-in origin on 127.0.0.1:PORT, waits for its master URL, and sets $opid and $url.
# shellcheck shell=bash

ulimit -n "$(ulimit -Hn)" || true
tmp=$(mktemp -d)
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "outputs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap bench_cleanup EXIT

hz=$(getconf CLK_TCK)
cpu_seconds() { awk -v hz="$hz" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

start_origin() {
  local bin=$1 port=$2
  shift 2
  "$bin" origin --listen "127.0.0.1:$port" "$@" >"$tmp/origin.out" 2>&1 &
  opid=$!
  pids+=("$opid")
  for _ in $(seq 100); do grep -q m3u8 "$tmp/origin.out" 2>/dev/null && break; sleep 0.1; done
  # Read by the sourcing script.
  # shellcheck disable=SC2034
  url="http://127.0.0.1:$port/master.m3u8"
}

# shellcheck shell=bash
# The namespace lab's building blocks, sourced by tests/lab/run.sh and tests/lab/down.sh.
#
# Topology (values from nix/lab.json, the same as the MicroVM lab):
#
#   <id>-br      bridge hlsbr0 10.177.0.1/24 (stands in for the VM host's bridge)
#   <id>-origin  eth0 10.177.0.10  nginx :17080, node_exporter :9100, nginx exporter :9113
#   <id>-c1      eth0 10.177.0.21  hls-swarm (native viewers)
#   <id>-c2      eth0 10.177.0.22  hls-swarm (FFmpeg viewers)
#   <id>-p0..p2  eth0 10.177.0.51-53  the shards phase's pods (container entrypoint);
#                above the client VMs' range (.21-.40), the lab's own
#
# Every 10.177.0.x address lives only inside these namespaces; the root namespace gets
# none and there is no route out, so lab traffic never leaves them.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_JSON="$LAB_ROOT/nix/lab.json"
LAB_NS_PREFIX="hlslab"

lab_json() { jq -r "$1" "$LAB_JSON"; }

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Names of this run's namespaces: hlslab<PID>-<role>.
lab_ns() { printf '%s%s-%s' "$LAB_NS_PREFIX" "$LAB_ID" "$1"; }

# Is PID a live process (a zombie is not)?
lab_alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Where a run keeps its files: a tmpfs when there is one, named after the run's PID.
lab_work_parent() { if [ -w /dev/shm ]; then echo /dev/shm; else echo "${TMPDIR:-/tmp}"; fi; }

# Delete namespaces and work directories of earlier runs whose process is gone (a run
# killed with SIGKILL cannot clean up after itself). `lab_sweep all` takes every one.
lab_sweep() {
  local mode=$1 ns owner dir
  while read -r ns _; do
    [[ "$ns" =~ ^${LAB_NS_PREFIX}([0-9]+)- ]] || continue
    owner=${BASH_REMATCH[1]}
    if [ "$mode" != all ] && lab_alive "$owner"; then
      continue
    fi
    lab_log "removing stale namespace $ns"
    lab_ns_delete "$ns"
  done < <(ip netns list 2>/dev/null)
  for dir in "$(lab_work_parent)/$LAB_NS_PREFIX"[0-9]*.*; do
    [ -d "$dir" ] || continue
    [[ "$(basename "$dir")" =~ ^${LAB_NS_PREFIX}([0-9]+)\. ]] || continue
    if [ "$mode" = all ] || ! lab_alive "${BASH_REMATCH[1]}"; then
      lab_log "removing stale work directory $dir"
      rm -rf "$dir"
    fi
  done
}

# Kill whatever still runs inside a namespace, then delete it (its veths go with it).
lab_ns_delete() {
  local ns=$1 pids
  mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
  if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    sleep 1
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
    [ "${#pids[@]}" -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
}

# Stop the processes this run started, by PID: TERM, up to 5 s, then KILL.
lab_stop_pids() {
  local pid i alive
  [ "$#" -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 50); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    [ "$i" -eq 50 ] || sleep 0.1
  done
  [ "$alive" -eq 0 ] || kill -KILL "$@" 2>/dev/null || true
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# lab_host ROLE ADDRESS: a namespace with eth0 at ADDRESS on the bridge namespace's hlsbr0.
lab_host() {
  local role=$1 addr=$2 br ns plen
  br=$(lab_ns br)
  ns=$(lab_ns "$role")
  plen=$(lab_json .network.prefixLength)
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Both ends are created directly inside their namespaces, so names never clash with
  # the root namespace or with a parallel run.
  ip link add name eth0 netns "$ns" type veth peer name "v-$role" netns "$br"
  ip -n "$br" link set "v-$role" master "$(lab_json .network.bridge)" up
  ip -n "$ns" addr add "$addr/$plen" dev eth0
  ip -n "$ns" link set eth0 up
}

lab_bridge() {
  local br bridge
  br=$(lab_ns br)
  bridge=$(lab_json .network.bridge)
  ip netns add "$br"
  ip -n "$br" link set lo up
  ip -n "$br" link add "$bridge" type bridge
  ip -n "$br" addr add "$(lab_json .network.gateway)/$(lab_json .network.prefixLength)" dev "$bridge"
  ip -n "$br" link set "$bridge" up
}

# lab_sysctls ROLE SET: apply nix/lab.json's sysctl set (client|origin) inside ROLE's
# namespace. Only net.* keys that exist and are writable there are per-namespace; the rest
# (fs.*, and net.core keys the kernel keeps global, absent or read-only in a child
# namespace) would change the host or cannot be set, so they are skipped.
lab_sysctls() {
  local ns=$1 set=$2 key value path applied=() skipped=()
  while IFS=$'\t' read -r key value; do
    path="/proc/sys/${key//.//}"
    if [[ "$key" == net.* ]] && ip netns exec "$ns" test -w "$path" &&
      ip netns exec "$ns" sysctl -q -w "$key=$value" 2>/dev/null; then
      applied+=("$key")
    else
      skipped+=("$key")
    fi
  done < <(jq -r --arg s "$set" '.sysctl[$s] | to_entries[] | "\(.key)\t\(.value)"' "$LAB_JSON")
  lab_log "$ns: applied ${#applied[@]} $set sysctls; not namespaced, skipped: ${skipped[*]:-none}"
}

# Wait until CMD succeeds, at most SECONDS.
lab_wait() {
  local seconds=$1 i
  shift
  for i in $(seq $((seconds * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    [ "$i" -eq $((seconds * 4)) ] || sleep 0.25
  done
  return 1
}

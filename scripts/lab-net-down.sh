#!/usr/bin/env bash
# Removes what scripts/lab-net-up.sh made: every lab TAP (origin and hls-client1…max)
# and the bridge, and the /dev/vhost-net ACL entry of --user. Safe to run twice.
#
#   sudo scripts/lab-net-down.sh [--user NAME]
set -euo pipefail

lab_json=${LAB_JSON:-$(dirname "$0")/../nix/lab.json}
user=${SUDO_USER:-root}
while [ "$#" -gt 0 ]; do
  case "$1" in
    --user) user=$2; shift 2 ;;
    *) echo "usage: $0 [--user NAME]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "lab-net-down: run as root (sudo)" >&2; exit 1; }
q() { jq -r "$1" "$lab_json"; }

taps=("$(q .network.origin.tap)")
for i in $(seq 1 "$(q .network.clients.maxCount)"); do taps+=("$(q .network.clients.tapPrefix)$i"); done
removed=()
for tap in "${taps[@]}"; do
  if ip link show "$tap" >/dev/null 2>&1; then
    ip link del "$tap"
    removed+=("$tap")
  fi
done
bridge=$(q .network.bridge)
if ip link show "$bridge" >/dev/null 2>&1; then
  ip link del "$bridge"
  removed+=("$bridge")
fi
if [ "$user" != root ] && [ -e /dev/vhost-net ] && command -v setfacl >/dev/null 2>&1; then
  setfacl -x "u:$user" /dev/vhost-net 2>/dev/null || true
fi
echo "lab-net-down: removed ${removed[*]:-nothing}"

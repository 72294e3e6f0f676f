#!/usr/bin/env bash
# Host side of the MicroVM lab: the bridge and one TAP per VM, named and addressed from
# nix/lab.json (bridge hlsbr0 10.177.0.1/24; TAPs hls-origin, hls-client1…N). Idempotent.
# The lab network has no route out: no forwarding, no NAT.
#
#   sudo scripts/lab-net-up.sh [--user NAME] [--clients N] [--no-vhost-acl]
#
# --user  who runs the VMs (default: $SUDO_USER, else root); gets the TAPs and, with
#         setfacl, read-write access to /dev/vhost-net (never a world-writable chmod).
# --clients  swarm-client TAPs to create (default: lab.json network.clients.vmCount).
# --no-vhost-acl  leave /dev/vhost-net alone (access managed elsewhere).
set -euo pipefail

lab_json=${LAB_JSON:-$(dirname "$0")/../nix/lab.json}
user=${SUDO_USER:-root}
clients=""
vhost_acl=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --user) user=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --no-vhost-acl) vhost_acl=0; shift ;;
    *) echo "usage: $0 [--user NAME] [--clients N] [--no-vhost-acl]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "lab-net-up: run as root (sudo)" >&2; exit 1; }
id "$user" >/dev/null 2>&1 || { echo "lab-net-up: no user '$user'" >&2; exit 1; }
q() { jq -r "$1" "$lab_json"; }
[ -n "$clients" ] || clients=$(q .network.clients.vmCount)
max=$(q .network.clients.maxCount)
if ! [[ "$clients" =~ ^[0-9]+$ ]] || [ "$clients" -gt "$max" ]; then
  echo "lab-net-up: --clients must be 0..$max" >&2
  exit 2
fi

bridge=$(q .network.bridge)
gateway=$(q .network.gateway)/$(q .network.prefixLength)

for mod in tun vhost_net bridge; do modprobe "$mod" 2>/dev/null || true; done

if ! ip link show "$bridge" >/dev/null 2>&1; then
  ip link add "$bridge" type bridge
fi
ip addr replace "$gateway" dev "$bridge"
ip link set "$bridge" up

taps=("$(q .network.origin.tap)")
for i in $(seq 1 "$clients"); do taps+=("$(q .network.clients.tapPrefix)$i"); done
for tap in "${taps[@]}"; do
  if ! ip link show "$tap" >/dev/null 2>&1; then
    # multi_queue: the VMs have several vCPUs, and microvm.nix opens one queue per vCPU.
    ip tuntap add dev "$tap" mode tap multi_queue user "$user"
  fi
  ip link set "$tap" master "$bridge"
  ip link set "$tap" up
done

if [ "$vhost_acl" -eq 1 ] && [ "$user" != root ] && [ -e /dev/vhost-net ]; then
  if command -v setfacl >/dev/null 2>&1; then
    setfacl -m "u:$user:rw" /dev/vhost-net
  else
    echo "lab-net-up: no setfacl; $user needs rw on /dev/vhost-net (tap.vhost) or run the VMs as root" >&2
  fi
fi

echo "lab-net-up: $bridge $gateway with ${taps[*]} (owner $user)"

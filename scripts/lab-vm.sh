#!/usr/bin/env bash
# Runs one lab MicroVM in the foreground from its own state directory (the QMP socket
# lives there), with its serial console on this terminal. Ctrl-A X quits QEMU.
#
#   scripts/lab-vm.sh NAME RUNNER     e.g. lab-vm.sh hls-origin ./result/bin/microvm-run
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 NAME RUNNER" >&2; exit 2; }
name=$1
runner=$2
[ -x "$runner" ] || { echo "lab-vm: no runner at $runner" >&2; exit 1; }
dir="${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/hls-swarm-lab/$name"
mkdir -p "$dir"
cd "$dir"
echo "lab-vm: $name (state in $dir); needs the bridge: sudo nix run .#lab-up" >&2
exec "$runner"

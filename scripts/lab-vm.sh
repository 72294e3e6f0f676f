#!/usr/bin/env bash
# Runs one lab MicroVM in the foreground from its own state directory (the QMP control
# socket, NAME.sock, lives there, never in the caller's directory), with its serial
# console on this terminal. Ctrl-A X quits QEMU.
#
#   scripts/lab-vm.sh NAME RUNNER     e.g. lab-vm.sh hls-origin ./result/bin/microvm-run
#
# The VMs need KVM: /dev/kvm readable and writable by the caller (usually: member of the
# kvm group). HLS_LAB_KVM names another device (tests only).
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 NAME RUNNER" >&2; exit 2; }
name=$1
runner=$2
kvm=${HLS_LAB_KVM:-/dev/kvm}
[ -x "$runner" ] || { echo "lab-vm: no runner at $runner" >&2; exit 1; }
if [ ! -e "$kvm" ]; then
  echo "lab-vm: $kvm does not exist: the lab's MicroVMs need KVM (hardware virtualisation on," \
    "the kvm module loaded; inside a VM, nested virtualisation)" >&2
  exit 1
fi
if [ ! -r "$kvm" ] || [ ! -w "$kvm" ]; then
  echo "lab-vm: $kvm is not readable and writable by $(id -un): add the user to its group" \
    "($(stat -c %G "$kvm")) and log in again" >&2
  exit 1
fi
dir="${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/hls-swarm-lab/$name"
mkdir -p "$dir"
cd "$dir"
echo "lab-vm: $name (state and control socket in $dir); needs the bridge: see docs/lab.md (lab-up)" >&2
exec "$runner"

#!/usr/bin/env bash
# Removes namespace-lab leftovers: namespaces of runs whose process is gone, or with
# --all every hlslab* namespace (and everything still running inside them). Needs root.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "tests/lab/down.sh: run as root" >&2; exit 1; }
case "${1:-}" in
  --all) lab_sweep all ;;
  "") lab_sweep stale ;;
  *) echo "usage: $0 [--all]" >&2; exit 2 ;;
esac

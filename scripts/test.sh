#!/usr/bin/env bash
# The test command: installs the Debian packages the tests use when they are missing
# (as root, or through sudo), then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
command -v ffmpeg >/dev/null 2>&1 || pkgs+=(ffmpeg)
# The namespace lab (tests/lab/, run by tests/lab_namespaces.rs as root in CI) and
# scripts/lab-checks.sh: command -> Debian package.
for want in ip:iproute2 nginx:nginx curl:curl jq:jq setpriv:util-linux \
  prometheus-node-exporter:prometheus-node-exporter prometheus-nginx-exporter:prometheus-nginx-exporter \
  nix-instantiate:nix-bin shellcheck:shellcheck promtool:prometheus; do
  command -v "${want%%:*}" >/dev/null 2>&1 || pkgs+=("${want#*:}")
done
if [ "${#pkgs[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing Debian packages: ${pkgs[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

cargo test --locked "$@"

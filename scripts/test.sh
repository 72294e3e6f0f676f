#!/usr/bin/env bash
# The test command: installs the Debian packages the tests use when they are missing
# (as root, or through sudo), then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
command -v ffmpeg >/dev/null 2>&1 || pkgs+=(ffmpeg)
# promtool and prometheus: the metrics tests (promtool check/test, a real scrape).
command -v promtool >/dev/null 2>&1 || pkgs+=(prometheus)
# Origin metrics tests (tests/origin_metrics_exporters.rs) run these on their own ports.
command -v prometheus-node-exporter >/dev/null 2>&1 || pkgs+=(prometheus-node-exporter)
command -v prometheus-nginx-exporter >/dev/null 2>&1 || pkgs+=(prometheus-nginx-exporter)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || pkgs+=(nginx)
# The TUI test drives the real binary in tmux; the HTML report test renders it in Chromium.
command -v tmux >/dev/null 2>&1 || pkgs+=(tmux)
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
# The namespace lab (tests/lab/, run by tests/lab_namespaces.rs as root in CI) and
# scripts/lab-checks.sh: command -> Debian package.
for want in ip:iproute2 nginx:nginx curl:curl jq:jq setpriv:util-linux \
  prometheus-node-exporter:prometheus-node-exporter prometheus-nginx-exporter:prometheus-nginx-exporter \
  nix-instantiate:nix-bin shellcheck:shellcheck promtool:prometheus logrotate:logrotate \
  unshare:util-linux; do
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

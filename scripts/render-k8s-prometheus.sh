#!/usr/bin/env bash
# One source for the rules: monitoring/alerts.yml and monitoring/recording.yml are the
# files; k8s/prometheus-config.yaml's ConfigMap carries them verbatim as its alerts.yml
# and recording.yml keys. This writes those two keys (the last ones of the ConfigMap)
# from monitoring/, keeping everything above them (header, prometheus.yml) as it is.
#
#   scripts/render-k8s-prometheus.sh           rewrite k8s/prometheus-config.yaml
#   scripts/render-k8s-prometheus.sh --check   exit 1, with a diff, when it is stale
#
# (kustomize's configMapGenerator cannot do this: its default load restrictions refuse
# files outside k8s/, such as ../monitoring/recording.yml.)
set -euo pipefail
cd "$(dirname "$0")/.."

target=k8s/prometheus-config.yaml
check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

# The data key `name`, a literal block holding `file` indented by four spaces (empty
# lines left empty, so no trailing whitespace).
block() {
  printf '  %s: |\n' "$1"
  sed -e 's/^\(.\)/    \1/' "$2"
}

head_end=$(grep -n '^  alerts\.yml: |$' "$target" | cut -d: -f1)
if [ -z "$head_end" ]; then
  echo "$target: no '  alerts.yml: |' key to render from" >&2
  exit 1
fi
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
{
  head -n "$((head_end - 1))" "$target"
  block alerts.yml monitoring/alerts.yml
  block recording.yml monitoring/recording.yml
} >"$rendered"

if [ "$check" -eq 1 ]; then
  if ! diff -u "$target" "$rendered"; then
    echo "$target is stale: run scripts/render-k8s-prometheus.sh" >&2
    exit 1
  fi
  echo "$target carries monitoring/alerts.yml and monitoring/recording.yml verbatim"
else
  cp "$rendered" "$target"
fi

#!/usr/bin/env bash
# Renders what the namespace lab runs (tests/lab/) from nix/lab.json through the same pure
# Nix renderer the flake uses (nix/lib/default.nix), into nix/rendered/<profile>/:
#   nginx.conf    the origin's nginx configuration (listening on the lab origin address)
#   ffmpeg.args   the generator's argv after "ffmpeg", one argument per line
#   entry         the playlist a viewer starts from
#
#   scripts/render-lab.sh           rewrite the files
#   scripts/render-lab.sh --check   exit 1 if a committed file differs from a fresh render
set -euo pipefail
cd "$(dirname "$0")/.."

mode="write"
[ "${1:-}" = "--check" ] && mode="check"
command -v nix-instantiate >/dev/null || { echo "render-lab: nix-instantiate not found (Debian: nix-bin)" >&2; exit 1; }
command -v jq >/dev/null || { echo "render-lab: jq not found" >&2; exit 1; }

render() { # what profile
  # dummy store: pure evaluation needs no Nix store, daemon or root.
  nix-instantiate --store dummy:// --eval --strict --json nix/render.nix --argstr what "$1" --argstr profile "$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mapfile -t profiles < <(render profiles ci | jq -r '.[]')
status=0
for p in "${profiles[@]}"; do
  mkdir -p "$tmp/$p"
  # -j: the file is the rendered string exactly (no newline added), as the flake writes it.
  render nginx "$p" | jq -j . >"$tmp/$p/nginx.conf"
  render ffmpeg "$p" | jq -r '.[]' >"$tmp/$p/ffmpeg.args"
  render entry "$p" | jq -r . >"$tmp/$p/entry"
done

if [ "$mode" = check ]; then
  if ! diff -ru nix/rendered "$tmp" >"$tmp.diff" 2>&1; then
    # diff also reports files only on one side (a profile added or removed).
    cat "$tmp.diff" >&2
    echo "render-lab: nix/rendered/ is stale; run scripts/render-lab.sh and commit" >&2
    status=1
  else
    echo "render-lab: nix/rendered/ matches nix/lab.json (${#profiles[@]} profiles)"
  fi
  rm -f "$tmp.diff"
  exit "$status"
fi

rm -rf nix/rendered
mkdir -p nix/rendered
cp -r "$tmp"/. nix/rendered/
echo "render-lab: wrote nix/rendered/ for: ${profiles[*]}"

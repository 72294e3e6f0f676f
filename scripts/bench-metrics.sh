#!/usr/bin/env bash
# Side-by-side cost of one /metrics scrape (benches/metrics_scrape.rs: Snapshot → text at
# the largest label sets) at two revisions: builds the bench of OLD_REV (from `git
# archive`, with this tree's bench file) and of the work tree, runs them alternately
# ROUNDS times each, diffs their expositions, and prints each median and the ratio B/A.
#
#   scripts/bench-metrics.sh OLD_REV [RUNS] [ROUNDS]      e.g. scripts/bench-metrics.sh 825e9e6
#
# Builds go to $BENCH_TARGET (default /tmp/hls-bench-metrics-target), the old source to a
# temporary directory removed on exit.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 2; }
old=$1; runs=${2:-5}; rounds=${3:-200}
cd "$(dirname "$0")/.."
target=${BENCH_TARGET:-/tmp/hls-bench-metrics-target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$old" | tar -x -C "$tmp"
mkdir -p "$tmp/benches"
cp benches/metrics_scrape.rs "$tmp/benches/"
grep -q 'name = "metrics_scrape"' "$tmp/Cargo.toml" ||
  printf '\n[[bench]]\nname = "metrics_scrape"\nharness = false\n' >>"$tmp/Cargo.toml"
bin() { # the bench executable cargo built for the manifest $1
  cargo bench --manifest-path "$1" --target-dir "$target" --bench metrics_scrape --no-run \
    --message-format json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "metrics_scrape" and m.get("executable"):
        print(m["executable"])' | tail -1
}
a=$(bin "$tmp/Cargo.toml"); cp "$a" "$tmp/A"
b=$(bin Cargo.toml); cp "$b" "$tmp/B"
"$tmp/A" 1 --dump "$tmp/A.txt" >/dev/null
"$tmp/B" 1 --dump "$tmp/B.txt" >/dev/null
if cmp -s "$tmp/A.txt" "$tmp/B.txt"; then echo "expositions identical"; else
  echo "expositions differ (diff A B):"; diff "$tmp/A.txt" "$tmp/B.txt" | head -40 || true; fi
for _ in $(seq "$runs"); do
  for x in A B; do "$tmp/$x" "$rounds" | sed "s/^/$x /" >>"$tmp/out"; done
done
cat "$tmp/out"
python3 - "$tmp/out" <<'PY'
import re, statistics, sys
m = {"A": [], "B": []}
for l in open(sys.argv[1]):
    m[l[0]].append(float(re.search(r"median ([0-9.]+) ms", l).group(1)))
a, b = statistics.median(m["A"]), statistics.median(m["B"])
print(f"median of run medians: A (old) {a:.3f} ms  B (new) {b:.3f} ms  B/A {b / a:.2f}")
PY

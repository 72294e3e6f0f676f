#!/usr/bin/env bash
# Build the fuzz targets (fuzz/) on the stable toolchain and run each for a set time,
# printing executions and crashes per target (docs/reliability.md, "Fuzzing").
#
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS]     (defaults: all, 60)
#   TARGET: playlist | proxy_head | origin_request
# Exit status: 0 when every target ran its time without a crash, 1 otherwise.
#
# Stable Rust has no sanitizers, so targets are built without one (`-s none`), optimised
# (`-O`) and with debug assertions (`-a`, so integer overflow panics like in tests).
# libFuzzer itself (C++, from the libfuzzer-sys crate) needs a C++ compiler.
# The working corpus grows in fuzz/corpus/TARGET (not committed; the committed seeds are
# fuzz/seeds/TARGET); a crash is written to fuzz/artifacts/TARGET/ and the run stops there:
# reproduce it with `cd fuzz && cargo fuzz run -s none -O -a TARGET artifacts/TARGET/crash-…`.
# FUZZ_RSS_MB (default 2048) is libFuzzer's memory limit per target.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(playlist proxy_head origin_request)
CARGO_FUZZ_VERSION=0.13.2
which=${1:-all}
secs=${2:-60}
if [[ ! $secs =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS must be a positive whole number, got '$secs'" >&2
  exit 2
fi
if [ "$which" = all ]; then
  targets=("${ALL[@]}")
elif [[ " ${ALL[*]} " == *" $which "* ]]; then
  targets=("$which")
else
  echo "fuzz.sh: unknown target '$which' (one of: ${ALL[*]} all)" >&2
  exit 2
fi

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

# fuzz/ is its own workspace with its own Cargo.lock; every crate both locks name must
# have the same version, so the fuzzers test what ships. Out of step (the main lock
# changed), it is refreshed from the main one here: commit the result.
lock_diff() {
  python3 - <<'EOF'
import tomllib
main = {(p["name"], p["version"]) for p in tomllib.load(open("Cargo.lock", "rb"))["package"]}
fuzz = {(p["name"], p["version"]) for p in tomllib.load(open("fuzz/Cargo.lock", "rb"))["package"]}
names = {n for n, _ in main}
print(" ".join(f"{n}@{v}" for n, v in sorted(fuzz - main) if n in names))
EOF
}
stale=$(lock_diff)
if [ -n "$stale" ]; then
  echo "== fuzz/Cargo.lock is out of step with Cargo.lock ($stale); refreshing it from Cargo.lock"
  cp Cargo.lock fuzz/Cargo.lock
  cargo update --quiet --manifest-path fuzz/Cargo.toml --workspace
  stale=$(lock_diff)
  if [ -n "$stale" ]; then
    echo "fuzz.sh: fuzz/Cargo.lock still differs from Cargo.lock: $stale" >&2
    exit 1
  fi
fi

cd fuzz
echo "== cargo fuzz build -s none -O -a"
cargo fuzz build -s none -O -a

failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  before=$(find "artifacts/$t" -type f ! -name '*.log' | wc -l)
  echo "== fuzzing $t for ${secs}s"
  status=0
  cargo fuzz run -s none -O -a "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
    -dict="dicts/$t.dict" -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  after=$(find "artifacts/$t" -type f ! -name '*.log' | wc -l)
  crashes=$((after - before))
  corpus=$(find "corpus/$t" -type f | wc -l)
  line="$t: ${execs:-?} executions in ${secs}s, $crashes crashes, corpus $corpus inputs"
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ] || [ -z "$execs" ]; then
    failed=1
    line="$line, FAILED (exit $status; log fuzz/$log)"
    grep -E '^(==[0-9]+== ERROR|thread .* panicked|SUMMARY)' "$log" | head -n 5 >&2 || true
    find "artifacts/$t" -type f ! -name '*.log' -printf '%T@ %p\n' | sort -rn | head -n "$((crashes > 0 ? crashes : 1))" | cut -d' ' -f2- >&2 || true
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"

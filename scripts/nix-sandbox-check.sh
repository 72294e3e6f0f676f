#!/usr/bin/env bash
# The Nix package's build and check phase (nix/package.nix), reproduced as closely as a
# machine without Nix allows, so that a test needing a file outside the package's source
# set, the network or a tool the Nix build does not have fails here, in CI:
#
#   - source: exactly the git-tracked files under the paths of nix/package-spec.json (what
#     lib.fileset.toSource gives the flake), copied into a fresh directory;
#   - crates: `cargo vendor` of Cargo.lock into a directory beside it, used through a
#     source replacement as nixpkgs' importCargoLock does; the build is --frozen (offline);
#   - sandbox: a new network namespace with only loopback up, a new mount namespace in
#     which /usr/bin, /usr/sbin and /usr/local/bin are empty but for /bin/sh, and an
#     unprivileged user (nobody) with no capabilities, HOME=/homeless-shelter and a PATH of
#     only what stdenv, the Rust toolchain and nativeCheckInputs (ffmpeg-headless) give;
#     no CI variable, so tests whose tool is missing skip as they do under Nix;
#   - build and check: cargoBuildHook's and cargoCheckHook's commands (release profile,
#     --target HOST, --frozen, cargoTestFlags: --lib --bins and the spec's --test list,
#     --test-threads=NIX_BUILD_CORES, the spec's --skip list).
#
# Not reproduced: the chroot (host libraries and /etc stay visible), Nix's own compiler
# wrappers and toolchain versions (the host's rustc and gcc build here), and fetching
# crates from crates.io by hash (this vendors from the local cargo cache).
#
#   scripts/nix-sandbox-check.sh [--spec FILE] [--keep] [--dir DIR] [--target-dir DIR]
#
# --spec: another spec (to show that a missing path fails); --keep: leave the build
# directory; --dir: build in DIR (a directory an earlier run left, or a new one): its
# source copy is replaced but its target/ kept, so an unchanged file keeps its path and
# mtime and cargo rebuilds only what changed: quick, not a fresh build; --target-dir: a
# cargo target directory elsewhere. CI uses none of them.
#
# Needs root (namespaces, mounts, dropping to nobody), jq, git, unshare, setpriv, ip.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

spec=nix/package-spec.json
keep=0
target_dir=""
base=""
while [ "$#" -gt 0 ]; do
  case $1 in
    --spec) spec=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --dir) base=$(realpath -m "$2"); keep=1; shift 2 ;;
    --target-dir) target_dir=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--spec FILE] [--keep] [--dir DIR] [--target-dir DIR]" >&2; exit 2 ;;
  esac
done

die() { echo "nix-sandbox-check: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network and mount namespaces, then drops to nobody)"
for t in jq git unshare setpriv ip rustc cargo; do command -v "$t" >/dev/null || die "needs $t"; done
command -v ffmpeg >/dev/null || die "needs ffmpeg (the package's nativeCheckInputs has ffmpeg-headless)"

started=$(date +%s)
if [ -z "$base" ]; then
  tmp=$(mktemp -d /tmp/hls-nix-sandbox.XXXXXX)
elif [ -e "$base" ]; then
  # Only a directory this script made is ever emptied.
  [ -f "$base/.hls-nix-sandbox" ] || die "--dir $base exists and was not made by this script"
  tmp=$base
  # The source copy is replaced; its target/ stays (test binaries embed its paths).
  [ ! -d "$tmp/build/source" ] || find "$tmp/build/source" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
  rm -rf "$tmp/build/cargo-vendor-dir"
else
  mkdir -p "$base"
  tmp=$base
fi
: >"$tmp/.hls-nix-sandbox"
# The bind mounts live only in the child's mount namespace, so this never reaches the
# toolchain or /usr/bin.
# shellcheck disable=SC2317 # reached through the trap
cleanup() { if [ "$keep" -eq 1 ]; then echo "kept: $tmp" >&2; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
chmod 0755 "$tmp"
build=$tmp/build       # NIX_BUILD_TOP
src=$build/source      # sourceRoot
vendor=$build/cargo-vendor-dir
mkdir -p "$src" "$build/.cargo"

echo "== source set from $spec"
mapfile -t paths < <(jq -r '.src[]' "$spec")
[ "${#paths[@]}" -gt 0 ] || die "$spec lists no source paths"
for p in "${paths[@]}"; do
  # lib.fileset.unions refuses a path that does not exist.
  [ -e "$p" ] || die "$spec names $p, which does not exist"
done
# A flake's source is the git tree: tracked files (with their working-tree contents).
n=0
while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  cp -a --parents -- "$f" "$src/"
  n=$((n + 1))
done < <(git ls-files -z --cached -- "${paths[@]}")
echo "copied $n files under: ${paths[*]}"
mapfile -t skips < <(jq -r '.checkSkip[]' "$spec")
mapfile -t check_tests < <(jq -r '.checkTests[]' "$spec")

echo "== vendoring Cargo.lock's crates (the fixed-output step; network allowed here)"
(cd "$src" && { cargo vendor --locked --offline --versioned-dirs "$vendor" >/dev/null 2>"$tmp/vendor.err" ||
  cargo vendor --locked --versioned-dirs "$vendor" >/dev/null 2>"$tmp/vendor.err"; }) ||
  { cat "$tmp/vendor.err" >&2; die "cargo vendor failed"; }
cmp -s "$src/Cargo.lock" "$repo/Cargo.lock" || die "cargo vendor changed Cargo.lock"
cat >"$build/.cargo/config.toml" <<EOF
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "$vendor"
EOF

# The toolchain and the tools the Nix build has on PATH: stdenv (coreutils, findutils,
# diffutils, sed, grep, awk, tar, gzip, bzip2, xz, bash, make, patch, file), the C
# compiler and binutils, and nativeCheckInputs (ffmpeg, ffprobe).
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
cores=$(nproc)
mkdir -p "$tmp/toolchain" "$tmp/hostbin" "$tmp/tools"
tools=()
for pkg in coreutils findutils diffutils sed grep tar gzip bzip2 xz-utils bash make patch file binutils; do
  while IFS= read -r f; do
    case $f in /usr/bin/* | /bin/*) [ -x "$f" ] && [ ! -d "$f" ] && tools+=("$(basename "$f")") ;; esac
  done < <(dpkg -L "$pkg" 2>/dev/null)
done
tools+=(cc gcc awk ffmpeg ffprobe)
for t in "${tools[@]}"; do
  real=$(readlink -f "$(command -v "$t" 2>/dev/null || echo "/nonexistent/$t")")
  case $real in
    /usr/bin/*) ln -sfn "$tmp/hostbin/${real#/usr/bin/}" "$tmp/tools/$t" ;;
    *) [ -x "$real" ] && ln -sfn "$real" "$tmp/tools/$t" ;;
  esac
done
# (links into hostbin dangle until the namespace mounts it there)
for t in cc ld as ar ffmpeg env bash; do [ -L "$tmp/tools/$t" ] || die "no $t for the sandbox PATH"; done
bash_real=$(readlink -f "$(command -v bash)")
# The host's gcc stands in for Nix's cc wrapper; run from the tool links it cannot derive
# its own directory (for its LTO plugin), so it is told.
gcc_prefix=$(dirname "$(dirname "$(dirname "$(gcc -print-libgcc-file-name)")")")/
chown -R nobody:nogroup "$build"
if [ -n "$target_dir" ]; then
  mkdir -p "$target_dir"
  chown -R nobody:nogroup "$target_dir"
  setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -w "$target_dir" ||
    die "--target-dir $target_dir: not reachable by nobody (a directory above it is private)"
fi

echo "== build and check phase: offline, loopback only, as nobody, stdenv-like PATH"
build_cmd=(cargo build -j "$cores" --profile release --target "$host" --frozen)
check_cmd=(cargo test -j "$cores" --profile release --target "$host" --frozen --lib --bins)
for t in "${check_tests[@]}"; do check_cmd+=(--test "$t"); done
check_cmd+=(-- --test-threads="$cores")
for s in "${skips[@]}"; do check_cmd+=("--skip=$s"); done
echo "+ ${build_cmd[*]}"
echo "+ ${check_cmd[*]}"
# The inner script runs in the new namespaces: loopback up, the host's /usr/bin kept aside
# for the tool links, then the Debian tool directories emptied.
{
  echo 'set -euo pipefail'
  printf 'T=%q; SYSROOT=%q; BASH_REAL=%q; CORES=%q; GCC_PREFIX=%q; TARGET_DIR=%q\n' \
    "$tmp" "$sysroot" "$bash_real" "$cores" "$gcc_prefix" "$target_dir"
  printf 'BUILD=(%s)\n' "$(printf '%q ' "${build_cmd[@]}")"
  printf 'CHECK=(%s)\n' "$(printf '%q ' "${check_cmd[@]}")"
  cat <<'INNER'
ip link set lo up
H=$T/hostbin
mount --bind "$SYSROOT" "$T/toolchain"
mount --bind /usr/bin "$H"
"$H/mount" -t tmpfs -o mode=0755 none /usr/bin
"$H/ln" -s "$H/${BASH_REAL#/usr/bin/}" /usr/bin/sh
"$H/mount" -t tmpfs -o mode=0755 none /usr/sbin
"$H/mount" -t tmpfs -o mode=0755 none /usr/local/bin
cd "$T/build/source"
run() {
  "$H/setpriv" --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs -- \
    "$H/env" -i PATH="$T/toolchain/bin:$T/tools" HOME=/homeless-shelter \
    TMPDIR="$T/build" TMP="$T/build" NIX_BUILD_TOP="$T/build" NIX_BUILD_CORES="$CORES" \
    TERM=dumb SOURCE_DATE_EPOCH=315532800 GCC_EXEC_PREFIX="$GCC_PREFIX" \
    ${TARGET_DIR:+CARGO_TARGET_DIR="$TARGET_DIR"} "$@"
}
# What the build user sees: no route off loopback, no capabilities, no Debian tools.
run "$H/bash" -c '[ "$(id -u)" != 0 ] && ! command -v curl nginx promtool >/dev/null && [ ! -e /usr/bin/env ]' ||
  { echo "nix-sandbox-check: the sandbox is not what it should be" >&2; exit 1; }
t0=$("$H/date" +%s)
echo "+ ${BUILD[*]}"
run "${BUILD[@]}"
t1=$("$H/date" +%s)
echo "+ ${CHECK[*]}"
run "${CHECK[@]}"
t2=$("$H/date" +%s)
echo "nix-sandbox-check: build $((t1 - t0)) s, check phase $((t2 - t1)) s"
INNER
} >"$tmp/inner.sh"
rc=0
unshare --net --mount --fork -- bash "$tmp/inner.sh" || rc=$?
total=$(($(date +%s) - started))
if [ "$rc" -eq 0 ]; then
  echo "PASS nix-sandbox-check: the package built and passed its check phase from $spec's source set, offline, loopback only (${total} s)"
else
  echo "FAIL nix-sandbox-check: exit $rc (${total} s); see the output above"
fi
exit "$rc"

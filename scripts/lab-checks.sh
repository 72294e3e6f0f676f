#!/usr/bin/env bash
# The lab's checks that need no Nix store, no nixpkgs and no KVM (CI runs them from
# .ci/run; the flake's `nix flake check` covers the rest). Each prints PASS/FAIL/SKIP;
# the last line is "lab-checks: N passed, N failed".
#
#   scripts/lab-checks.sh [--bin PATH]
#
# Tools: nix-instantiate (Debian nix-bin), deadnix, hls-swarm-nixfmt (nix/tools/nixfmt),
# jq, shellcheck, nginx, ffmpeg/ffprobe, ip (root: nginx -t runs in a throwaway network
# namespace), yamllint, kubernetes-validate, promtool, python3 with PyYAML.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

BIN=target/debug/hls-swarm
[ "${1:-}" != "--bin" ] || BIN=$2
NIXFMT=${NIXFMT:-target/nix-tools/release/hls-swarm-nixfmt}

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
tmp=$(mktemp -d)
ns=""
gen_pid=""
cleanup() {
  [ -z "$gen_pid" ] || kill "$gen_pid" 2>/dev/null || true
  [ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# dummy store: parsing and pure evaluation need no Nix store, daemon or root.
nixi() { nix-instantiate --store dummy:// "$@"; }
render() { nixi --eval --strict --json nix/render.nix "$@"; }
mapfile -t nix_files < <(git ls-files --cached --others --exclude-standard '*.nix')
mapfile -t profiles < <(render --argstr what profiles | jq -r '.[]')

echo "== Nix: parse, lint, format"
bad=()
for f in "${nix_files[@]}"; do nixi --parse "$f" >/dev/null 2>"$tmp/parse.err" || bad+=("$f"); done
if [ "${#bad[@]}" -eq 0 ]; then pass "nix-instantiate --parse: ${#nix_files[@]} files"; else fail "nix-instantiate --parse: ${bad[*]}"; cat "$tmp/parse.err"; fi
if deadnix --fail "${nix_files[@]}" >"$tmp/deadnix" 2>&1; then pass "deadnix: no dead bindings"; else fail "deadnix"; cat "$tmp/deadnix"; fi
if "$NIXFMT" --check "${nix_files[@]}" >"$tmp/fmt" 2>&1; then pass "alejandra (flake formatter) --check: formatted"; else fail "alejandra --check (fix: $NIXFMT .)"; cat "$tmp/fmt"; fi
# statix is not on crates.io (the crate of that name is an unrelated HTTP server), so CI
# cannot install it; `nix flake check` runs nixpkgs' statix (checks.<system>.statix).
echo "SKIP statix: not installable from crates.io; runs in nix flake check"

echo "== Lab data, evaluated without nixpkgs"
if scripts/render-lab.sh --check >"$tmp/render" 2>&1; then pass "nix/rendered/ (what the namespace lab runs) equals a fresh render of nix/lab.json"; else fail "render-lab --check"; cat "$tmp/render"; fi
if out=$(nixi --eval --strict --json nix/tests/pure.nix 2>&1); then
  pass "nix/tests/pure.nix: $(jq length <<<"$out") facts about the renderers and the VM instances hold"
else
  fail "nix/tests/pure.nix: $(grep -o 'pure-eval: .*' <<<"$out" | head -n 1)"
fi
# The modules through nixpkgs' real module system, against stand-ins for NixOS options.
# CI has no nixpkgs: this runs only when HLS_NIXPKGS_LIB names a nixpkgs lib directory
# (e.g. a checkout's lib/), and says SKIP otherwise.
for t in modules flake-outputs; do
  if [ -n "${HLS_NIXPKGS_LIB:-}" ] && [ -f "$HLS_NIXPKGS_LIB/default.nix" ]; then
    if out=$(nixi --eval --strict --json "nix/tests/$t.nix" --arg lib "import $HLS_NIXPKGS_LIB" 2>&1); then
      pass "nix/tests/$t.nix: $(jq length <<<"$out") facts hold (nixpkgs lib $(nixi --eval --expr "(import $HLS_NIXPKGS_LIB).version" 2>/dev/null || echo '?'), stand-ins for NixOS and packages)"
    else
      fail "nix/tests/$t.nix: $(grep -o '[a-z-]*: .*\|error: .*' <<<"$out" | head -n 1)"
    fi
  else
    echo "SKIP nix/tests/$t.nix: no nixpkgs lib here (HLS_NIXPKGS_LIB=/path/to/nixpkgs/lib runs it); nix flake check runs it"
  fi
done
if render --argstr what ffmpeg --argstr profile no-such-profile >/dev/null 2>&1; then fail "an unknown profile must not render"; else pass "an unknown profile is refused"; fi
missing_keys=()
while read -r key; do [ -e "/proc/sys/${key//.//}" ] || missing_keys+=("$key"); done < <(jq -r '.sysctl[] | keys[]' nix/lab.json | sort -u)
if [ "${#missing_keys[@]}" -eq 0 ]; then pass "every sysctl key in nix/lab.json exists on this kernel ($(uname -r))"; else fail "sysctl keys missing on $(uname -r): ${missing_keys[*]}"; fi
for p in "${profiles[@]}"; do
  mb=$(render --argstr what tmpfs --argstr profile "$p")
  if [ "$mb" -gt 16 ] && [ "$mb" -lt 1024 ]; then pass "profile $p: tmpfs ${mb} MiB"; else fail "profile $p: tmpfs ${mb} MiB out of range"; fi
done

# docs/lab.md quotes the profile and sysctl tables; every row must match the data.
{
  jq -r '.profiles | to_entries[] | "| `\(.key)` | \(.value.segmentSeconds) s × \(.value.listSize) | \(.value.fps) | \(.value.preset) | \([.value.variants[] | "\(.name) \(.width)x\(.height) \(.videoKbps)k+\(.audioKbps)k"] | join(", ")) | \(if (.value.variants | length) > 1 then "master.m3u8" else "stream.m3u8" end) |"' nix/lab.json
  jq -r '[.sysctl.client, .sysctl.origin] as [$c, $o] | ([$c | keys[]] + [$o | keys[]] | unique)[] as $k | "| `\($k)` | \($c[$k] // "—") | \($o[$k] // "—") |"' nix/lab.json
} >"$tmp/doc-rows"
stale=0
while IFS= read -r row; do grep -Fxq -- "$row" docs/lab.md || { stale=1; echo "  not in docs/lab.md: $row"; }; done <"$tmp/doc-rows"
if [ "$stale" -eq 0 ]; then pass "docs/lab.md quotes nix/lab.json's profiles and sysctls"; else fail "docs/lab.md tables differ from nix/lab.json"; fi

echo "== nginx -t on every rendered nginx.conf (throwaway namespace holding the origin address)"
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  ns="hlschk$$"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(jq -r .network.origin.address nix/lab.json)/32" dev lo
  for p in "${profiles[@]}"; do
    mkdir -p "$tmp/ngx-$p/hls" "$tmp/ngx-$p/logs" "$tmp/ngx-$p/run"
    if ip netns exec "$ns" nginx -t -q -e stderr -p "$tmp/ngx-$p/" -c "$PWD/nix/rendered/$p/nginx.conf" 2>"$tmp/nginx.err"; then
      pass "nginx -t: $p"
    else
      fail "nginx -t: $p"; cat "$tmp/nginx.err"
    fi
  done
  ip netns del "$ns"
  ns=""
else
  fail "nginx -t needs root and iproute2"
fi

echo "== the origin supervisor (nix run .#test-origin, the origin image), run for real"
# In a throwaway namespace, unprivileged like the runner: profile ci on 127.0.0.1 with
# both exporters; it must serve, then stop everything it started on SIGTERM, and stop by
# itself (exit 1) when the generator dies.
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  ns="hlsorg$$"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  run_dir="$tmp/origin-run"
  chmod 0711 "$tmp"
  mkdir -p "$run_dir"
  chmod 1777 "$run_dir"
  render --argstr what nginx --argstr profile ci --argstr listenAddress 127.0.0.1 | jq -j . >"$run_dir/nginx.conf"
  cp nix/rendered/ci/ffmpeg.args "$run_dir/ffmpeg.args"
  chmod 0644 "$run_dir/nginx.conf" "$run_dir/ffmpeg.args"
  install -m 0755 nix/test-origin/origin.sh "$run_dir/origin.sh"
  start_origin() {
    ip netns exec "$ns" setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
      env -i PATH="$PATH" TMPDIR="$run_dir" HLS_ORIGIN_NGINX_CONF="$run_dir/nginx.conf" \
      HLS_ORIGIN_FFMPEG_ARGS="$run_dir/ffmpeg.args" HLS_ORIGIN_EXPORTERS=1 \
      HLS_ORIGIN_NODE_EXPORTER=prometheus-node-exporter HLS_ORIGIN_NGINX_EXPORTER=prometheus-nginx-exporter \
      HLS_ORIGIN_COLLECTORS="cpu meminfo netdev" HLS_ORIGIN_LOG_MAX_BYTES=4096 HLS_ORIGIN_LOG_CHECK_SECONDS=1 \
      bash "$run_dir/origin.sh" >"$run_dir/out.log" 2>&1 &
    gen_pid=$!
  }
  in_ns_curl() { ip netns exec "$ns" curl -sf "$@"; }
  served() {
    in_ns_curl http://127.0.0.1:17080/master.m3u8 | grep -q 180p/stream.m3u8 &&
      [ "$(in_ns_curl http://127.0.0.1:17080/144p/stream.m3u8 | grep -c '^#EXTINF')" -ge 1 ] &&
      in_ns_curl http://127.0.0.1:9100/metrics | grep -q '^node_cpu_seconds_total' &&
      in_ns_curl http://127.0.0.1:9113/metrics | grep -q '^nginx_up 1'
  }
  start_origin
  ok=0
  for _ in $(seq 80); do served && { ok=1; break; }; sleep 0.25; done
  if [ "$ok" -eq 1 ]; then pass "origin.sh serves profile ci (master, rungs, both exporters)"; else fail "origin.sh did not serve"; cat "$run_dir/out.log"; fi
  # The access log is bounded: past 4096 bytes it is renamed and nginx writes a new one.
  logs=$(compgen -G "$run_dir/hls-origin.*/logs" | head -n 1 || true)
  rotated=0
  for _ in $(seq 40); do
    for _ in $(seq 10); do in_ns_curl http://127.0.0.1:17080/master.m3u8 >/dev/null || true; done
    if [ -n "$logs" ] && [ -s "$logs/access.log" ] && [ -f "$logs/access.log.1" ] &&
      [ "$(stat -c %s "$logs/access.log.1")" -gt 4096 ]; then
      rotated=1
      break
    fi
    sleep 0.25
  done
  if [ "$rotated" -eq 1 ]; then
    pass "origin.sh bounds the access log: renamed past HLS_ORIGIN_LOG_MAX_BYTES, nginx reopened a new one ($(stat -c %s "$logs/access.log.1") + $(stat -c %s "$logs/access.log") bytes)"
  else
    fail "origin.sh did not rotate the access log: $(find "$logs" -printf '%f:%s ' 2>&1)"
  fi
  kill -TERM "$gen_pid" 2>/dev/null || true
  rc=0
  wait "$gen_pid" || rc=$?
  gen_pid=""
  sleep 0.5
  left=$(ip netns pids "$ns" | wc -l)
  if [ "$rc" -eq 143 ] && [ "$left" -eq 0 ] && ! compgen -G "$run_dir/hls-origin.*" >/dev/null; then
    pass "origin.sh on SIGTERM: exit 143, no process left, its directory removed"
  else
    fail "origin.sh on SIGTERM: exit $rc, $left processes left, dirs: $(compgen -G "$run_dir/hls-origin.*" || true)"
  fi
  start_origin
  for _ in $(seq 40); do in_ns_curl http://127.0.0.1:17080/health >/dev/null 2>&1 && break; sleep 0.25; done
  for p in $(ip netns pids "$ns"); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" != ffmpeg ] || kill -KILL "$p" 2>/dev/null || true; done
  rc=0
  timeout 10 tail --pid="$gen_pid" -f /dev/null || true
  wait "$gen_pid" || rc=$?
  gen_pid=""
  sleep 0.5
  left=$(ip netns pids "$ns" | wc -l)
  if [ "$rc" -eq 1 ] && [ "$left" -eq 0 ]; then pass "origin.sh stops everything (exit 1) when the generator dies"; else fail "origin.sh after the generator died: exit $rc, $left processes left"; fi
  ip netns del "$ns"
  ns=""
else
  fail "the origin supervisor check needs root and iproute2"
fi

echo "== the origin module's access-log rotation (its rendered logrotate.conf, run for real)"
lr=$(command -v logrotate || echo /usr/sbin/logrotate)
if [ -x "$lr" ]; then
  d="$tmp/logrotate"
  mkdir -p "$d"
  chmod 0755 "$d"
  render --argstr what logrotate --argstr file "$d/access.log" --argstr maxMegabytes 1 \
    --argstr postrotate "touch $d/reopened" | jq -j . >"$d/conf"
  chmod 0644 "$d/conf"
  head -c 1500000 /dev/zero | tr '\0' 'x' >"$d/access.log"
  problems=()
  "$lr" -s "$d/state" "$d/conf" 2>"$d/err" || problems+=("logrotate failed: $(head -n 3 "$d/err")")
  [ -s "$d/access.log.1" ] || problems+=("not renamed past 1 MiB")
  [ ! -e "$d/access.log" ] || problems+=("a new access.log made by logrotate (nginx must make it)")
  [ -e "$d/reopened" ] || problems+=("postrotate (nginx reopen) not run")
  rm -f "$d/reopened"
  printf 'small\n' >"$d/access.log"
  "$lr" -s "$d/state" "$d/conf" 2>>"$d/err" || problems+=("second logrotate failed")
  [ ! -e "$d/reopened" ] || problems+=("rotated a small log")
  for _ in 1 2 3; do
    head -c 1500000 /dev/zero | tr '\0' 'x' >"$d/access.log"
    "$lr" -s "$d/state" "$d/conf" 2>>"$d/err" || problems+=("logrotate failed")
  done
  n=$(find "$d" -name 'access.log.*' | wc -l)
  keep=$(jq .origin.accessLog.keep nix/lab.json)
  [ "$n" -eq "$keep" ] || problems+=("$n rotated files kept, want $keep")
  if [ "${#problems[@]}" -eq 0 ]; then pass "origin logrotate.conf: renamed past the size, nginx reopen run, small logs left, $keep kept"; else fail "origin logrotate: ${problems[*]}"; fi
else
  fail "logrotate is not installed (Debian package logrotate)"
fi

echo "== host bridge/TAP scripts (lab-up / lab-down), run for real in a throwaway namespace"
if [ "$(id -u)" -eq 0 ] && [ -e /dev/net/tun ]; then
  ns="hlsnet$$"
  ip netns add "$ns"
  net() { ip netns exec "$ns" env LAB_JSON="$PWD/nix/lab.json" "$@"; }
  problems=()
  net scripts/lab-net-up.sh --user nobody --no-vhost-acl >/dev/null || problems+=("lab-net-up failed")
  net scripts/lab-net-up.sh --user nobody --no-vhost-acl >/dev/null || problems+=("lab-net-up is not idempotent")
  ip -n "$ns" -br addr show hlsbr0 2>/dev/null | grep -q ' 10.177.0.1/24' || problems+=("hlsbr0 lacks 10.177.0.1/24")
  for tap in hls-origin hls-client1 hls-client2; do
    d=$(ip -n "$ns" -d link show "$tap" 2>/dev/null || true)
    grep -q 'master hlsbr0' <<<"$d" || problems+=("$tap not on hlsbr0")
    grep -q 'multi_queue' <<<"$d" || problems+=("$tap not multi_queue")
    grep -q "user $(id -u nobody)\b\|user nobody" <<<"$d" || problems+=("$tap not owned by nobody")
  done
  net scripts/lab-net-down.sh --user nobody >/dev/null || problems+=("lab-net-down failed")
  net scripts/lab-net-down.sh --user nobody >/dev/null || problems+=("lab-net-down is not idempotent")
  [ "$(ip -n "$ns" -br link | grep -c '^hls')" -eq 0 ] || problems+=("lab-net-down left links")
  ip netns del "$ns"
  ns=""
  if [ "${#problems[@]}" -eq 0 ]; then pass "lab-net-up/down: bridge, 3 multi-queue TAPs owned by the VM user, idempotent, nothing left"; else fail "lab-net scripts: ${problems[*]}"; fi
else
  fail "the host network scripts check needs root and /dev/net/tun"
fi

echo "== the MicroVM wrapper (scripts/lab-vm.sh): KVM required, state outside the caller's directory"
d="$tmp/labvm"
mkdir -p "$d/runtime" "$d/caller"
printf '#!/bin/sh\npwd\n' >"$d/runner"
chmod 0755 "$d/runner"
problems=()
out=$(cd "$d/caller" && HLS_LAB_KVM="$d/no-kvm" XDG_RUNTIME_DIR="$d/runtime" bash "$root/scripts/lab-vm.sh" vm1 "$d/runner" 2>&1) &&
  problems+=("ran without KVM")
grep -q "no-kvm does not exist: the lab's MicroVMs need KVM" <<<"$out" || problems+=("no clear error without KVM: $out")
if [ "$(id -u)" -eq 0 ]; then
  : >"$d/kvm"
  chmod 0600 "$d/kvm"
  chmod 0755 "$d" "$tmp"
  out=$(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- env HLS_LAB_KVM="$d/kvm" \
    XDG_RUNTIME_DIR="$d/runtime" bash "$root/scripts/lab-vm.sh" vm1 "$d/runner" 2>&1) && problems+=("ran without access to KVM")
  grep -q "is not readable and writable by nobody" <<<"$out" || problems+=("no clear error without access: $out")
fi
out=$(cd "$d/caller" && HLS_LAB_KVM=/dev/null XDG_RUNTIME_DIR="$d/runtime" bash "$root/scripts/lab-vm.sh" vm1 "$d/runner" 2>/dev/null) ||
  problems+=("did not run with KVM")
[ "$out" = "$d/runtime/hls-swarm-lab/vm1" ] || problems+=("runner ran in '$out', not the VM's state directory")
if [ "${#problems[@]}" -eq 0 ]; then pass "lab-vm.sh: clear errors without /dev/kvm or access to it, runs the VM in its state directory"; else fail "lab-vm.sh: ${problems[*]}"; fi

echo "== the generator: every profile's argv runs with this ffmpeg and makes every rung"
for p in "${profiles[@]}"; do
  d="$tmp/gen-$p"
  mkdir -p "$d"
  mapfile -t args <"nix/rendered/$p/ffmpeg.args"
  (cd "$d" && exec ffmpeg "${args[@]}") 2>"$d.log" &
  gen_pid=$!
  mapfile -t rungs < <(jq -r --arg p "$p" '.profiles[$p].variants[] | "\(.name) \(.width)x\(.height)"' nix/lab.json)
  entry=$(cat "nix/rendered/$p/entry")
  seg=$(jq -r --arg p "$p" '.profiles[$p].segmentSeconds' nix/lab.json)
  playlists=()
  if [ "$entry" = master.m3u8 ]; then
    for r in "${rungs[@]}"; do playlists+=("${r%% *}/stream.m3u8"); done
  else
    playlists=(stream.m3u8)
  fi
  ok=0
  for _ in $(seq 240); do # up to 60 s: the abr ladder encodes slower than real time on 2 cores
    ok=1
    for pl in "${playlists[@]}"; do
      [ -f "$d/$pl" ] && [ "$(grep -c '^#EXTINF' "$d/$pl")" -ge 1 ] || ok=0
    done
    [ "$ok" -eq 1 ] && break
    kill -0 "$gen_pid" 2>/dev/null || break
    sleep 0.25
  done
  kill "$gen_pid" 2>/dev/null || true
  wait "$gen_pid" 2>/dev/null || true
  gen_pid=""
  if [ "$ok" -ne 1 ]; then fail "generator $p: no segment in every playlist"; tail -n 5 "$d.log"; continue; fi
  problems=()
  if [ "$entry" = master.m3u8 ]; then
    for r in "${rungs[@]}"; do
      grep -q "RESOLUTION=${r#* }" "$d/master.m3u8" && grep -q "^${r%% *}/stream.m3u8" "$d/master.m3u8" ||
        problems+=("master.m3u8 lacks ${r%% *} ${r#* }")
    done
  fi
  i=0
  for pl in "${playlists[@]}"; do
    want=${rungs[$i]#* }
    i=$((i + 1))
    first=$(grep -v '^#' "$d/$pl" | head -n 1)
    got=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$(dirname "$d/$pl")/$first")
    got=${got%%$'\n'*}
    [ "$got" = "$want" ] || problems+=("$pl: segment is $got, want $want")
    dur=$(grep -m1 '^#EXTINF' "$d/$pl" | sed 's/#EXTINF:\([0-9.]*\).*/\1/')
    awk -v d="$dur" -v s="$seg" 'BEGIN { exit !(d > s - 0.1 && d < s + 0.1) }' || problems+=("$pl: first segment ${dur}s, want ${seg}s")
  done
  if [ "${#problems[@]}" -eq 0 ]; then
    pass "generator $p: ${#playlists[@]} rung(s) ($(printf '%s ' "${rungs[@]}")), ${seg}s keyframe-aligned segments"
  else
    fail "generator $p: ${problems[*]}"
  fi
done

echo "== shellcheck on every script"
mapfile -t scripts < <(git ls-files --cached --others --exclude-standard '*.sh')
scripts+=(.ci/run)
if shellcheck -x "${scripts[@]}" >"$tmp/sc" 2>&1; then pass "shellcheck: ${#scripts[@]} scripts"; else fail "shellcheck"; cat "$tmp/sc"; fi

echo "== rendered command lines against the real binary ($BIN)"
if [ ! -x "$BIN" ]; then
  fail "no hls-swarm binary at $BIN (cargo build)"
else
  # What modules/swarm-client.nix renders (nix/lib swarmArgs, as in nix/render.nix).
  mapfile -t args < <(render --argstr what swarm | jq -r '.[]')
  if out=$(tests/lab/check-cmdline.sh --bin "$BIN" --name "NixOS module command line" -- "${args[@]}" 2>&1); then pass "${out#PASS }"; else fail "$out"; fi
  # The unit's real ExecStart= (the module's function, quoting, $HLS_SWARM_ARGS and the
  # credential paths), split by an emulation of systemd's rules, run against the binary
  # with the URL (with a token) and the headers in a credentials directory.
  creds="$tmp/credentials"
  mkdir -p "$creds"
  secret="tok-$$-SECRET"
  printf 'http://127.0.0.1:9/lab.m3u8?token=%s\n' "$secret" >"$creds/stream-url"
  printf 'Authorization: Bearer %s\n' "$secret" >"$creds/headers"
  line=$(render --argstr what execStart --argstr program "$BIN" | jq -r .)
  # shellcheck disable=SC2016 # a literal $HOME: systemd's %% and $$ must arrive as % and $
  want_ua='-user-agent=lab 100% $HOME "quoted"'
  if mapfile -t argv < <(python3 tests/lab/systemd-exec.py --credentials "$creds" \
    --env "HLS_SWARM_ARGS=-timeout=5s  -variant=lowest" -- "$line") && [ "${#argv[@]}" -gt 1 ] &&
    [ "${argv[0]}" = "$BIN" ] && ! printf '%s\n' "${argv[@]}" | grep -q 'http://' &&
    printf '%s\n' "${argv[@]}" | grep -qx -- "-url-file=$creds/stream-url" &&
    printf '%s\n' "${argv[@]}" | grep -qxF -- "$want_ua"; then
    # Only what cannot work outside the unit changes: a short run, the metrics port on
    # loopback, the report in a writable place (the unit's is in its state directory).
    run=()
    for a in "${argv[@]}"; do
      case $a in
        -duration=*) run+=(-duration=1s) ;;
        -metrics=*) run+=(-metrics=127.0.0.1:0) ;;
        --output=*) run+=("--output=$tmp/unit-report.json") ;;
        *) run+=("$a") ;;
      esac
    done
    rc=0
    timeout --kill-after=5 30 "${run[@]}" >"$tmp/unit.out" 2>&1 </dev/null || rc=$?
    if { [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || [ "$rc" -eq 3 ]; } && ! grep -q "$secret" "$tmp/unit.out" "$tmp/unit-report.json" 2>/dev/null; then
      pass "module ExecStart: ${#argv[@]} words after systemd's splitting, URL read from the credential, accepted by the binary (exit $rc), token in no output"
    else
      fail "module ExecStart: exit $rc or the token was shown"; tail -n 5 "$tmp/unit.out"
    fi
  else
    fail "module ExecStart did not split as intended: $line"
  fi

  # The container entrypoint's mapping of every documented variable.
  mapfile -t args < <(env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 STREAM_URL=http://origin:17080/stream.m3u8 CLIENTS=20 \
    RAMP_RATE=5 RAMP_JITTER=100 DURATION=30s METRICS_PORT=17091 VARIANT=lowest TIMEOUT=10 NO_CACHE=1 \
    RESOLVE_IP=127.0.0.1 DANGEROUS=1 ENGINE=native JOB_COMPLETION_INDEX=3 \
    EXTRA_ARGS="-seg-retry 2 -reconnect=false" bash nix/swarm-client/entrypoint.sh)
  expect=(-tui=false -clients 20 -ramp-rate 5 -ramp-jitter 100ms -duration 30s -metrics 0.0.0.0:17091
    -variant lowest -timeout 10s -no-cache -resolve 127.0.0.1 --dangerous -engine native
    -client-id-offset 60 -seg-retry 2 -reconnect=false -url-file /proc/self/fd/3)
  if [ "${args[*]}" = "${expect[*]}" ]; then pass "container entrypoint maps the environment: ${args[*]}"; else fail "container entrypoint: got ${args[*]}"; fi
  # The entrypoint hands STREAM_URL over on fd 3 (-url-file /proc/self/fd/3).
  if out=$(tests/lab/check-cmdline.sh --bin "$BIN" --name "container entrypoint command line" -- "${args[@]}" 2>&1 3<<<"http://127.0.0.1:9/lab.m3u8"); then pass "${out#PASS }"; else fail "$out"; fi
  # For real: STREAM_URL (with a token) reaches hls-swarm on a pipe, never in its argv or
  # output; STREAM_URL_FILE and HEADER_FILE are passed as files.
  rc=0
  env -i PATH="$PATH" HLS_SWARM_BIN="$BIN" STREAM_URL="http://127.0.0.1:9/lab.m3u8?token=$secret" \
    CLIENTS=2 DURATION=1s METRICS_PORT=0 HEADER_FILE="$creds/headers" \
    timeout --kill-after=5 30 bash nix/swarm-client/entrypoint.sh >"$tmp/ctr.out" 2>&1 </dev/null || rc=$?
  if { [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; } && grep -q '127.0.0.1:9/lab.m3u8' "$tmp/ctr.out" && ! grep -q "$secret" "$tmp/ctr.out"; then
    pass "container entrypoint runs the binary with STREAM_URL on a pipe (exit $rc), token in no output"
  else
    fail "container entrypoint with STREAM_URL: exit $rc"; tail -n 5 "$tmp/ctr.out"
  fi
  mapfile -t args < <(env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 STREAM_URL_FILE=/run/secrets/url bash nix/swarm-client/entrypoint.sh)
  if [ "${args[*]: -2}" = "-url-file /run/secrets/url" ]; then pass "container entrypoint maps STREAM_URL_FILE to -url-file"; else fail "STREAM_URL_FILE: ${args[*]}"; fi
  if env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 bash nix/swarm-client/entrypoint.sh >/dev/null 2>&1; then
    fail "container entrypoint must refuse to start without STREAM_URL or arguments"
  else
    pass "container entrypoint refuses to start without STREAM_URL or arguments"
  fi
  mapfile -t args < <(env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 bash nix/swarm-client/entrypoint.sh -clients 3 http://x/y.m3u8)
  if [ "${args[*]}" = "-tui=false -clients 3 http://x/y.m3u8" ]; then pass "container entrypoint passes arguments through"; else fail "container pass-through: ${args[*]}"; fi
  # The Kubernetes Deployment's args.
  mapfile -t args < <(python3 -c 'import sys, yaml
d = yaml.safe_load(open("k8s/deployment.yaml"))
print("\n".join(d["spec"]["template"]["spec"]["containers"][0]["args"]))')
  # The URL file the pods read is the mounted Secret's key: here, a file holding its value.
  python3 - "$tmp/k8s-stream-url" <<'PY' || fail "k8s: the stream-url Secret is not where the pods read it"
import sys, yaml
secret = yaml.safe_load(open("k8s/stream-url-secret.yaml"))
for f in ("k8s/deployment.yaml", "k8s/indexed-job.yaml"):
    pod = yaml.safe_load(open(f))["spec"]["template"]["spec"]
    vol = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]]
    mnt = [m for m in pod["containers"][0]["volumeMounts"] if vol and m["name"] == vol[0]["name"]]
    assert mnt and mnt[0]["mountPath"] == "/etc/hls-swarm", f
open(sys.argv[1], "w").write(secret["stringData"]["stream-url"] + "\n")
PY
  args=("${args[@]/#\/etc\/hls-swarm\/stream-url/$tmp/k8s-stream-url}")
  if out=$(tests/lab/check-cmdline.sh --bin "$BIN" --name "k8s Deployment args" -- -tui=false "${args[@]}" 2>&1); then pass "${out#PASS }"; else fail "$out"; fi
  # The Indexed Job's environment, through the entrypoint, as pod 2 would run it.
  mapfile -t job_env < <(python3 -c 'import yaml
d = yaml.safe_load(open("k8s/indexed-job.yaml"))
for e in d["spec"]["template"]["spec"]["containers"][0]["env"]:
    print(e["name"] + "=" + e["value"])')
  mapfile -t args < <(env -i PATH="$PATH" "${job_env[@]}" HLS_SWARM_DRY_RUN=1 JOB_COMPLETION_INDEX=2 bash nix/swarm-client/entrypoint.sh)
  if printf '%s\n' "${args[@]}" | grep -qx 2/3 && ! printf '%s\n' "${args[@]}" | grep -qx -- -client-id-offset; then
    pass "k8s Indexed Job: pod 2 gets --shard 2/3 (ids from the whole test, no offset)"
  else
    fail "k8s Indexed Job shard: ${args[*]}"
  fi
  # SHARDS without an index is refused; SHARD_INDEX, START_AT and RUN_ID are mapped.
  if env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 STREAM_URL_FILE=/x SHARDS=3 bash nix/swarm-client/entrypoint.sh >/dev/null 2>&1; then
    fail "container entrypoint must refuse SHARDS without an index"
  else
    pass "container entrypoint refuses SHARDS without JOB_COMPLETION_INDEX or SHARD_INDEX"
  fi
  mapfile -t shard_args < <(env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 STREAM_URL_FILE=/x SHARDS=4 SHARD_INDEX=1 \
    START_AT=2026-12-06T20:00:00Z RUN_ID=r1 REPORT=stdout bash nix/swarm-client/entrypoint.sh)
  if [ "${shard_args[*]}" = "-tui=false -metrics 0.0.0.0:17091 --shard 1/4 --start-at 2026-12-06T20:00:00Z --run-id r1 --output - -url-file /x" ]; then
    pass "container entrypoint maps SHARDS/SHARD_INDEX, START_AT, RUN_ID and REPORT=stdout (--output -)"
  else
    fail "container entrypoint shards: ${shard_args[*]}"
  fi
  mapfile -t report_args < <(env -i PATH="$PATH" HLS_SWARM_DRY_RUN=1 STREAM_URL_FILE=/x REPORT=/reports/r.json bash nix/swarm-client/entrypoint.sh)
  if [ "${report_args[*]: -4:2}" = "--output /reports/r.json" ]; then
    pass "container entrypoint maps REPORT=PATH to --output PATH"
  else
    fail "container entrypoint REPORT=PATH: ${report_args[*]}"
  fi
  if printf '%s\n' "${args[@]}" | grep -qx -- --output && [ "$(printf '%s\n' "${args[@]}" | grep -A1 -x -- --output | tail -n 1)" = - ]; then
    pass "k8s Indexed Job: every pod prints its report as the last line of its log (REPORT=stdout, --output -)"
  else
    fail "k8s Indexed Job: no --output - in ${args[*]}"
  fi
  args=("${args[@]/#\/etc\/hls-swarm\/stream-url/$tmp/k8s-stream-url}")
  if out=$(tests/lab/check-cmdline.sh --bin "$BIN" --name "k8s Indexed Job command line" -- "${args[@]}" 2>&1); then pass "${out#PASS }"; else fail "$out"; fi
fi

echo "== Kubernetes manifests and Prometheus configuration"
if yamllint --strict -c k8s/.yamllint.yaml k8s/ >"$tmp/yl" 2>&1; then pass "yamllint --strict k8s/"; else fail "yamllint"; cat "$tmp/yl"; fi
manifests=()
for f in k8s/*.yaml; do [ "$f" = k8s/kustomization.yaml ] || manifests+=("$f"); done
if python3 - "${manifests[@]}" <<'PY' >"$tmp/k8s-facts" 2>&1; then pass "k8s: $(paste -sd ';' "$tmp/k8s-facts")"; else fail "k8s consistency"; cat "$tmp/k8s-facts"; fi
import re, sys, yaml
files = sys.argv[1:]
k = yaml.safe_load(open("k8s/kustomization.yaml"))
assert sorted(k["resources"]) == sorted(f.split("/", 1)[1] for f in files), "kustomization.yaml resources != k8s/*.yaml"
names = {i["name"] for i in k["images"]}
docs = [d for f in files for d in yaml.safe_load_all(open(f)) if d]
images = [c["image"] for d in docs if "template" in d.get("spec", {}) for c in d["spec"]["template"]["spec"]["containers"]]
assert images and all(i.split(":")[0] in names for i in images), f"images {images} not all rewritten by kustomization images {names}"
print(f"{len(images)} container images set from kustomization.yaml's images")
cm = yaml.safe_load(open("k8s/prometheus-config.yaml"))["data"]
for f in ("alerts.yml", "recording.yml"):
    assert cm[f] == open("monitoring/" + f).read(), f"prometheus-config.yaml {f} differs from monitoring/{f}"
prom = yaml.safe_load(cm["prometheus.yml"])
assert prom["global"].get("evaluation_interval"), "no evaluation_interval"
assert sorted(prom["rule_files"]) == ["/etc/prometheus/alerts.yml", "/etc/prometheus/recording.yml"], prom["rule_files"]
alerts = [r["alert"] for g in yaml.safe_load(cm["alerts.yml"])["groups"] for r in g["rules"] if "alert" in r]
print(f" prometheus-config.yaml carries monitoring/alerts.yml ({len(alerts)} alerts) and recording.yml verbatim, evaluation_interval {prom['global']['evaluation_interval']}")
recorded = set()
for text in [open("monitoring/recording.yml").read()] + [open(f).read() for f in files]:
    recorded |= set(re.findall(r"record:\s*([a-z_]+:[a-z0-9_:]+)", text))
used = set()
for f in files:
    used |= set(re.findall(r"\b([a-z]+:hls_swarm_[a-z0-9_:]+)", open(f).read()))
missing = sorted(u for u in used if u not in recorded)
assert not missing, f"recorded series used in k8s/ but recorded nowhere: {missing}"
print(f" {len(used)} recorded series named in k8s/ are all recorded (monitoring/recording.yml or k8s/ rules)")
PY
if kubernetes-validate --strict --quiet "${manifests[@]}" >"$tmp/kv" 2>&1; then pass "kubernetes-validate --strict (bundled schemas): ${#manifests[@]} manifests"; else fail "kubernetes-validate"; cat "$tmp/kv"; fi
for f in k8s/prometheus-config.yaml k8s/prometheus-federation.yaml; do
  dir="$tmp/prom-$(basename "$f" .yaml)"
  mkdir -p "$dir"
  # Debian's promtool is built without Kubernetes service discovery: where it lacks it,
  # jobs using kubernetes_sd_configs are left out of its check (yamllint saw them).
  k8s_sd=1
  printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n' >"$tmp/sdprobe.yml"
  promtool check config "$tmp/sdprobe.yml" >/dev/null 2>&1 || k8s_sd=0
  python3 - "$f" "$dir" "$k8s_sd" <<'PY'
import sys, yaml
src, out, k8s_sd = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
for name, text in yaml.safe_load(open(src))["data"].items():
    text = text.replace("/etc/prometheus/", out + "/")
    if name == "prometheus.yml" and not k8s_sd:
        cfg = yaml.safe_load(text)
        cfg["scrape_configs"] = [j for j in cfg["scrape_configs"] if "kubernetes_sd_configs" not in j]
        text = yaml.safe_dump(cfg)
    with open(f"{out}/{name}", "w") as fh:
        fh.write(text)
PY
  note=""
  [ "$k8s_sd" -eq 1 ] || note=" (this promtool has no Kubernetes SD: those jobs left out)"
  if promtool check config "$dir/prometheus.yml" >"$tmp/pt" 2>&1; then pass "promtool check config: $f with its rules$note"; else fail "promtool: $f"; cat "$tmp/pt"; fi
done

echo "lab-checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

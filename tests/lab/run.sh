#!/usr/bin/env bash
# The namespace lab: the MicroVM topology of nix/lab.json built from network namespaces,
# a real origin (Debian's nginx + the ffmpeg generator, both from the rendered files in
# nix/rendered/<profile>/, plus prometheus-node-exporter and prometheus-nginx-exporter),
# and hls-swarm runs whose figures are checked against the origin's access log.
#
#   sudo tests/lab/run.sh [--bin PATH]          (cargo test runs it: tests/lab_namespaces.rs)
#
# Environment:
#   LAB_PROFILE=ci          origin profile (nix/lab.json)
#   LAB_VIEWERS=200         native viewers (client 10.177.0.21)
#   LAB_FFMPEG_VIEWERS=20   FFmpeg-engine viewers (client 10.177.0.22); 0 skips
#   LAB_FFMPEG=auto         auto: run the FFmpeg part when the binary has -engine;
#                           on: fail when it lacks it; off: skip
#   LAB_DURATION=30s        length of each swarm run
#   LAB_SHARDS=auto         the shards phase (below): auto runs it when the binary has
#                           --shard; on: fail when it lacks it; off: skip
#   LAB_SHARD_VIEWERS=60    viewers of the whole 3-pod test (ramped at 60/s)
#   LAB_SHARD_DURATION=20s  its length
#   LAB_ARTIFACTS=DIR       copy logs, reports and the access log there at the end
#
# Checks (each prints PASS/FAIL; the last line is "lab: N passed, N failed"):
#   every viewer active at the peak and at the end, no viewer failed, zero errors;
#   per-kind request counts and body bytes equal the nginx access log for that client;
#   every logged request was a 200; the rendered nginx.conf is the one that ran;
#   the exporters report non-zero origin metrics; with -metrics, /metrics shows every
#   viewer active; with -origin-metrics-host, the swarm's origin figures are non-zero.
#
# Shards phase: one test run as 3 "pods" of a Kubernetes Indexed Job. The container
# entrypoint (nix/swarm-client/entrypoint.sh) runs 3 times, as nobody, with nothing in
# its environment but what k8s/indexed-job.yaml gives a pod (JOB_COMPLETION_INDEX=i,
# SHARDS=3, START_AT, RUN_ID, REPORT=stdout, ...), each in its own namespace (pod i at
# 10.177.0.5(1+i)), started a second apart. Each pod's stdout and stderr go to one log,
# as a container runtime keeps them; the logs concatenated (what `kubectl logs -l ...`
# prints) are merged by `hls-swarm merge -`. Checks: every pod's last log line is its
# report; the merged per-kind counts and bytes equal the access log of the 3 addresses;
# viewer ids and User-Agents are 0..N-1, each from one pod only, the pod of its shard;
# every pod's first viewer request began within 100 ms of START_AT (nginx's $msec minus
# $request_time); the merge's verdict and exit code (0 with SLOs that hold, 3 with one
# that cannot).
#
# Everything started here is stopped by PID, then by namespace, on every exit path.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${HLS_SWARM_BIN:-}
while [ "$#" -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH]" >&2; exit 2 ;;
  esac
done
[ -n "$BIN" ] || BIN="$LAB_ROOT/target/debug/hls-swarm"
# Spawned processes start in other directories.
[ ! -e "$BIN" ] || BIN=$(realpath "$BIN")
PROFILE=${LAB_PROFILE:-ci}
VIEWERS=${LAB_VIEWERS:-200}
FFMPEG_VIEWERS=${LAB_FFMPEG_VIEWERS:-20}
FFMPEG_MODE=${LAB_FFMPEG:-auto}
DURATION=${LAB_DURATION:-30s}
RAMP_RATE=50
SHARDS_MODE=${LAB_SHARDS:-auto}
SHARD_VIEWERS=${LAB_SHARD_VIEWERS:-60}
SHARD_DURATION=${LAB_SHARD_DURATION:-20s}
SHARD_RAMP_RATE=60
PODS=3

[ "$(id -u)" -eq 0 ] || { echo "lab: needs root (network namespaces)" >&2; exit 1; }
missing=()
for tool in ip jq curl nginx ffmpeg ffprobe setpriv prometheus-node-exporter prometheus-nginx-exporter; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -x "$BIN" ] || missing+=("hls-swarm binary at $BIN")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "lab: missing: ${missing[*]} (scripts/test.sh installs the Debian packages)" >&2
  exit 1
fi
rendered="$LAB_ROOT/nix/rendered/$PROFILE"
[ -f "$rendered/nginx.conf" ] || { echo "lab: no rendered profile '$PROFILE' (scripts/render-lab.sh)" >&2; exit 1; }

LAB_ID=$$
origin_addr=$(lab_json .network.origin.address)
origin_port=$(lab_json .ports.origin)
node_port=$(lab_json .ports.nodeExporter)
nginx_exp_port=$(lab_json .ports.nginxExporter)
metrics_port=$(lab_json .ports.swarmMetrics)
client_addr() { printf '%s%d' "$(lab_json .network.clients.addressPrefix)" $(($(lab_json .network.clients.firstHost) + $1 - 1)); }
c1_addr=$(client_addr 1)
c2_addr=$(client_addr 2)
# The shards phase's pods: 10.177.0.51, .52, .53, above the client VMs' range (.21-.40).
pod_addr() { printf '%s%d' "$(lab_json .network.clients.addressPrefix)" $((51 + $1)); }
entry=$(cat "$rendered/entry")
url="http://$origin_addr:$origin_port/$entry"

# --- teardown, on every exit path ---------------------------------------------------------
pids=()
work=""
nginx_pid=""
spawned=""
passed=0
failed=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  lab_stop_pids "${pids[@]}"
  for role in p2 p1 p0 c2 c1 origin br; do lab_ns_delete "$(lab_ns "$role")"; done
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ -n "${LAB_ARTIFACTS:-}" ]; then
      mkdir -p "$LAB_ARTIFACTS"
      cp -r "$work/logs" "$work/origin/logs" "$LAB_ARTIFACTS/" 2>/dev/null || true
      cp "$work"/*.json "$LAB_ARTIFACTS/" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ]; then
      for f in "$work"/logs/*.log; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f") (last 20 lines, cut at 400 characters)" >&2
        tail -n 20 "$f" | cut -c 1-400 >&2
      done
    fi
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1)); printf 'PASS %s (%s)\n' "$1" "$3"
  else
    failed=$((failed + 1)); printf 'FAIL %s: expected %s, got %s\n' "$1" "$2" "$3"
  fi
}
check_true() { # NAME DETAIL CONDITION-RESULT(0/1)
  if [ "$3" -eq 0 ]; then
    passed=$((passed + 1)); printf 'PASS %s (%s)\n' "$1" "$2"
  else
    failed=$((failed + 1)); printf 'FAIL %s (%s)\n' "$1" "$2"
  fi
}

# spawn NAME ROLE CWD AS-NOBODY(0/1) CMD...: start CMD inside ROLE's namespace; its PID
# is recorded for teardown and left in $spawned.
spawn() {
  local name=$1 ns cwd=$3 drop=$4
  ns=$(lab_ns "$2")
  shift 4
  local priv=()
  [ "$drop" -eq 1 ] && priv=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  (
    cd "$cwd"
    # As many descriptors as allowed (nginx asks for 65536; a container may cap it lower).
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    exec ip netns exec "$ns" "${priv[@]}" "$@"
  ) >"$work/logs/$name.log" 2>&1 &
  spawned=$!
  pids+=("$spawned")
}

in_ns() { local ns; ns=$(lab_ns "$1"); shift; ip netns exec "$ns" "$@"; }

# --- topology ----------------------------------------------------------------------------
lab_sweep stale
work=$(mktemp -d "$(lab_work_parent)/$LAB_NS_PREFIX$LAB_ID.XXXXXX")
chmod 0755 "$work"
mkdir -p "$work/logs" "$work/origin/hls" "$work/origin/logs" "$work/origin/run"
chown -R nobody:nogroup "$work/origin"
# nginx runs as nobody and may not reach the checkout: it gets a byte-identical copy.
install -m 0644 "$rendered/nginx.conf" "$work/origin/nginx.conf"
mapfile -t ffmpeg_args <"$rendered/ffmpeg.args"

lab_bridge
lab_host origin "$origin_addr"
lab_host c1 "$c1_addr"
lab_host c2 "$c2_addr"
lab_sysctls "$(lab_ns origin)" origin
lab_sysctls "$(lab_ns c1)" client
lab_sysctls "$(lab_ns c2)" client
for i in $(seq 0 $((PODS - 1))); do
  lab_host "p$i" "$(pod_addr "$i")"
  lab_sysctls "$(lab_ns "p$i")" client
done
lab_log "topology up: origin $origin_addr, clients $c1_addr $c2_addr, pods $(pod_addr 0)-$(pod_addr $((PODS - 1))) (profile $PROFILE, work $work)"

# --- origin --------------------------------------------------------------------------------
spawn generator origin "$work/origin/hls" 1 ffmpeg "${ffmpeg_args[@]}"
generator_pid=$spawned
spawn nginx origin "$work/origin" 1 nginx -c "$work/origin/nginx.conf" -p "$work/origin/" -e stderr
nginx_pid=$spawned
if ! lab_wait 10 in_ns br curl -sf "http://$origin_addr:$origin_port/health"; then
  echo "lab: nginx did not answer /health" >&2; exit 1
fi
mapfile -t collectors < <(lab_json '.origin.nodeExporterCollectors[]')
spawn node-exporter origin / 1 prometheus-node-exporter \
  "--web.listen-address=$origin_addr:$node_port" --collector.disable-defaults \
  "${collectors[@]/#/--collector.}"
spawn nginx-exporter origin / 1 prometheus-nginx-exporter \
  "--nginx.scrape-uri=http://$origin_addr:$origin_port/nginx_status" \
  "--web.listen-address=$origin_addr:$nginx_exp_port"

# Viewers start 3 target durations behind the live edge: wait until every media playlist
# lists at least 3 segments. Probes come from the bridge namespace (10.177.0.1, like the
# VM host), so the clients' access-log lines are the swarms' alone.
stream_ready() {
  local playlists p
  if [ "$entry" = master.m3u8 ]; then
    playlists=$(in_ns br curl -sf "http://$origin_addr:$origin_port/master.m3u8" | grep -v '^#' | grep .) || return 1
  else
    playlists=$entry
  fi
  for p in $playlists; do
    [ "$(in_ns br curl -sf "http://$origin_addr:$origin_port/$p" | grep -c '^#EXTINF')" -ge 3 ] || return 1
  done
}
lab_wait 45 stream_ready || { echo "lab: the generator produced no stream in 45 s" >&2; exit 1; }
lab_wait 10 in_ns br curl -sf "http://$origin_addr:$node_port/metrics" || { echo "lab: node exporter down" >&2; exit 1; }
lab_wait 10 in_ns br curl -sf "http://$origin_addr:$nginx_exp_port/metrics" || { echo "lab: nginx exporter down" >&2; exit 1; }
lab_log "origin ready: $url"

# --- flags the binary has (some arrive with other branches) --------------------------------
help_text=$("$BIN" --help 2>&1 || true)
has_flag() { grep -Eq -- "(^|[[:space:],])--$1([[:space:]=,]|\$)" <<<"$help_text"; }

# access_summary ADDR...: per-kind count/bytes of the access log lines from the ADDRs.
access_summary() {
  jq -s --arg addrs "$*" '
    ($addrs | split(" ")) as $from
    | [ .[] | select(.addr as $a | any($from[]; . == $a))
      | . + { kind: (if .uri == "/master.m3u8" then "master"
                     elif (.uri | endswith(".m3u8")) then "playlist"
                     elif (.uri | endswith(".ts")) then "segment"
                     else "other" end) } ]
    | { requests: length,
        bytes: (map(.bytes) | add // 0),
        non_2xx: (map(select(.status < 200 or .status > 299)) | length),
        kinds: (reduce .[] as $l ({}; .[$l.kind].count += 1 | .[$l.kind].bytes += $l.bytes)) }
  ' "$work/origin/logs/access.log"
}

# Make nginx write out its buffered access-log lines (USR1 reopens the log files).
flush_access_log() {
  kill -USR1 "$nginx_pid"
  sleep 1.5
}

# swarm_run NAME ROLE ADDR VIEWERS ENGINE: run, then check the report against the log.
swarm_run() {
  local name=$1 role=$2 addr=$3 n=$4 engine=$5
  local report="$work/$name.json" args rc metrics_seen=""
  args=("$url" -clients "$n" -ramp-rate "$RAMP_RATE" -variant lowest -duration "$DURATION"
    -user-agent "hls-swarm-lab-$name" -log-format text --output "$report")
  [ "$engine" = native ] || args+=(-engine "$engine")
  has_flag metrics && args+=(-metrics "$addr:$metrics_port")
  has_flag tui && args+=(-tui=false)
  has_flag origin-metrics-host && args+=(-origin-metrics-host "$origin_addr")
  lab_log "$name: hls-swarm ${args[*]}"
  local pid
  spawn "$name" "$role" "$work" 0 timeout --signal=INT --kill-after=10 "$((${DURATION%s} + 60))" "$BIN" "${args[@]}"
  pid=$spawned
  if has_flag metrics; then
    # Sample /metrics once the ramp is over.
    sleep $((n / RAMP_RATE + 6))
    metrics_seen=$(in_ns "$role" curl -sf "http://$addr:$metrics_port/metrics" || true)
    printf '%s\n' "$metrics_seen" >"$work/logs/$name.metrics.txt"
  fi
  rc=0
  wait "$pid" || rc=$?
  check "$name: hls-swarm exit code" 0 "$rc"
  [ -s "$report" ] || { check "$name: report written" yes no; return; }

  flush_access_log
  local log
  log=$(access_summary "$addr")
  printf '%s\n' "$log" >"$work/$name.access-summary.json"
  local r=(jq -r)
  check "$name: peak active viewers" "$n" "$("${r[@]}" .viewers.peak_active "$report")"
  check "$name: active viewers at end" "$n" "$("${r[@]}" .viewers.active_at_end "$report")"
  check "$name: viewer failures" 0 "$("${r[@]}" .viewers.failures "$report")"
  check "$name: errors" 0 "$("${r[@]}" .errors.total "$report")"
  # FFmpeg asks for `Range: bytes=0-`, which nginx answers with 206: success too.
  check "$name: non-2xx lines in the access log" 0 "$(jq -r .non_2xx <<<"$log")"
  check "$name: unclassified requests in the access log" 0 "$(jq -r '.kinds.other.count // 0' <<<"$log")"
  local kind
  for kind in master playlist segment; do
    check "$name: $kind requests = access log" \
      "$(jq -r ".kinds.$kind.count // 0" <<<"$log")" "$("${r[@]}" ".requests.$kind.count // 0" "$report")"
    check "$name: $kind body bytes = access log" \
      "$(jq -r ".kinds.$kind.bytes // 0" <<<"$log")" "$("${r[@]}" ".requests.$kind.bytes // 0" "$report")"
  done
  check "$name: total bytes = access log" "$(jq -r .bytes <<<"$log")" "$("${r[@]}" .total_bytes "$report")"
  if [ "$(jq -r .requests <<<"$log")" -eq 0 ]; then check "$name: requests reached the origin" yes no; fi

  if has_flag metrics; then
    check "$name: /metrics hls_swarm_active_clients after the ramp" "$n" \
      "$(awk '$1 == "hls_swarm_active_clients" { print $2 + 0 }' <<<"$metrics_seen")"
  fi
  if has_flag origin-metrics-host; then
    # The swarm scraped the origin's exporters: some origin figure it reports is non-zero,
    # in its report (an "origin" section) or on /metrics (hls_swarm_origin_* samples).
    local nonzero=1
    jq -e '[.origin // {} | .. | numbers] | any(. > 0)' "$report" >/dev/null 2>&1 && nonzero=0
    awk '$1 ~ /^hls_swarm_origin_/ && $2 + 0 > 0 { found = 1 } END { exit !found }' <<<"$metrics_seen" && nonzero=0
    check_true "$name: swarm's origin metrics non-zero (-origin-metrics-host)" "report .origin or /metrics hls_swarm_origin_*" "$nonzero"
  fi
}

swarm_run native c1 "$c1_addr" "$VIEWERS" native

run_ffmpeg=0
case "$FFMPEG_MODE" in
  on) run_ffmpeg=1 ;;
  auto) has_flag engine && run_ffmpeg=1 ;;
  off) ;;
  *) echo "lab: LAB_FFMPEG must be auto, on or off" >&2; exit 2 ;;
esac
if [ "$FFMPEG_VIEWERS" -gt 0 ] && [ "$run_ffmpeg" -eq 1 ]; then
  swarm_run ffmpeg c2 "$c2_addr" "$FFMPEG_VIEWERS" ffmpeg
else
  lab_log "FFmpeg-engine run skipped (binary has no -engine flag yet, or LAB_FFMPEG=off)"
fi

# --- shards: the container entrypoint as the 3 pods of an Indexed Job ---------------------
# pod_log I: pod I's log, stdout and stderr together, as the container runtime keeps it.
pod_log() { printf '%s/logs/pod-%d.log' "$work" "$1"; }

shards_phase() {
  local run_id="lab-shards-$LAB_ID" i rc pod_pids=() addrs=() t0 start_at start_epoch
  for i in $(seq 0 $((PODS - 1))); do addrs+=("$(pod_addr "$i")"); done
  # One instant for every pod, 6 s ahead; the pods start a second apart, as a scheduler
  # places them, and must all wait for it.
  t0=$(date +%s)
  start_at=$(date -u -d "@$((t0 + 6))" +%Y-%m-%dT%H:%M:%S.000Z)
  start_epoch=$((t0 + 6))
  lab_log "shards: $PODS pods of $SHARD_VIEWERS viewers, START_AT $start_at, RUN_ID $run_id"
  for i in $(seq 0 $((PODS - 1))); do
    [ "$i" -eq 0 ] || sleep 1
    # Nothing but a pod's environment (k8s/indexed-job.yaml, and what Kubernetes adds).
    spawn "pod-$i" "p$i" "$work" 1 timeout --signal=INT --kill-after=10 "$((${SHARD_DURATION%s} + 60))" \
      env -i PATH="$PATH" HOME=/tmp HLS_SWARM_BIN="$BIN" \
      STREAM_URL="$url" CLIENTS="$SHARD_VIEWERS" RAMP_RATE="$SHARD_RAMP_RATE" SHARDS="$PODS" \
      JOB_COMPLETION_INDEX="$i" START_AT="$start_at" RUN_ID="$run_id" DURATION="$SHARD_DURATION" \
      METRICS_PORT="$metrics_port" VARIANT=lowest REPORT=stdout \
      bash "$LAB_ROOT/nix/swarm-client/entrypoint.sh"
    pod_pids+=("$spawned")
  done
  for i in $(seq 0 $((PODS - 1))); do
    rc=0
    wait "${pod_pids[$i]}" || rc=$?
    check "shards: pod $i exit code" 0 "$rc"
    # The contract: the last line of the pod's log is its report, of its shard.
    check "shards: pod $i's last log line is its report (shard $i/$PODS, run $run_id)" "$i/$PODS $run_id" \
      "$(tail -n 1 "$(pod_log "$i")" | jq -r '"\(.run.shard.index)/\(.run.shard.count) \(.run.id)"' 2>/dev/null || echo "no JSON")"
    check "shards: pod $i reached START_AT in time (run.start_late_seconds)" 0 \
      "$(tail -n 1 "$(pod_log "$i")" | jq -r '.run.start_late_seconds' 2>/dev/null || echo "no JSON")"
  done

  # What `kubectl logs -l job-name=... --tail=-1` prints: the pods' logs, one after another.
  local logs="$work/kubectl-logs.txt" merged="$work/shards-merged.json"
  for i in $(seq 0 $((PODS - 1))); do cat "$(pod_log "$i")"; done >"$logs"
  rc=0
  "$BIN" merge - --output "$merged" --slo-min-active-ratio 1.0 --slo-max-error-rate 0 \
    <"$logs" >"$work/logs/merge.log" 2>&1 || rc=$?
  check "shards: hls-swarm merge - exit code (SLOs that hold)" 0 "$rc"
  [ -s "$merged" ] || { check "shards: merged report written" yes no; return; }
  local r=(jq -r)
  check "shards: merged report holds every shard" "[0,1,2] $SHARD_VIEWERS" \
    "$("${r[@]}" '"\(.run.merged.indices | tojson) \(.viewers.target)"' "$merged")"
  check "shards: merged SLO verdict" true "$("${r[@]}" .slo.passed "$merged")"
  check "shards: merged peak active viewers" "$SHARD_VIEWERS" "$("${r[@]}" .viewers.peak_active "$merged")"
  check "shards: merged active viewers at end" "$SHARD_VIEWERS" "$("${r[@]}" .viewers.active_at_end "$merged")"
  check "shards: merged errors" 0 "$("${r[@]}" .errors.total "$merged")"
  # The same logs judged by an objective no run can meet: the verdict is the merge's.
  rc=0
  "$BIN" merge - --slo-p95-segment-ttfb 1us <"$logs" >"$work/logs/merge-failing-slo.log" 2>&1 || rc=$?
  check "shards: hls-swarm merge - exit code (--slo-p95-segment-ttfb 1us)" 3 "$rc"

  flush_access_log
  local log kind
  log=$(access_summary "${addrs[@]}")
  printf '%s\n' "$log" >"$work/shards.access-summary.json"
  if [ "$(jq -r .requests <<<"$log")" -eq 0 ]; then check "shards: requests reached the origin" yes no; fi
  check "shards: non-2xx lines in the access log" 0 "$(jq -r .non_2xx <<<"$log")"
  for kind in master playlist segment; do
    check "shards: merged $kind requests = access log of the 3 pods" \
      "$(jq -r ".kinds.$kind.count // 0" <<<"$log")" "$("${r[@]}" ".requests.$kind.count // 0" "$merged")"
    check "shards: merged $kind body bytes = access log of the 3 pods" \
      "$(jq -r ".kinds.$kind.bytes // 0" <<<"$log")" "$("${r[@]}" ".requests.$kind.bytes // 0" "$merged")"
  done
  check "shards: merged total bytes = access log of the 3 pods" "$(jq -r .bytes <<<"$log")" "$("${r[@]}" .total_bytes "$merged")"

  # Viewers, from the access log: User-Agent <base>/client-<id>. (Each pod's stream probe,
  # before the wait, sends the base User-Agent without an id; it is no viewer.)
  local viewers
  viewers=$(jq -s --arg addrs "${addrs[*]}" --argjson n "$SHARD_VIEWERS" '
    ($addrs | split(" ")) as $pods
    | [ .[] | select(.addr as $a | any($pods[]; . == $a)) | select(.ua | test("/client-[0-9]+$"))
        | { ua, pod: (.addr as $a | $pods | index($a)),
            id: (.ua | capture("/client-(?<id>[0-9]+)$").id | tonumber),
            began: (.time - .request_time) } ]
    | { ids_ok: (([.[].id] | unique) == [range(0; $n)]),
        uas: ([.[].ua] | unique | length),
        shared_uas: (group_by(.ua) | map(select((map(.pod) | unique | length) > 1)) | length),
        off_shard: (map(select(.id % ($pods | length) != .pod)) | length),
        first: (group_by(.pod) | map({ key: (.[0].pod | tostring), value: (map(.began) | min) }) | from_entries) }
  ' "$work/origin/logs/access.log")
  printf '%s\n' "$viewers" >"$work/shards.viewers.json"
  check "shards: viewer ids in the access log are exactly 0..$((SHARD_VIEWERS - 1))" true "$(jq -r .ids_ok <<<"$viewers")"
  check "shards: distinct viewer User-Agents" "$SHARD_VIEWERS" "$(jq -r .uas <<<"$viewers")"
  check "shards: User-Agents seen from more than one pod" 0 "$(jq -r .shared_uas <<<"$viewers")"
  check "shards: viewers in a pod other than their shard's (id mod 3)" 0 "$(jq -r .off_shard <<<"$viewers")"
  local first ms
  for i in $(seq 0 $((PODS - 1))); do
    first=$(jq -r --arg i "$i" '.first[$i] // "none"' <<<"$viewers")
    if [ "$first" = none ]; then check "shards: pod $i's first viewer request" "logged" "none"; continue; fi
    ms=$(awk -v f="$first" -v s="$start_epoch" 'BEGIN { printf "%.0f", (f - s) * 1000 }')
    check_true "shards: pod $i's first viewer request began within 100 ms of START_AT" \
      "${ms} ms after it" "$([ "${ms#-}" -le 100 ]; echo $?)"
  done
}

run_shards=0
case "$SHARDS_MODE" in
  on) run_shards=1 ;;
  auto) has_flag shard && run_shards=1 ;;
  off) ;;
  *) echo "lab: LAB_SHARDS must be auto, on or off" >&2; exit 2 ;;
esac
if [ "$run_shards" -eq 1 ]; then
  shards_phase
else
  lab_log "shards phase skipped (binary has no --shard flag, or LAB_SHARDS=off)"
fi

# --- the origin itself -----------------------------------------------------------------
node_metrics=$(in_ns br curl -sf "http://$origin_addr:$node_port/metrics")
nginx_metrics=$(in_ns br curl -sf "http://$origin_addr:$nginx_exp_port/metrics")
value() { awk -v m="$1" '$1 == m { s += $2 } END { printf "%d", s }'; }
accepted=$(value nginx_connections_accepted <<<"$nginx_metrics")
handled_requests=$(value nginx_http_requests_total <<<"$nginx_metrics")
rx=$(value 'node_network_receive_bytes_total{device="eth0"}' <<<"$node_metrics")
check_true "origin: nginx exporter connections accepted > 0" "$accepted" "$([ "$accepted" -gt 0 ]; echo $?)"
check_true "origin: nginx exporter requests > 0" "$handled_requests" "$([ "$handled_requests" -gt 0 ]; echo $?)"
check_true "origin: node exporter eth0 received bytes > 0" "$rx" "$([ "$rx" -gt 0 ]; echo $?)"
check_true "origin: the nginx.conf that ran is the rendered one" "$rendered/nginx.conf" \
  "$(cmp -s "$rendered/nginx.conf" "$work/origin/nginx.conf"; echo $?)"
check_true "origin: generator still running" "pid $generator_pid" "$(kill -0 "$generator_pid" 2>/dev/null; echo $?)"

echo "lab: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

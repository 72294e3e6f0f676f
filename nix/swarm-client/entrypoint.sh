#!/usr/bin/env bash
# Entrypoint of the swarm-client OCI image (nix/swarm-client/container.nix).
#
# With arguments, they are passed to hls-swarm as they are:
#   docker run IMAGE -clients 200 http://origin:17080/stream.m3u8
# Without, the environment is mapped to flags (one of STREAM_URL, STREAM_URL_FILE and
# STREAMS_FILE is required):
#   STREAM_URL_FILE  a file holding the playlist URL (-url-file), e.g. a mounted Secret
#   STREAMS_FILE many streams (--streams): a file of "URL [WEIGHT]" lines, e.g. a mounted
#                ConfigMap or Secret; POPULARITY --popularity (weights or zipf:S);
#                METRICS_STREAM_TOP_K --metrics-stream-top-k
#   STREAM_URL   the playlist URL; handed to hls-swarm on a pipe (-url-file
#                /proc/self/fd/3), so a token in it never reaches the process's argv
#   HEADER_FILE  -header-file: "Name: value" lines sent with every request (secrets)
#   CLIENTS      -clients            RAMP_RATE    -ramp-rate
#   ARRIVAL_RATE --arrival-rate (arrival mode; CLIENTS is then the cap)
#   SESSION_DURATION --session-duration (fixed:30m, exp:mean=10m, lognormal:median=5m,sigma=1)
#   RAMP_JITTER  -ramp-jitter (a bare number means milliseconds)
#   DURATION     -duration           METRICS_PORT -metrics 0.0.0.0:PORT (default 17091)
#   VARIANT      -variant            TIMEOUT      -timeout (a bare number means seconds)
#   METRICS_LINGER  --metrics-linger (a bare number means seconds; the image sets 15s):
#                keep serving the final /metrics after the run, for the last scrape
#   NO_CACHE     -no-cache (1/true/yes)
#   RESOLVE_IP   -resolve            DANGEROUS    --dangerous (1/true/yes)
#   ENGINE       -engine             CLIENT_ID_OFFSET -client-id-offset
#   SHARDS       one test over SHARDS pods or hosts: --shard INDEX/SHARDS, INDEX being
#                JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job, 0-based) or
#                SHARD_INDEX; CLIENTS and RAMP_RATE are then the whole test's
#   START_AT     --start-at (RFC 3339 instant or +DURATION)   RUN_ID  --run-id
#   REPORT       the JSON report: `stdout` prints it as the last line of the log
#                (--output -, for `kubectl logs ... | hls-swarm merge -`); a path writes it
#                there (--output PATH, e.g. on a mounted volume)
#   JOB_COMPLETION_INDEX  without SHARDS and CLIENT_ID_OFFSET (separate tests per pod):
#                the offset is INDEX x CLIENTS, so every pod's viewers have distinct ids
#   EXTRA_ARGS   further arguments, split on whitespace
# The TUI is always off (-tui=false): a container has no terminal to draw on.
# HLS_SWARM_DRY_RUN=1 prints the argv, one argument per line, instead of running it.
set -euo pipefail

bin=${HLS_SWARM_BIN:-hls-swarm}

truthy() {
  case "${1,,}" in
    1 | true | yes | on) return 0 ;;
    *) return 1 ;;
  esac
}

args=(-tui=false)
if [ "$#" -gt 0 ]; then
  args+=("$@")
else
  sources=0
  for v in "${STREAM_URL:-}" "${STREAM_URL_FILE:-}" "${STREAMS_FILE:-}"; do
    [ -z "$v" ] || sources=$((sources + 1))
  done
  if [ "$sources" -eq 0 ]; then
    echo "hls-swarm container: set STREAM_URL, STREAM_URL_FILE or STREAMS_FILE (or pass hls-swarm arguments)" >&2
    exit 2
  fi
  if [ "$sources" -gt 1 ]; then
    echo "hls-swarm container: set one of STREAM_URL, STREAM_URL_FILE and STREAMS_FILE, not several" >&2
    exit 2
  fi
  [ -z "${CLIENTS:-}" ] || args+=(-clients "$CLIENTS")
  [ -z "${RAMP_RATE:-}" ] || args+=(-ramp-rate "$RAMP_RATE")
  [ -z "${ARRIVAL_RATE:-}" ] || args+=(--arrival-rate "$ARRIVAL_RATE")
  [ -z "${SESSION_DURATION:-}" ] || args+=(--session-duration "$SESSION_DURATION")
  if [ -n "${RAMP_JITTER:-}" ]; then
    jitter=$RAMP_JITTER
    [[ "$jitter" =~ ^[0-9]+$ ]] && jitter="${jitter}ms"
    args+=(-ramp-jitter "$jitter")
  fi
  [ -z "${DURATION:-}" ] || args+=(-duration "$DURATION")
  args+=(-metrics "0.0.0.0:${METRICS_PORT:-17091}")
  if [ -n "${METRICS_LINGER:-}" ]; then
    linger=$METRICS_LINGER
    [[ "$linger" =~ ^[0-9]+$ ]] && linger="${linger}s"
    args+=(--metrics-linger "$linger")
  fi
  [ -z "${VARIANT:-}" ] || args+=(-variant "$VARIANT")
  if [ -n "${TIMEOUT:-}" ]; then
    timeout=$TIMEOUT
    [[ "$timeout" =~ ^[0-9]+$ ]] && timeout="${timeout}s"
    args+=(-timeout "$timeout")
  fi
  if truthy "${NO_CACHE:-}"; then args+=(-no-cache); fi
  [ -z "${RESOLVE_IP:-}" ] || args+=(-resolve "$RESOLVE_IP")
  if truthy "${DANGEROUS:-}"; then args+=(--dangerous); fi
  [ -z "${ENGINE:-}" ] || args+=(-engine "$ENGINE")
  offset=${CLIENT_ID_OFFSET:-}
  if [ -z "$offset" ] && [ -z "${SHARDS:-}" ] && [ -n "${JOB_COMPLETION_INDEX:-}" ]; then
    offset=$((JOB_COMPLETION_INDEX * ${CLIENTS:-10}))
  fi
  [ -z "$offset" ] || args+=(-client-id-offset "$offset")
  if [ -n "${SHARDS:-}" ]; then
    index=${SHARD_INDEX:-${JOB_COMPLETION_INDEX:-}}
    if [ -z "$index" ]; then
      echo "hls-swarm container: SHARDS needs JOB_COMPLETION_INDEX (an Indexed Job sets it) or SHARD_INDEX" >&2
      exit 2
    fi
    # hls-swarm checks the values (exit 2 naming --shard).
    args+=(--shard "$index/$SHARDS")
  fi
  [ -z "${START_AT:-}" ] || args+=(--start-at "$START_AT")
  [ -z "${RUN_ID:-}" ] || args+=(--run-id "$RUN_ID")
  [ -z "${HEADER_FILE:-}" ] || args+=(-header-file "$HEADER_FILE")
  [ -z "${POPULARITY:-}" ] || args+=(--popularity "$POPULARITY")
  [ -z "${METRICS_STREAM_TOP_K:-}" ] || args+=(--metrics-stream-top-k "$METRICS_STREAM_TOP_K")
  case "${REPORT:-}" in
    "") ;;
    stdout | -) args+=(--output -) ;;
    *) args+=(--output "$REPORT") ;;
  esac
  if [ -n "${EXTRA_ARGS:-}" ]; then
    read -r -a extra <<<"$EXTRA_ARGS"
    args+=("${extra[@]}")
  fi
  if [ -n "${STREAMS_FILE:-}" ]; then
    args+=(--streams "$STREAMS_FILE")
  elif [ -n "${STREAM_URL_FILE:-}" ]; then
    args+=(-url-file "$STREAM_URL_FILE")
  else
    args+=(-url-file /proc/self/fd/3)
  fi
fi

if truthy "${HLS_SWARM_DRY_RUN:-}"; then
  printf '%s\n' "${args[@]}"
  exit 0
fi
if [ -n "${STREAM_URL:-}" ] && [ "$#" -eq 0 ]; then
  # Not in argv and not left in hls-swarm's environment either.
  url=$STREAM_URL
  unset STREAM_URL
  exec "$bin" "${args[@]}" 3<<<"$url"
fi
exec "$bin" "${args[@]}"

# `nix run .#test-origin[-<profile>]`: the lab origin on this machine, unprivileged. The
# ffmpeg generator and nginx run from the rendered argv and nginx.conf (listening on
# 127.0.0.1 by default), under $XDG_RUNTIME_DIR (a tmpfs on systemd hosts), until Ctrl-C;
# both are stopped by PID on every exit path.
{
  lib,
  writeShellApplication,
  writeText,
  coreutils,
  curl,
  ffmpeg-headless,
  nginx,
  labLib,
  profile,
}: let
  port = labLib.ports.origin;
  # Rendered for loopback: exposing a test origin to the LAN is a decision, not a default.
  nginxConf = writeText "hls-origin-nginx-${profile}.conf" (labLib.nginxConf {
    profileName = profile;
    listenAddress = "127.0.0.1";
  });
in
  writeShellApplication {
    name = "hls-test-origin-${profile}";
    runtimeInputs = [coreutils curl ffmpeg-headless nginx];
    text = ''
      base=''${XDG_RUNTIME_DIR:-''${TMPDIR:-/tmp}}
      dir=$(mktemp -d "$base/hls-origin-${profile}.XXXXXX")
      mkdir -p "$dir/hls" "$dir/logs" "$dir/run"
      pids=()
      cleanup() {
        trap - EXIT INT TERM
        if [ "''${#pids[@]}" -gt 0 ]; then
          kill -TERM "''${pids[@]}" 2>/dev/null || true
          wait "''${pids[@]}" 2>/dev/null || true
        fi
        rm -rf "$dir"
      }
      trap cleanup EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM

      (cd "$dir/hls" && exec ffmpeg ${labLib.ffmpegShellArgs profile}) 2>"$dir/logs/generator.log" &
      pids+=("$!")
      nginx -c ${nginxConf} -p "$dir/" -e stderr &
      pids+=("$!")

      for _ in $(seq 40); do
        curl -sf "http://127.0.0.1:${toString port}/health" >/dev/null && break
        sleep 0.25
      done
      echo "hls-swarm test origin, profile ${profile}: http://127.0.0.1:${toString port}/${labLib.entryPlaylist profile}"
      echo "  files: $dir   access log: $dir/logs/access.log   generator log: $dir/logs/generator.log"
      echo "  play it: hls-swarm -clients 10 http://127.0.0.1:${toString port}/${labLib.entryPlaylist profile}"
      # Runs until Ctrl-C or until either process dies.
      wait -n "''${pids[@]}"
      echo "hls-test-origin: the generator or nginx exited; generator log:" >&2
      tail -n 20 "$dir/logs/generator.log" >&2 || true
      exit 1
    '';
    meta = {
      description = "hls-swarm lab test origin (profile ${profile}) on 127.0.0.1:${toString port}";
      platforms = lib.platforms.linux;
    };
  }

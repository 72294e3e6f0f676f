# `nix run .#test-origin[-<profile>]`: the lab origin on this machine, unprivileged, on
# 127.0.0.1 (exposing a test origin to the LAN is a decision, not a default), under
# $XDG_RUNTIME_DIR (a tmpfs on systemd hosts), until Ctrl-C. origin.sh supervises the
# generator and nginx and stops both by PID on every exit path.
{
  lib,
  writeShellApplication,
  writeText,
  coreutils,
  curl,
  findutils,
  ffmpeg-headless,
  nginx,
  labLib,
  profile,
}: let
  port = labLib.ports.origin;
  nginxConf = writeText "hls-origin-nginx-${profile}.conf" (labLib.nginxConf {
    profileName = profile;
    listenAddress = "127.0.0.1";
  });
  ffmpegArgs = writeText "hls-origin-ffmpeg-${profile}.args" (lib.concatMapStrings (a: a + "\n") (labLib.ffmpegArgs profile));
in
  writeShellApplication {
    name = "hls-test-origin-${profile}";
    runtimeInputs = [coreutils curl findutils ffmpeg-headless nginx];
    runtimeEnv = {
      HLS_ORIGIN_NGINX_CONF = "${nginxConf}";
      HLS_ORIGIN_FFMPEG_ARGS = "${ffmpegArgs}";
      HLS_ORIGIN_PORT = toString port;
      HLS_ORIGIN_URL = "http://127.0.0.1:${toString port}/${labLib.entryPlaylist profile}";
    };
    text = builtins.readFile ./origin.sh;
    meta = {
      description = "hls-swarm lab test origin (profile ${profile}) on 127.0.0.1:${toString port}";
      platforms = lib.platforms.linux;
    };
  }

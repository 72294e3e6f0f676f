# packages.origin-container: the lab origin as an OCI image (no Docker daemon needed to
# build). One non-root entrypoint supervises the ffmpeg generator, nginx and both
# exporters from the rendered argv and nginx.conf; when any of them exits, the container
# exits, so the runtime's restart policy applies. Mount a tmpfs on the HLS directory:
#   docker run --rm -p 17080:17080 --tmpfs /var/lib/hls-origin/hls:size=64m,uid=10001 IMAGE
{
  lib,
  dockerTools,
  writeShellApplication,
  writeText,
  writeTextDir,
  coreutils,
  curl,
  findutils,
  ffmpeg-headless,
  nginx,
  prometheus-node-exporter,
  prometheus-nginx-exporter,
  labLib,
  profile,
  version,
}: let
  uid = "10001";
  prefix = "/var/lib/hls-origin";
  inherit (labLib) ports;
  nginxConf = writeText "hls-origin-nginx-${profile}.conf" (labLib.nginxConf {profileName = profile;});

  # origin.sh (shared with the runner) supervises the generator, nginx and both exporters.
  entrypoint = writeShellApplication {
    name = "hls-origin-entrypoint";
    runtimeInputs = [coreutils curl findutils ffmpeg-headless nginx];
    runtimeEnv = {
      HLS_ORIGIN_NGINX_CONF = "${nginxConf}";
      HLS_ORIGIN_FFMPEG_ARGS = "${writeText "hls-origin-ffmpeg-${profile}.args" (lib.concatMapStrings (a: a + "\n") (labLib.ffmpegArgs profile))}";
      HLS_ORIGIN_PREFIX = prefix;
      HLS_ORIGIN_PORT = toString ports.origin;
      HLS_ORIGIN_URL = "http://<host>:${toString ports.origin}/${labLib.entryPlaylist profile}";
      HLS_ORIGIN_NODE_EXPORTER = lib.getExe prometheus-node-exporter;
      HLS_ORIGIN_NGINX_EXPORTER = lib.getExe prometheus-nginx-exporter;
      HLS_ORIGIN_NODE_PORT = toString ports.nodeExporter;
      HLS_ORIGIN_NGINX_EXPORTER_PORT = toString ports.nginxExporter;
      HLS_ORIGIN_COLLECTORS = lib.concatStringsSep " " labLib.lab.origin.nodeExporterCollectors;
    };
    # EXPORTERS=0 at `docker run` leaves the exporters out.
    text = ''
      export HLS_ORIGIN_EXPORTERS="''${EXPORTERS:-1}"
      ${builtins.readFile ./origin.sh}
    '';
  };
in
  dockerTools.buildLayeredImage {
    name = "hls-swarm-origin";
    tag = "${version}-${profile}";
    contents = [
      entrypoint
      (writeTextDir "etc/passwd" "root:x:0:0::/root:/noshell\nhls:x:${uid}:${uid}::${prefix}:/noshell\n")
      (writeTextDir "etc/group" "root:x:0:\nhls:x:${uid}:\n")
    ];
    fakeRootCommands = ''
      mkdir -p .${prefix}/hls .${prefix}/logs .${prefix}/run tmp
      chown -R ${uid}:${uid} .${prefix}
      chmod 1777 tmp
    '';
    config = {
      Entrypoint = [(lib.getExe entrypoint)];
      User = "${uid}:${uid}";
      WorkingDirectory = prefix;
      ExposedPorts = {
        "${toString ports.origin}/tcp" = {};
        "${toString ports.nodeExporter}/tcp" = {};
        "${toString ports.nginxExporter}/tcp" = {};
      };
      # The image has no PATH and no /bin/curl: the check runs curl by its store path,
      # which is in the image as part of the entrypoint's closure (its runtimeInputs).
      Healthcheck = {
        Test = ["CMD" (lib.getExe curl) "-sf" "http://127.0.0.1:${toString ports.origin}/health"];
        Interval = 10000000000;
        Timeout = 3000000000;
        Retries = 3;
      };
      Labels = {
        "org.opencontainers.image.title" = "hls-swarm test origin (${profile})";
        "org.opencontainers.image.version" = version;
        "io.hls-swarm.profile" = profile;
      };
    };
  }

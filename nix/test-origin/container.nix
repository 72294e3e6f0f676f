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
  collectors = map (c: "--collector.${c}") labLib.lab.origin.nodeExporterCollectors;

  entrypoint = writeShellApplication {
    name = "hls-origin-entrypoint";
    runtimeInputs = [coreutils curl ffmpeg-headless nginx];
    text = ''
      mkdir -p ${prefix}/hls ${prefix}/logs ${prefix}/run
      find ${prefix}/hls -mindepth 1 -delete
      pids=()
      stop() {
        trap - EXIT INT TERM
        kill -TERM "''${pids[@]}" 2>/dev/null || true
        wait "''${pids[@]}" 2>/dev/null || true
      }
      trap stop EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM

      (cd ${prefix}/hls && exec ffmpeg ${labLib.ffmpegShellArgs profile}) &
      pids+=("$!")
      nginx -c ${nginxConf} -p ${prefix}/ -e stderr &
      pids+=("$!")
      if [ "''${EXPORTERS:-1}" != 0 ]; then
        ${lib.getExe prometheus-node-exporter} --web.listen-address=:${toString ports.nodeExporter} --collector.disable-defaults ${lib.escapeShellArgs collectors} &
        pids+=("$!")
        for _ in $(seq 40); do
          curl -sf http://127.0.0.1:${toString ports.origin}/health >/dev/null && break
          sleep 0.25
        done
        ${lib.getExe prometheus-nginx-exporter} --nginx.scrape-uri=http://127.0.0.1:${toString ports.origin}/nginx_status \
          --web.listen-address=:${toString ports.nginxExporter} &
        pids+=("$!")
      fi
      wait -n "''${pids[@]}"
      echo "hls-origin: a process exited; stopping the container" >&2
      exit 1
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
      Healthcheck = {
        Test = ["CMD" "curl" "-sf" "http://127.0.0.1:${toString ports.origin}/health"];
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

# packages.swarm-client-container: hls-swarm (FFmpeg included, on the wrapper's PATH) as a
# non-root OCI image. nix/swarm-client/entrypoint.sh passes arguments through or maps the
# environment (STREAM_URL, CLIENTS, …) to flags; the TUI is always off.
{
  lib,
  dockerTools,
  writeShellApplication,
  writeTextDir,
  cacert,
  hls-swarm,
  labLib,
}: let
  uid = "10000";
  entrypoint = writeShellApplication {
    name = "hls-swarm-entrypoint";
    runtimeInputs = [hls-swarm];
    text = builtins.readFile ./entrypoint.sh;
  };
in
  dockerTools.buildLayeredImage {
    name = "hls-swarm";
    tag = hls-swarm.version;
    contents = [
      entrypoint
      hls-swarm
      cacert
      (writeTextDir "etc/passwd" "root:x:0:0::/root:/noshell\nswarm:x:${uid}:${uid}::/tmp:/noshell\n")
      (writeTextDir "etc/group" "root:x:0:\nswarm:x:${uid}:\n")
    ];
    fakeRootCommands = ''
      mkdir -p tmp
      chmod 1777 tmp
    '';
    config = {
      Entrypoint = [(lib.getExe entrypoint)];
      User = "${uid}:${uid}";
      WorkingDirectory = "/tmp";
      Env = [
        "SSL_CERT_FILE=${cacert}/etc/ssl/certs/ca-bundle.crt"
        "METRICS_PORT=${toString labLib.ports.swarmMetrics}"
        # Serve the final values for 15 s after the run (three 5 s scrapes of
        # monitoring/prometheus.yml), so the last scrape has them (docs/metrics.md).
        "METRICS_LINGER=15s"
      ];
      ExposedPorts."${toString labLib.ports.swarmMetrics}/tcp" = {};
      Labels = {
        "org.opencontainers.image.title" = "hls-swarm";
        "org.opencontainers.image.version" = hls-swarm.version;
      };
    };
  }

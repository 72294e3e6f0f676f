# services.hls-swarm: one hls-swarm run as a hardened systemd service (no TUI).
# The command line comes from the lab renderer's swarmArgs (nix/lib/default.nix), the
# same function the flake check runs against the real binary.
{
  config,
  lib,
  pkgs,
  ...
}: let
  inherit (lib) literalExpression mkEnableOption mkIf mkOption mkPackageOption optional types;
  labLib = import ../nix/lib {};
  cfg = config.services.hls-swarm;

  # The URL word: the option, or ${STREAM_URL} from environmentFile (kept out of the store).
  urlWord =
    if cfg.streamUrl != null
    then labLib.systemdQuote cfg.streamUrl
    else "\${STREAM_URL}";

  # %d is systemd's credentials directory: this one word must reach ExecStart unquoted.
  headerArg = "-header-file=%d/headers";
  execWord = a:
    if a == headerArg
    then a
    else labLib.systemdQuote a;

  commandLine = labLib.swarmArgs {
    inherit (cfg) clients rampRate duration engine metricsAddress;
    output = cfg.reportFile;
    extraArgs =
      cfg.extraArgs
      ++ optional (cfg.headerFile != null) headerArg;
  };
in {
  options.services.hls-swarm = {
    enable = mkEnableOption "an hls-swarm load-test run (simulated live HLS viewers) as a systemd service";

    package = mkPackageOption pkgs "hls-swarm" {};

    streamUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "http://10.177.0.10:17080/stream.m3u8";
      description = ''
        Master or media playlist the viewers play. It ends up in the Nix store; when the
        URL carries a secret (a token), leave this `null` and set `STREAM_URL=…` in
        {option}`services.hls-swarm.environmentFile` instead.
      '';
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/hls-swarm.env";
      description = ''
        systemd `EnvironmentFile=` read at start, outside the Nix store. It may define
        `STREAM_URL` (used when {option}`services.hls-swarm.streamUrl` is `null`) and
        `HLS_SWARM_ARGS`, further arguments split on whitespace (e.g. `-resolve=192.0.2.7
        --dangerous`). Request headers with secrets go in
        {option}`services.hls-swarm.headerFile`.
      '';
    };

    headerFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/hls-swarm-headers";
      description = ''
        File of `Name: value` lines sent with every request (e.g. `Authorization: Bearer …`),
        passed as a systemd credential (`LoadCredential=`) and given to hls-swarm as
        `-header-file`; its values are redacted in all output.
      '';
    };

    clients = mkOption {
      type = types.ints.positive;
      default = 50;
      description = "Concurrent viewers (`-clients`). Also sizes `LimitNOFILE` and `TasksMax`.";
    };

    rampRate = mkOption {
      type = types.numbers.positive;
      default = 5;
      example = 0.5;
      description = "Viewers started per second (`-ramp-rate`); fractions allowed.";
    };

    duration = mkOption {
      type = types.strMatching "0|([0-9]+(ms|s|m|h|d))+";
      default = "0";
      example = "30m";
      description = ''
        Run time (`-duration`), e.g. `30s`, `5m`, `1h30m`. `"0"` runs until the service is
        stopped and restarts the run after a failure; a finite run is not restarted.
      '';
    };

    engine = mkOption {
      type = types.enum ["native" "ffmpeg"];
      default = "native";
      description = ''
        Viewer engine (`-engine`): `native` (an RFC 8216 player model, one task per viewer)
        or `ffmpeg` (one FFmpeg process per viewer; the package's wrapper puts FFmpeg on
        its PATH).
      '';
    };

    metricsAddress = mkOption {
      type = types.str;
      default = "0.0.0.0:${toString labLib.ports.swarmMetrics}";
      defaultText = literalExpression ''"0.0.0.0:17091"'';
      description = "Prometheus endpoint address (`-metrics`): `/metrics`, `/healthz`, `/readyz`.";
    };

    reportFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/hls-swarm/report.json";
      description = ''
        Write the end-of-run JSON report here (`--output`). The service may write only
        below its state directory, `/var/lib/hls-swarm`.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [];
      example = ["-variant=lowest" "-timeout=10s"];
      description = "Further hls-swarm arguments (docs/cli.md), one flag per element.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the metrics port of {option}`services.hls-swarm.metricsAddress` in the firewall.";
    };

    commandLine = mkOption {
      type = types.listOf types.str;
      readOnly = true;
      internal = true;
      description = "The rendered argv (without the URL), as the flake check runs it against the binary.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.streamUrl != null || cfg.environmentFile != null;
        message = "services.hls-swarm: set services.hls-swarm.streamUrl, or services.hls-swarm.environmentFile defining STREAM_URL.";
      }
      {
        # A secret in the Nix store is world-readable: these must be paths on the host.
        assertion = lib.all (f: f == null || !(builtins.isPath f || lib.hasPrefix builtins.storeDir f)) [cfg.headerFile cfg.environmentFile];
        message = "services.hls-swarm.headerFile and services.hls-swarm.environmentFile hold secrets: give a path outside the Nix store (a string such as \"/run/secrets/…\"), not a Nix path literal.";
      }
      {
        assertion = builtins.match ".*:[0-9]+" cfg.metricsAddress != null;
        message = "services.hls-swarm.metricsAddress must be HOST:PORT, got '${cfg.metricsAddress}'.";
      }
    ];

    services.hls-swarm.commandLine = commandLine;

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall [
      (lib.toInt (lib.last (lib.splitString ":" cfg.metricsAddress)))
    ];

    systemd.services.hls-swarm = {
      description = "hls-swarm: ${toString cfg.clients} simulated HLS viewers";
      wantedBy = ["multi-user.target"];
      wants = ["network-online.target"];
      after = ["network-online.target"];
      serviceConfig = {
        ExecStart = "${lib.getExe cfg.package} ${lib.concatMapStringsSep " " execWord commandLine} $HLS_SWARM_ARGS ${urlWord}";
        EnvironmentFile = mkIf (cfg.environmentFile != null) cfg.environmentFile;
        LoadCredential = mkIf (cfg.headerFile != null) "headers:${cfg.headerFile}";
        Restart =
          if cfg.duration == "0"
          then "on-failure"
          else "no";
        RestartSec = 5;
        # SIGINT/SIGTERM stop the ramp and write the summary and report (< 5 s).
        KillSignal = "SIGINT";
        TimeoutStopSec = 15;

        DynamicUser = true;
        StateDirectory = "hls-swarm";
        WorkingDirectory = "/var/lib/hls-swarm";

        # A viewer holds a few sockets (playlist and segment connections, plus proxy and
        # pipes with the FFmpeg engine): the limit follows the viewer count.
        LimitNOFILE = labLib.limitNofile {inherit (cfg) clients engine;};
        TasksMax =
          if cfg.engine == "ffmpeg"
          then labLib.tasksMax {inherit (cfg) clients engine;}
          else "15%";

        # Hardening (nixpkgs exporters.nix baseline plus a syscall filter).
        CapabilityBoundingSet = [""];
        AmbientCapabilities = [""];
        DeviceAllow = [""];
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectProc = "invisible";
        ProcSubset = "pid";
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RemoveIPC = true;
        RestrictAddressFamilies = ["AF_INET" "AF_INET6" "AF_UNIX"];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = ["@system-service" "~@privileged"];
        UMask = "0077";
      };
    };
  };

  meta.maintainers = [];
}

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

  # Secrets come as systemd credentials (%d is the credentials directory): the URL through
  # -url-file, so it never reaches argv or the store, and the headers through -header-file.
  inherit (labLib.credentialArgs) headerArg streamsArg urlFileArg;

  commandLine = labLib.swarmArgs {
    inherit (cfg) clients rampRate duration engine metricsAddress shard startAt runId metricsLinger;
    output = cfg.reportFile;
    extraArgs =
      cfg.extraArgs
      ++ optional (cfg.headerFile != null) headerArg
      ++ optional (cfg.streamUrlFile != null) urlFileArg
      ++ optional (cfg.streamsFile != null) streamsArg
      ++ optional (cfg.popularity != null) "--popularity=${cfg.popularity}"
      ++ optional (cfg.arrivalRate != null) "--arrival-rate=${cfg.arrivalRate}"
      ++ optional (cfg.sessionDuration != null) "--session-duration=${cfg.sessionDuration}";
  };

  credentials =
    optional (cfg.headerFile != null) "headers:${cfg.headerFile}"
    ++ optional (cfg.streamUrlFile != null) "stream-url:${cfg.streamUrlFile}"
    ++ optional (cfg.streamsFile != null) "streams:${cfg.streamsFile}";
in {
  options.services.hls-swarm = {
    enable = mkEnableOption "an hls-swarm load-test run (simulated live HLS viewers) as a systemd service";

    package = mkPackageOption pkgs "hls-swarm" {};

    streamUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "http://10.177.0.10:17080/stream.m3u8";
      description = ''
        Master or media playlist the viewers play. It ends up in the Nix store and on the
        process's command line; when the URL carries a secret (a token), leave this `null`
        and set {option}`services.hls-swarm.streamUrlFile` instead.
      '';
    };

    streamUrlFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/hls-swarm-url";
      description = ''
        File holding the stream URL (one line), for URLs that carry a token. It is passed
        as a systemd credential (`LoadCredential=`) and read by hls-swarm (`-url-file`),
        so the URL never reaches the Nix store, the command line (`/proc/PID/cmdline`) or
        the environment; output shows it without user info, query or fragment.
      '';
    };

    streamsFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/hls-swarm-streams";
      description = ''
        File listing many streams (`--streams`): one URL per line, optionally followed by
        whitespace and a weight; blank lines and `#` comments are skipped. The viewers
        spread over the streams by weight or {option}`services.hls-swarm.popularity`.
        Passed as a systemd credential (`LoadCredential=`), like
        {option}`services.hls-swarm.streamUrlFile`, so URLs with tokens stay out of the
        Nix store and the command line.
      '';
    };

    popularity = mkOption {
      type = types.nullOr (types.strMatching "weights|zipf:[0-9]+(\\.[0-9]+)?");
      default = null;
      example = "zipf:1.0";
      description = ''
        How viewers spread over the streams of {option}`services.hls-swarm.streamsFile`
        (`--popularity`): `weights`, or `zipf:S` (the stream of rank r, in the file's
        order, gets weight 1/r^S). `null`: the binary's default (`weights`).
      '';
    };

    arrivalRate = mkOption {
      type = types.nullOr (types.strMatching "[0-9]+(\\.[0-9]+)?");
      default = null;
      example = "5";
      description = ''
        Arrival mode (`--arrival-rate`): viewers arrive at this many per second (Poisson)
        and leave after {option}`services.hls-swarm.sessionDuration`;
        {option}`services.hls-swarm.clients` is then the cap on sessions open at once.
        `null`: a fixed crowd.
      '';
    };

    sessionDuration = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "exp:mean=10m";
      description = ''
        With {option}`services.hls-swarm.arrivalRate`: each session's length
        (`--session-duration`): `fixed:30m`, `exp:mean=10m` or
        `lognormal:median=5m,sigma=1`. `null`: sessions last until the run ends.
      '';
    };

    autoStart = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Start the run at boot (`wantedBy = multi-user.target`). Off by default: a load test
        is started on purpose (`systemctl start hls-swarm`), never by a reboot. Changing
        the configuration never restarts a running test (`restartIfChanged = false`).
      '';
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/hls-swarm.env";
      description = ''
        systemd `EnvironmentFile=` read at start, outside the Nix store. It may define
        `HLS_SWARM_ARGS`, further arguments split on whitespace (e.g. `-resolve=192.0.2.7
        --dangerous`); they end up on the command line, so no secrets here: the URL goes
        in {option}`services.hls-swarm.streamUrlFile`, request headers in
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
      description = ''
        Concurrent viewers (`-clients`): of the whole test when
        {option}`services.hls-swarm.shard` is set (this host runs its share). Also sizes
        `LimitNOFILE` and `TasksMax`.
      '';
    };

    rampRate = mkOption {
      type = types.numbers.positive;
      default = 5;
      example = 0.5;
      description = "Viewers started per second (`-ramp-rate`), by the whole test when sharded; fractions allowed.";
    };

    shard = mkOption {
      type = types.nullOr (types.strMatching "(0|[1-9][0-9]*)/[1-9][0-9]*");
      default = null;
      example = "1/3";
      description = ''
        Run shard `I/N` of one test over N hosts (`--shard`, 0-based: `0/3`, `1/3`,
        `2/3`). Every host gets the same {option}`services.hls-swarm.clients`,
        {option}`services.hls-swarm.rampRate` and {option}`services.hls-swarm.startAt`;
        each runs the viewers whose index i has i mod N = I, with the ids and ramp slots a
        single host would give them. `null`: the whole test on this host.
      '';
    };

    startAt = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "2026-12-06T20:00:00Z";
      description = ''
        Wait until this instant, then ramp (`--start-at`): RFC 3339, or `+DURATION` from
        the service's start. Give every shard the same absolute instant; a host that
        starts late catches up on the agreed schedule. The hosts' clocks should be
        NTP-synchronised.
      '';
    };

    runId = mkOption {
      type = types.nullOr (types.strMatching "[A-Za-z0-9._-]{1,64}");
      default = null;
      example = "launch-rehearsal-3";
      description = ''
        Id of the test shared by all its shards (`--run-id`), in every report and in
        `hls_swarm_run_info`. `null`: derived from the test's flags and
        {option}`services.hls-swarm.startAt` when set (hosts with the same settings
        agree), else random.
      '';
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

    metricsLinger = mkOption {
      type = types.nullOr (types.strMatching "0|([0-9]+(ms|s|m|h))+");
      default = null;
      example = "15s";
      description = ''
        Keep serving `/metrics` with the final values this long after a finite run ends
        (`--metrics-linger`), so the last scrape sees the whole run's totals (the `run:*`
        recording rules of monitoring/recording.yml sum them across shards). Set it to at
        least two scrape intervals; stopping the service ends it at once. `null`: the
        binary's default (no linger).
      '';
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
        assertion = lib.count (x: x != null) [cfg.streamUrl cfg.streamUrlFile cfg.streamsFile] == 1;
        message = "services.hls-swarm: set exactly one of services.hls-swarm.streamUrl, services.hls-swarm.streamUrlFile and services.hls-swarm.streamsFile.";
      }
      {
        # A secret in the Nix store is world-readable: these must be paths on the host.
        assertion = lib.all (f: f == null || !(builtins.isPath f || lib.hasPrefix builtins.storeDir f)) [cfg.headerFile cfg.environmentFile cfg.streamUrlFile cfg.streamsFile];
        message = "services.hls-swarm.headerFile, streamUrlFile, streamsFile and environmentFile hold secrets: give a path outside the Nix store (a string such as \"/run/secrets/…\"), not a Nix path literal.";
      }
      {
        assertion = cfg.shard == null || (let m = builtins.match "([0-9]+)/([0-9]+)" cfg.shard; in lib.toInt (builtins.elemAt m 0) < lib.toInt (builtins.elemAt m 1));
        message = "services.hls-swarm.shard is I/N, 0-based: I must be below N, got '${toString cfg.shard}'.";
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
      # A load test never starts by surprise: not at boot or on a switch unless autoStart,
      # and a nixos-rebuild switch never restarts a running one.
      wantedBy = optional cfg.autoStart "multi-user.target";
      restartIfChanged = false;
      wants = ["network-online.target"];
      after = ["network-online.target"];
      serviceConfig = {
        ExecStart = labLib.swarmExecStart {
          program = lib.getExe cfg.package;
          args = commandLine;
          url = cfg.streamUrl;
        };
        EnvironmentFile = mkIf (cfg.environmentFile != null) cfg.environmentFile;
        LoadCredential = mkIf (credentials != []) credentials;
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

# services.hls-test-origin: the lab's live HLS origin. An ffmpeg generator writes a live
# stream (profile from nix/lab.json) into a tmpfs; nginx serves it with the lab's caching
# rules; node_exporter and the nginx exporter report on the host. The generator argv and
# nginx.conf come from the same renderer as the runner, the container and the namespace
# lab (nix/lib/default.nix).
{
  config,
  lib,
  pkgs,
  ...
}: let
  inherit (lib) literalExpression mkDefault mkEnableOption mkIf mkOption mkPackageOption optionals types;
  labLib = import ../nix/lib {};
  cfg = config.services.hls-test-origin;
  port = labLib.ports.origin;

  localAddress =
    if cfg.listenAddress == "0.0.0.0"
    then "127.0.0.1"
    else cfg.listenAddress;

  nginxConf = pkgs.writeText "hls-origin-nginx-${cfg.profile}.conf" (labLib.nginxConf {
    profileName = cfg.profile;
    inherit (cfg) listenAddress;
    root = cfg.hlsDir;
    inherit logDir;
    runDir = "/run/hls-origin-nginx";
    statusAllow = lib.unique ["127.0.0.1" localAddress];
  });

  logDir = "/var/log/hls-origin";
  logrotateConf = pkgs.writeText "hls-origin-logrotate.conf" (labLib.originLogrotate {
    file = "${logDir}/access.log";
    inherit (cfg.accessLog) maxMegabytes keep;
    postrotate = "${lib.getExe' pkgs.systemd "systemctl"} kill --signal=USR1 hls-origin-nginx.service";
  });

  # Shared by both services; each loosens only what it needs.
  hardening = {
    CapabilityBoundingSet = [""];
    AmbientCapabilities = [""];
    DeviceAllow = [""];
    NoNewPrivileges = true;
    PrivateDevices = true;
    PrivateTmp = true;
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
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = ["@system-service" "~@privileged"];
  };
in {
  imports = [./load-tuning.nix];

  options.services.hls-test-origin = {
    enable = mkEnableOption "the hls-swarm lab's live HLS test origin (ffmpeg generator, nginx, exporters)";

    profile = mkOption {
      type = types.enum labLib.profileNames;
      default = labLib.lab.origin.defaultProfile;
      description = ''
        Stream profile from nix/lab.json: `default` (720p, 2 s × 10), `low-latency`
        (1 s × 6), `abr` (1080p/720p/480p/360p ladder with master.m3u8), `stress`
        (1 s × 15) or `ci` (tiny two-rung ladder).
      '';
    };

    listenAddress = mkOption {
      type = types.str;
      default = "0.0.0.0";
      example = "10.177.0.10";
      description = "Address nginx listens on (port ${toString port}).";
    };

    hlsDir = mkOption {
      type = types.path;
      default = "/var/lib/hls-origin";
      description = "Where the generator writes the stream: a dedicated tmpfs.";
    };

    tmpfsMegabytes = mkOption {
      type = types.ints.positive;
      default = labLib.tmpfsMegabytes cfg.profile;
      defaultText = literalExpression "sized from the profile's segments at maxrate, with 50 % headroom";
      description = "Size of the tmpfs at {option}`services.hls-test-origin.hlsDir`, in MiB.";
    };

    exporters = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run prometheus node_exporter (:${toString labLib.ports.nodeExporter}) and the nginx
        exporter (:${toString labLib.ports.nginxExporter}), which hls-swarm's
        `-origin-metrics-host` scrapes.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the HLS port and, with {option}`services.hls-test-origin.exporters`, the exporter ports.";
    };

    accessLog = {
      maxMegabytes = mkOption {
        type = types.ints.positive;
        default = labLib.lab.origin.accessLog.maxMegabytes;
        description = ''
          Rotate ${logDir}/access.log once it is larger than this (checked every minute).
          The log is bounded by (keep + 1) × this plus one minute's lines: it must be, on
          a MicroVM whose root lives in RAM.
        '';
      };
      keep = mkOption {
        type = types.ints.unsigned;
        default = labLib.lab.origin.accessLog.keep;
        description = "Rotated access logs kept (access.log.1 …).";
      };
    };

    ffmpegPackage = mkPackageOption pkgs "ffmpeg-headless" {};
    nginxPackage = mkPackageOption pkgs "nginx" {};
  };

  config = mkIf cfg.enable {
    hls-swarm.loadTuning = {
      enable = mkDefault true;
      role = mkDefault "origin";
    };

    users.users.hls-origin = {
      isSystemUser = true;
      group = "hls-origin";
      description = "hls-swarm test origin generator";
    };
    users.groups.hls-origin = {};

    systemd = {
      # A mount unit, not fileSystems: NixOS VM tests replace fileSystems wholesale, and
      # the generator pulls this in through RequiresMountsFor either way.
      mounts = [
        {
          description = "hls-swarm test origin: tmpfs for the live stream";
          what = "tmpfs";
          where = cfg.hlsDir;
          type = "tmpfs";
          options = lib.concatStringsSep "," ["size=${toString cfg.tmpfsMegabytes}M" "mode=0755" "nosuid" "nodev" "noexec" "noatime"];
          wantedBy = ["local-fs.target"];
          before = ["local-fs.target"];
        }
      ];
      # Owned by the generator's user once mounted (tmpfiles runs after local-fs.target).
      tmpfiles.rules = ["d ${cfg.hlsDir} 0755 hls-origin hls-origin -"];

      services.hls-origin-generator = {
        description = "hls-swarm test origin: ffmpeg live generator (profile ${cfg.profile})";
        wantedBy = ["multi-user.target"];
        unitConfig.RequiresMountsFor = [cfg.hlsDir];
        serviceConfig =
          hardening
          // {
            # A restart begins a new stream: drop the previous one's files first.
            ExecStartPre = "${pkgs.findutils}/bin/find ${cfg.hlsDir} -mindepth 1 -delete";
            ExecStart = "${lib.getExe' cfg.ffmpegPackage "ffmpeg"} ${labLib.systemdArgs (labLib.ffmpegArgs cfg.profile)}";
            WorkingDirectory = cfg.hlsDir;
            User = "hls-origin";
            Group = "hls-origin";
            ReadWritePaths = [cfg.hlsDir];
            # Files must be world-readable: nginx runs as another (dynamic) user.
            UMask = "0022";
            Restart = "always";
            RestartSec = 2;
            # lavfi sources need no network at all.
            PrivateNetwork = true;
            RestrictAddressFamilies = "none";
            PrivateUsers = true;
            LimitNOFILE = 1024;
          };
      };

      services.hls-origin-nginx = {
        description = "hls-swarm test origin: nginx (profile ${cfg.profile})";
        wantedBy = ["multi-user.target"];
        after = ["network.target" "hls-origin-generator.service"];
        wants = ["hls-origin-generator.service"];
        unitConfig.RequiresMountsFor = [cfg.hlsDir];
        serviceConfig =
          hardening
          // {
            ExecStart = "${lib.getExe' cfg.nginxPackage "nginx"} -c ${nginxConf} -p /run/hls-origin-nginx/ -e stderr";
            ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
            DynamicUser = true;
            RuntimeDirectory = "hls-origin-nginx";
            LogsDirectory = "hls-origin";
            # The access log is for the lab's counts; other users may read it.
            LogsDirectoryMode = "0755";
            UMask = "0022";
            Restart = "always";
            RestartSec = 2;
            RestrictAddressFamilies = ["AF_INET" "AF_INET6" "AF_UNIX"];
            PrivateUsers = true;
            # worker_rlimit_nofile / worker_connections in the rendered nginx.conf.
            LimitNOFILE = 65536;
          };
      };
    };

    # The access log grows with every request: renamed by size every minute, then nginx
    # reopens it (USR1, through systemd, so the dynamic user needs no shared secret).
    systemd.services.hls-origin-logrotate = {
      description = "hls-swarm test origin: rotate the nginx access log by size";
      after = ["hls-origin-nginx.service"];
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "${lib.getExe pkgs.logrotate} --state /var/lib/hls-origin-logrotate/status ${logrotateConf}";
        StateDirectory = "hls-origin-logrotate";
        ProtectSystem = "strict";
        ReadWritePaths = [logDir];
        ProtectHome = true;
        PrivateTmp = true;
        PrivateNetwork = true;
        NoNewPrivileges = true;
      };
    };
    systemd.timers.hls-origin-logrotate = {
      description = "hls-swarm test origin: rotate the access log by size, every minute";
      wantedBy = ["timers.target"];
      timerConfig = {
        OnCalendar = "minutely";
        AccuracySec = "10s";
      };
    };

    services.prometheus.exporters.node = mkIf cfg.exporters {
      enable = true;
      port = labLib.ports.nodeExporter;
      enabledCollectors = labLib.lab.origin.nodeExporterCollectors;
      extraFlags = ["--collector.disable-defaults"];
      inherit (cfg) openFirewall;
    };

    services.prometheus.exporters.nginx = mkIf cfg.exporters {
      enable = true;
      port = labLib.ports.nginxExporter;
      scrapeUri = "http://${localAddress}:${toString port}/nginx_status";
      inherit (cfg) openFirewall;
    };

    networking.firewall.allowedTCPPorts = optionals cfg.openFirewall [port];
  };

  meta.maintainers = [];
}

# The NixOS modules evaluated with nixpkgs' real module system (lib.evalModules) against
# stand-ins: the few NixOS options they set are declared here loosely, and packages are
# fake derivations. Nothing is built. It proves what the module system decides (option
# types, merging, defaults, key de-duplication, assertions, which options are set), not
# that NixOS accepts the result: `nix flake check` (checks.module-eval) does that.
#
#   nix-instantiate --store dummy:// --eval --strict --json nix/tests/modules.nix \
#     --arg lib 'import /path/to/nixpkgs/lib'
#
# Prints the checked facts, or stops at the first broken one. CI has no nixpkgs, so
# scripts/lab-checks.sh runs it only when HLS_NIXPKGS_LIB names a nixpkgs lib directory.
{lib}: let
  labLib = import ../lib {};
  inherit (lib) mkOption types;

  check = name: cond:
    if cond
    then name
    else throw "modules-eval: ${name}";

  fake = name: {
    type = "derivation";
    inherit name;
    pname = name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    outputs = ["out"];
    meta.mainProgram = name;
  };
  pkgs =
    lib.genAttrs ["hls-swarm" "ffmpeg-headless" "nginx" "findutils" "coreutils" "logrotate" "systemd"] fake
    // {
      stdenv.hostPlatform.system = "x86_64-linux";
      writeText = name: _: "/nix/store/00000000000000000000000000000000-${name}";
    };
  flakeBuild = fake "hls-swarm-from-the-flake";
  flakeModules = import ../nixos-modules.nix {
    inherit lib;
    packages.x86_64-linux.default = flakeBuild;
  };

  loose = mkOption {
    type = types.attrsOf types.anything;
    default = {};
  };
  # The NixOS options the modules set, declared loosely. An option not declared here
  # (e.g. systemd.settings, which sets defaults for every unit) fails the evaluation.
  nixosStandIns = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [];
      };
      meta = loose;
      boot.kernel.sysctl = loose;
      boot.kernelModules = mkOption {
        type = types.listOf types.str;
        default = [];
      };
      networking.firewall.enable = mkOption {
        type = types.bool;
        default = true;
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [];
      };
      security.pam.loginLimits = mkOption {
        type = types.listOf types.attrs;
        default = [];
      };
      users.users = loose;
      users.groups = loose;
      services.prometheus.exporters = loose;
      systemd.mounts = mkOption {
        type = types.listOf types.attrs;
        default = [];
      };
      systemd.tmpfiles.rules = mkOption {
        type = types.listOf types.str;
        default = [];
      };
      systemd.timers = loose;
      systemd.services = mkOption {
        default = {};
        type = types.attrsOf (types.submodule {
          freeformType = types.attrsOf types.anything;
          options = {
            wantedBy = mkOption {
              type = types.listOf types.str;
              default = [];
            };
            restartIfChanged = mkOption {
              type = types.bool;
              default = true;
            };
            serviceConfig = loose;
          };
        });
      };
    };
  };

  eval = modules:
    (lib.evalModules {
      modules = [nixosStandIns {_module.args.pkgs = pkgs;}] ++ modules;
    })
    .config;
  failing = cfg: map (a: a.message) (builtins.filter (a: !a.assertion) cfg.assertions);

  url = "http://10.177.0.10:17080/stream.m3u8?token=SECRET";
  swarm = extra:
    eval [
      flakeModules.default
      flakeModules.swarm-client
      flakeModules.load-tuning
      {
        services.hls-swarm = {enable = true;} // extra;
        hls-swarm.loadTuning.enable = true;
      }
    ];
  byUrl = swarm {streamUrl = url;};
  byFile = swarm {
    streamUrlFile = "/run/secrets/hls-swarm-url";
    headerFile = "/run/secrets/hls-swarm-headers";
    autoStart = true;
  };
  unit = cfg: cfg.systemd.services.hls-swarm;
  noFirewall = eval [
    flakeModules.load-tuning
    {
      hls-swarm.loadTuning.enable = true;
      networking.firewall.enable = false;
    }
  ];
  origin = eval [
    flakeModules.test-origin
    flakeModules.load-tuning
    {services.hls-test-origin.enable = true;}
  ];
in [
  (check "default and swarm-client imported together: one package definition, the flake's" (
    byUrl.services.hls-swarm.package.name == flakeBuild.name
  ))
  (check "the swarm does not start at boot by default" ((unit byUrl).wantedBy == []))
  (check "autoStart = true starts it at boot" ((unit byFile).wantedBy == ["multi-user.target"]))
  (check "a rebuild never restarts a running test" (!(unit byUrl).restartIfChanged && !(unit byFile).restartIfChanged))
  (check "a complete configuration passes every assertion" (failing byUrl == [] && failing byFile == []))
  (check "streamUrl and streamUrlFile together are refused" (failing (swarm {
      streamUrl = url;
      streamUrlFile = "/run/secrets/u";
    })
    != []))
  (check "neither URL option is refused" (failing (swarm {}) != []))
  (check "a URL file in the Nix store is refused" (failing (swarm {streamUrlFile = "${builtins.storeDir}/x-url";}) != []))
  (check "streamUrlFile: the URL arrives as a credential, read with -url-file" (
    (unit byFile).serviceConfig.LoadCredential
    == ["headers:/run/secrets/hls-swarm-headers" "stream-url:/run/secrets/hls-swarm-url"]
    && lib.hasInfix " -url-file=%d/stream-url " (unit byFile).serviceConfig.ExecStart
    && lib.hasInfix " -header-file=%d/headers " (unit byFile).serviceConfig.ExecStart
    && !(lib.hasInfix "http" (unit byFile).serviceConfig.ExecStart)
  ))
  (check "ExecStart is labLib.swarmExecStart of the module's command line" (
    (unit byFile).serviceConfig.ExecStart
    == labLib.swarmExecStart {
      program = "${flakeBuild.outPath}/bin/${flakeBuild.name}";
      args = byFile.services.hls-swarm.commandLine;
    }
  ))
  (check "streamUrl: the URL is the last word" (lib.hasSuffix (labLib.systemdQuote url) (unit byUrl).serviceConfig.ExecStart))
  (check "shard, startAt, runId and metricsLinger reach the command line as --shard, --start-at, --run-id and --metrics-linger" (
    (swarm {
      streamUrl = url;
      shard = "2/3";
      startAt = "2026-12-06T20:00:00Z";
      runId = "rehearsal-1";
      metricsLinger = "15s";
    })
    .services
    .hls-swarm
    .commandLine
    == ["-clients=50" "-ramp-rate=5" "-duration=0" "-engine=native" "-metrics=0.0.0.0:17091" "--shard=2/3" "--start-at=2026-12-06T20:00:00Z" "--run-id=rehearsal-1" "--metrics-linger=15s" "-tui=false"]
  ))
  (check "a shard index not below the count is refused" (failing (swarm {
      streamUrl = url;
      shard = "3/3";
    })
    != []))
  (check "LimitNOFILE on the swarm unit only, sized from the viewers" (
    (unit byUrl).serviceConfig.LimitNOFILE == labLib.limitNofile {clients = 50;}
  ))
  (check "load-tuning: conntrack table sized while the firewall is on" (
    byUrl.boot.kernel.sysctl."net.netfilter.nf_conntrack_max"
    == labLib.lab.conntrackMax.client
    && builtins.elem "nf_conntrack" byUrl.boot.kernelModules
  ))
  (check "load-tuning: no conntrack setting without the firewall" (
    !(noFirewall.boot.kernel.sysctl ? "net.netfilter.nf_conntrack_max") && noFirewall.boot.kernelModules == []
  ))
  (check "load-tuning: the lab's client sysctls" (
    byUrl.boot.kernel.sysctl."net.ipv4.ip_local_port_range" == labLib.sysctl.client."net.ipv4.ip_local_port_range"
  ))
  (check "origin imports load-tuning itself; importing it again is one module, role origin" (
    origin.boot.kernel.sysctl."net.netfilter.nf_conntrack_max" == labLib.lab.conntrackMax.origin
  ))
  (check "origin: the access log is rotated by size, every minute" (
    origin.systemd.timers
    ? hls-origin-logrotate
    && origin.systemd.timers.hls-origin-logrotate.timerConfig.OnCalendar == "minutely"
    && lib.hasInfix "logrotate" origin.systemd.services.hls-origin-logrotate.serviceConfig.ExecStart
  ))
]

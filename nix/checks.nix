# checks.<system>.*: every attribute is a derivation, so `nix flake check` is valid by
# construction. Fast ones first; vm-lab boots three NixOS VMs.
{
  pkgs,
  self,
  labLib,
  system,
  nixosSystem,
}: let
  inherit (pkgs) lib;
  hls-swarm = self.packages.${system}.default;
  nixfmt = self.formatter.${system};
  src = self;

  # A NixOS system using all three modules, evaluated (not built): the module-eval check
  # forces it, the cmdline checks read the rendered command line from it.
  sys = nixosSystem {
    inherit system;
    modules = [
      self.nixosModules.swarm-client
      self.nixosModules.load-tuning
      self.nixosModules.test-origin
      {
        boot.loader.grub.enable = false;
        fileSystems."/".device = "none";
        system.stateVersion = "25.11";
        services.hls-swarm = {
          enable = true;
          streamUrl = labLib.streamUrl {};
          clients = 500;
          rampRate = 0.5;
          duration = "10m";
          engine = "ffmpeg";
          headerFile = "/run/secrets/headers";
          reportFile = "/var/lib/hls-swarm/report.json";
          extraArgs = ["-variant=lowest" "-restart-on-stall" "-origin-metrics-host=${labLib.origin.address}"];
        };
        hls-swarm.loadTuning = {
          enable = true;
          client.sysctl."net.ipv4.tcp_fin_timeout" = 10;
        };
        services.hls-test-origin = {
          enable = true;
          profile = "abr";
        };
      }
    ];
  };

  checkCmdline = name: args:
    pkgs.runCommand "hls-swarm-cmdline-${name}" {nativeBuildInputs = [pkgs.bash pkgs.coreutils pkgs.gnugrep];} ''
      bash ${../tests/lab/check-cmdline.sh} --strict --bin ${lib.getExe hls-swarm} --name ${lib.escapeShellArg name} \
        -- ${lib.escapeShellArgs args}
      touch $out
    '';

  profiles = labLib.profileNames;
in {
  build = hls-swarm;

  clippy = hls-swarm.overrideAttrs (old: {
    pname = "hls-swarm-clippy";
    nativeBuildInputs = old.nativeBuildInputs ++ [pkgs.clippy];
    buildPhase = ''
      runHook preBuild
      cargo clippy --all-targets --offline --locked -- -D warnings
      runHook postBuild
    '';
    doCheck = false;
    installPhase = "touch $out";
    postInstall = "";
  });

  rustfmt = pkgs.runCommand "hls-swarm-rustfmt" {nativeBuildInputs = [pkgs.rustfmt];} ''
    cd ${src}
    rustfmt --check --edition 2024 src/main.rs src/lib.rs tests/*.rs
    touch $out
  '';

  nix-format = pkgs.runCommand "hls-swarm-nix-format" {nativeBuildInputs = [nixfmt];} ''
    hls-swarm-nixfmt --check ${src}
    touch $out
  '';

  statix = pkgs.runCommand "hls-swarm-statix" {nativeBuildInputs = [pkgs.statix];} ''
    statix check ${src}
    touch $out
  '';

  deadnix = pkgs.runCommand "hls-swarm-deadnix" {nativeBuildInputs = [pkgs.deadnix];} ''
    deadnix --fail ${src}
    touch $out
  '';

  shellcheck = pkgs.runCommand "hls-swarm-shellcheck" {nativeBuildInputs = [pkgs.shellcheck];} ''
    cd ${src}
    shellcheck -x scripts/*.sh tests/lab/*.sh nix/swarm-client/entrypoint.sh nix/test-origin/origin.sh .ci/run
    touch $out
  '';

  # The namespace lab runs nix/rendered/*: they must be what the renderer makes today.
  lab-rendered = pkgs.runCommand "hls-swarm-lab-rendered" {} (lib.concatMapStrings (p: ''
      diff -u ${../nix/rendered}/${p}/nginx.conf ${pkgs.writeText "nginx-${p}.conf" (labLib.nginxConf {
        profileName = p;
        listenAddress = labLib.origin.address;
      })}
      diff -u ${../nix/rendered}/${p}/ffmpeg.args ${pkgs.writeText "ffmpeg-${p}.args" (lib.concatMapStrings (a: a + "\n") (labLib.ffmpegArgs p))}
    '')
    profiles
    + "touch $out\n");

  # nginx -t on each profile's config as the runner renders it (loopback, so the sandbox
  # can bind it).
  nginx-config = pkgs.runCommand "hls-swarm-nginx-config" {nativeBuildInputs = [pkgs.nginx];} (lib.concatMapStrings (p: ''
      mkdir -p ${p}/hls ${p}/logs ${p}/run
      nginx -t -q -e stderr -p "$PWD/${p}/" -c ${pkgs.writeText "nginx-${p}.conf" (labLib.nginxConf {
        profileName = p;
        listenAddress = "127.0.0.1";
      })}
    '')
    profiles
    + "touch $out\n");

  # Facts about the pure renderers and the VM instances (also run in CI, without Nix builds).
  pure-eval = pkgs.writeText "hls-swarm-pure-eval" (builtins.toJSON (import ./tests/pure.nix));

  # The modules and the flake's outputs through the module system against stand-ins (also
  # run in CI when a nixpkgs lib is given: scripts/lab-checks.sh).
  modules-standins = pkgs.writeText "hls-swarm-modules-standins" (builtins.toJSON (import ./tests/modules.nix {inherit lib;}));
  flake-outputs-standins = pkgs.writeText "hls-swarm-flake-outputs" (builtins.toJSON (import ./tests/flake-outputs.nix {inherit lib;}));

  # Every module option set above evaluates to a complete NixOS system.
  module-eval = pkgs.writeText "hls-swarm-module-eval" (builtins.toJSON {
    toplevel = builtins.unsafeDiscardStringContext sys.config.system.build.toplevel.drvPath;
    swarm = sys.config.systemd.services.hls-swarm.serviceConfig.ExecStart;
    origin = sys.config.systemd.services.hls-origin-generator.serviceConfig.ExecStart;
    limitNofile = sys.config.systemd.services.hls-swarm.serviceConfig.LimitNOFILE;
  });

  # The module's rendered command line, run against the real binary (exit 2 = rejected).
  swarm-module-cmdline = checkCmdline "module" (sys.config.services.hls-swarm.commandLine ++ [(labLib.streamUrl {})]);

  # The container entrypoint's mapping of the documented environment, likewise.
  swarm-container-cmdline = pkgs.runCommand "hls-swarm-container-cmdline" {nativeBuildInputs = [pkgs.bash pkgs.coreutils pkgs.gnugrep];} ''
    mapfile -t args < <(env HLS_SWARM_DRY_RUN=1 STREAM_URL=http://origin:17080/stream.m3u8 CLIENTS=20 \
      RAMP_RATE=5 RAMP_JITTER=100 DURATION=30s METRICS_PORT=17091 METRICS_LINGER=15 VARIANT=lowest TIMEOUT=10 \
      NO_CACHE=1 RESOLVE_IP=127.0.0.1 DANGEROUS=1 ENGINE=native JOB_COMPLETION_INDEX=3 \
      EXTRA_ARGS="-seg-retry 2 -reconnect=false" bash ${../nix/swarm-client/entrypoint.sh})
    # The entrypoint hands STREAM_URL over on fd 3 (-url-file /proc/self/fd/3).
    bash ${../tests/lab/check-cmdline.sh} --strict --bin ${lib.getExe hls-swarm} --name container -- "''${args[@]}" \
      3<<<"http://127.0.0.1:9/lab.m3u8"
    touch $out
  '';

  vm-lab = import ./tests/lab.nix {inherit pkgs self labLib;};
}

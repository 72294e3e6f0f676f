# Command-line entry to the pure renderers (no nixpkgs needed), for CI and the lab:
#   nix-instantiate --store dummy:// --eval --strict --json nix/render.nix --argstr what nginx --argstr profile ci
# what: nginx | ffmpeg | profiles | entry | tmpfs | swarm | execStart | logrotate | lab
{
  what ? "nginx",
  profile ? "ci",
  listenAddress ? null,
  clients ? "50",
  url ? null,
  program ? "hls-swarm",
  file ? "/var/log/hls-origin/access.log",
  postrotate ? "true",
  maxMegabytes ? null,
}: let
  lib = import ./lib {};
  listen =
    if listenAddress == null
    then lib.origin.address
    else listenAddress;
in
  {
    # The namespace lab's nginx.conf: listens on the origin's lab address.
    nginx = lib.nginxConf {
      profileName = profile;
      listenAddress = listen;
    };
    ffmpeg = lib.ffmpegArgs profile;
    profiles = lib.profileNames;
    entry = lib.entryPlaylist profile;
    tmpfs = lib.tmpfsMegabytes profile;
    # The NixOS module's example command line (modules/swarm-client.nix renders the same).
    swarm = lib.swarmArgs {
      clients = builtins.fromJSON clients;
      rampRate = 10;
      duration = "60s";
      engine = "native";
      metricsAddress = "0.0.0.0:${toString lib.ports.swarmMetrics}";
      url =
        if url == null
        then lib.streamUrl {profileName = profile;}
        else url;
    };
    # The swarm unit's ExecStart= as modules/swarm-client.nix renders it (the same
    # function), with the URL and headers read from credentials and $HLS_SWARM_ARGS.
    execStart = lib.swarmExecStart {
      inherit program;
      args = lib.swarmArgs {
        clients = builtins.fromJSON clients;
        rampRate = 0.5;
        duration = "60s";
        engine = "native";
        metricsAddress = "0.0.0.0:${toString lib.ports.swarmMetrics}";
        output = "/var/lib/hls-swarm/report.json";
        extraArgs = ["-user-agent=lab 100% $HOME \"quoted\"" lib.credentialArgs.headerArg lib.credentialArgs.urlFileArg];
      };
    };
    # The origin module's logrotate configuration for its access log.
    logrotate = lib.originLogrotate ({inherit file postrotate;}
      // (
        if maxMegabytes == null
        then {}
        else {maxMegabytes = builtins.fromJSON maxMegabytes;}
      ));
    inherit (lib) lab;
  }
  .${what}

# Command-line entry to the pure renderers (no nixpkgs needed), for CI and the lab:
#   nix-instantiate --store dummy:// --eval --strict --json nix/render.nix --argstr what nginx --argstr profile ci
# what: nginx | ffmpeg | profiles | entry | tmpfs | swarm | lab
{
  what ? "nginx",
  profile ? "ci",
  listenAddress ? null,
  clients ? "50",
  url ? null,
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
    inherit (lib) lab;
  }
  .${what}

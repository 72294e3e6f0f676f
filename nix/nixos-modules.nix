# The flake's nixosModules. swarm-client wraps modules/swarm-client.nix to default
# services.hls-swarm.package to the flake's own build. The wrapper is a function (it needs
# the host's system), and the module system tells function modules apart only by `key`:
# with one fixed key, importing nixosModules.default and nixosModules.swarm-client together
# (or one of them twice) loads the module once, so `package` is defined once.
# nix/tests/modules.nix checks that, against nixpkgs' lib.
{
  lib,
  packages,
}: let
  swarm-client = {pkgs, ...}: {
    key = "hls-swarm#nixosModules.swarm-client";
    _file = ./nixos-modules.nix;
    imports = [../modules/swarm-client.nix];
    services.hls-swarm.package = lib.mkDefault packages.${pkgs.stdenv.hostPlatform.system}.default;
  };
in {
  inherit swarm-client;
  load-tuning = ../modules/load-tuning.nix;
  test-origin = ../modules/test-origin.nix;
  default = swarm-client;
}

# The flake's outputs evaluated with nixpkgs' lib against stand-ins (fake packages, a fake
# nixosSystem): the attribute names and the wiring between apps and packages, nothing
# built and no NixOS evaluated (nix flake check does that).
#
#   nix-instantiate --store dummy:// --eval --strict --json nix/tests/flake-outputs.nix \
#     --arg lib 'import /path/to/nixpkgs/lib'
{lib}: let
  check = name: cond:
    if cond
    then name
    else throw "flake-outputs: ${name}";
  fake = name: {
    type = "derivation";
    inherit name;
    version = "0.0.0";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };
  pkgs =
    lib.genAttrs ["bash" "iproute2" "jq" "kmod" "acl" "coreutils" "clippy" "rustfmt" "ffmpeg-headless" "nginx" "prometheus-node-exporter" "prometheus-nginx-exporter" "curl" "shellcheck" "statix" "deadnix" "yamllint"] fake
    // {
      callPackage = f: _: fake (baseNameOf (toString f));
      writeShellApplication = a: fake a.name;
      mkShell = _: fake "shell";
      stdenv.hostPlatform.system = "x86_64-linux";
    };
  nixpkgs = {
    lib = lib // {nixosSystem = _: {config.microvm.declaredRunner = fake "microvm-runner";};};
    legacyPackages = lib.genAttrs ["x86_64-linux" "aarch64-linux"] (_: pkgs);
  };
  self =
    (import ../../flake.nix).outputs {
      inherit self nixpkgs;
      microvm.nixosModules.microvm = {};
    }
    // {outPath = ../..;};
  apps = self.apps.x86_64-linux;
  packages = self.packages.x86_64-linux;
  vms = builtins.filter (n: lib.hasPrefix "swarm-vm-" n) (builtins.attrNames packages);
in [
  (check "every client VM has an app that runs it through the wrapper" (
    vms != [] && builtins.all (n: apps ? ${n} && lib.hasPrefix "/nix/store/00000000000000000000000000000000-lab-hls-client" apps.${n}.program) vms
  ))
  (check "lab-up and lab-down are packages (built unprivileged, run as root)" (
    apps.lab-up.program == lib.getExe packages.lab-up && apps.lab-down.program == lib.getExe packages.lab-down
  ))
  (check "nixosModules: default is swarm-client, one module key" (
    let
      key = m: (m {inherit pkgs lib;}).key;
    in
      key self.nixosModules.default == key self.nixosModules.swarm-client
  ))
]

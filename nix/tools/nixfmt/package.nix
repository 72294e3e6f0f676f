# The flake's formatter (`nix fmt`, checks.nix-format): alejandra's formatting library at
# the version pinned in Cargo.lock, the same binary CI builds with cargo.
{
  lib,
  rustPlatform,
}:
rustPlatform.buildRustPackage {
  pname = "hls-swarm-nixfmt";
  version = "0.1.0";
  src = lib.fileset.toSource {
    root = ./.;
    fileset = lib.fileset.unions [./Cargo.toml ./Cargo.lock ./src];
  };
  cargoLock.lockFile = ./Cargo.lock;
  meta = {
    description = "Nix formatter of the hls-swarm flake (alejandra 3.1.0 library, with --check)";
    mainProgram = "hls-swarm-nixfmt";
  };
}

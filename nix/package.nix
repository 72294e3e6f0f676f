# hls-swarm, built from this checkout with the committed Cargo.lock. FFmpeg is put on the
# wrapper's PATH: the FFmpeg engine runs one ffmpeg per viewer, and the tests use it.
{
  lib,
  rustPlatform,
  makeWrapper,
  ffmpeg-headless,
}: let
  cargoToml = builtins.fromTOML (builtins.readFile ../Cargo.toml);
in
  rustPlatform.buildRustPackage {
    pname = cargoToml.package.name;
    inherit (cargoToml.package) version;

    src = lib.fileset.toSource {
      root = ../.;
      fileset = lib.fileset.unions [
        ../Cargo.toml
        ../Cargo.lock
        ../src
        ../tests
        ../assets
        ../nix/lab.json
        ../nix/rendered
      ];
    };
    cargoLock.lockFile = ../Cargo.lock;

    nativeBuildInputs = [makeWrapper];
    nativeCheckInputs = [ffmpeg-headless];
    # The namespace lab (tests/lab_namespaces.rs) needs root and skips itself in the
    # sandbox; the NixOS VM test (nix/tests/lab.nix) covers that ground.

    postInstall = ''
      wrapProgram $out/bin/hls-swarm --prefix PATH : ${lib.makeBinPath [ffmpeg-headless]}
    '';

    meta = {
      description = "Simulate a swarm of live HLS viewers and measure exactly what they experience";
      mainProgram = "hls-swarm";
      platforms = lib.platforms.linux;
    };
  }

# hls-swarm, built from this checkout with the committed Cargo.lock. FFmpeg is put on the
# wrapper's PATH: the FFmpeg engine runs one ffmpeg per viewer, and the tests use it.
#
# The source set and the check phase's tests and skips come from nix/package-spec.json, the one list
# scripts/nix-sandbox-check.sh (CI) also builds and tests from, offline and loopback-only,
# so a test that reads a file outside the set fails in CI and not first on a Nix machine.
{
  lib,
  rustPlatform,
  makeWrapper,
  ffmpeg-headless,
}: let
  cargoToml = lib.importTOML ../Cargo.toml;
  spec = lib.importJSON ./package-spec.json;
in
  rustPlatform.buildRustPackage {
    pname = cargoToml.package.name;
    inherit (cargoToml.package) version;

    src = lib.fileset.toSource {
      root = ../.;
      fileset = lib.fileset.unions (map (p: ../. + "/${p}") spec.src);
    };
    cargoLock.lockFile = ../Cargo.lock;

    nativeBuildInputs = [makeWrapper];
    # Tests that need a tool not listed here (promtool, nginx, the exporters, tmux,
    # Chromium) skip themselves loudly outside CI; the namespace lab (tests/lab_namespaces.rs)
    # needs root and skips itself in the sandbox (nix/tests/lab.nix covers that ground).
    nativeCheckInputs = [ffmpeg-headless];
    # The unit tests and the spec's integration tests (its _checkTests says why not all).
    cargoTestFlags = ["--lib" "--bins"] ++ lib.concatMap (t: ["--test" t]) spec.checkTests;
    checkFlags = map (t: "--skip=${t}") spec.checkSkip;

    postInstall = ''
      wrapProgram $out/bin/hls-swarm --prefix PATH : ${lib.makeBinPath [ffmpeg-headless]}
    '';

    meta = {
      description = "Simulate a swarm of live HLS viewers and measure exactly what they experience";
      mainProgram = "hls-swarm";
      platforms = lib.platforms.linux;
    };
  }

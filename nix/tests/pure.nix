# Assertions over the pure renderers and the per-instance VM parameters, evaluated with
# builtins only: `nix-instantiate --store dummy:// --eval --strict nix/tests/pure.nix` prints the checked
# facts or stops at the first broken one (CI: scripts/lab-checks.sh; flake: checks.pure-eval).
let
  l = import ../lib {};
  inherit (builtins) all concatStringsSep elem elemAt genList head length match stringLength;
  check = name: cond:
    if cond
    then name
    else throw "pure-eval: ${name}";

  n = l.lab.network.clients.maxCount;
  instances = [l.origin] ++ genList (i: l.client (i + 1)) n;
  unique = xs: all (i: all (j: i == j || elemAt xs i != elemAt xs j) (genList (x: x) (length xs))) (genList (x: x) (length xs));
  field = f: map (x: x.${f}) instances;
  vms = import ../../vms {
    self.nixosModules = {
      test-origin = {};
      swarm-client = {};
      load-tuning = {};
    };
    nixpkgs.lib.nixosSystem = args: args;
    microvm.nixosModules.microvm = {};
    system = "x86_64-linux";
  };
  hasArg = args: a: elem a args;

  # The package and the images, evaluated against stand-ins for nixpkgs (nothing built):
  # what their Nix code computes from the files it reads.
  fake = name: {
    type = "derivation";
    inherit name;
    version = "0.0.0";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };
  standIns = {
    lib = {
      importTOML = f: builtins.fromTOML (builtins.readFile f);
      importJSON = f: builtins.fromJSON (builtins.readFile f);
      fileset = {
        unions = xs: xs;
        toSource = a: a;
      };
      makeBinPath = xs: concatStringsSep ":" (map (x: "${x}/bin") xs);
      platforms.linux = ["x86_64-linux"];
      getExe = d: "${d.outPath}/bin/${d.meta.mainProgram}";
      inherit (builtins) concatStringsSep concatMap;
      concatMapStrings = f: xs: concatStringsSep "" (map f xs);
    };
    rustPlatform.buildRustPackage = a: a;
    dockerTools.buildLayeredImage = a: a;
    writeShellApplication = a: fake a.name // {inherit (a) runtimeInputs;};
    writeText = name: _: "/nix/store/00000000000000000000000000000000-${name}";
    writeTextDir = name: _: fake (builtins.baseNameOf name);
  };
  # Call a package file with stand-ins: any other argument is a fake package of its name.
  callStandIn = f: extra: let
    fn = import f;
    wanted = builtins.functionArgs fn;
    byName = builtins.listToAttrs (map (n: {
      name = n;
      value = fake n;
    }) (builtins.attrNames wanted));
  in
    fn (builtins.intersectAttrs wanted (byName // standIns // extra));
  spec = builtins.fromJSON (builtins.readFile ../package-spec.json);
  pkg = callStandIn ../package.nix {};
  originImage = callStandIn ../test-origin/container.nix {
    labLib = l;
    profile = "ci";
    version = "0.0.0";
  };
  swarmImage = callStandIn ../swarm-client/container.nix {
    labLib = l;
    hls-swarm = fake "hls-swarm";
  };
  # A command the image can run: a store path inside a package the image holds (its
  # contents or the entrypoint's runtime inputs, all in its closure), or a bare name
  # that one of its contents puts in /bin.
  runnable = image: cmd: let
    closure = image.contents ++ builtins.concatMap (c: c.runtimeInputs or []) image.contents;
  in
    builtins.any (p: cmd == "${p.outPath}/bin/${p.meta.mainProgram}") closure
    || builtins.any (p: cmd == p.meta.mainProgram) image.contents;
  argAfter = args: flag: let
    idx = builtins.filter (i: elemAt args i == flag) (genList (x: x) (length args));
  in
    elemAt args (builtins.head idx + 1);
  perProfile = name: let
    p = l.profile name;
    args = l.ffmpegArgs name;
    conf = l.nginxConf {profileName = name;};
    gop = toString (p.fps * p.segmentSeconds);
  in [
    (check "${name}: GOP = fps × segment" (argAfter args "-g" == gop && argAfter args "-keyint_min" == gop))
    (check "${name}: no scene-cut keyframes" (argAfter args "-sc_threshold" == "0"))
    (check "${name}: atomic writes" (match ".*temp_file.*" (argAfter args "-hls_flags") != null))
    (check "${name}: segments outlive the playlist" (argAfter args "-hls_delete_threshold" == toString (p.listSize + 1)))
    (check "${name}: one bitrate per rung" (all (i: hasArg args "-b:v:${toString i}") (genList (x: x) (length p.variants))))
    (check "${name}: no -minrate" (!(hasArg args "-minrate")))
    (check "${name}: master playlist iff ladder" ((length p.variants > 1) == hasArg args "-master_pl_name"))
    (check "${name}: immutable segments" (match ".*max-age=60, immutable.*" conf != null))
    (check "${name}: playlists re-validated every second" (match ".*m3u8.*open_file_cache_valid 1s.*" conf != null))
    (check "${name}: misses never cached" (match ".*open_file_cache_errors off.*" conf != null))
    (check "${name}: stub_status at /nginx_status" (match ".*location = /nginx_status [{][^}]*stub_status.*" conf != null))
    (check "${name}: access log in JSON with body bytes" (match ".*escape=json.*\"bytes\":[$]body_bytes_sent.*" conf != null))
  ];
in
  [
    (check "the package builds from exactly nix/package-spec.json's paths, which exist" (
      pkg.src.fileset == map (p: ../.. + "/${p}") spec.src && all (p: builtins.pathExists (../.. + "/${p}")) spec.src
    ))
    (check "the package's check phase skips exactly the spec's tests" (pkg.checkFlags == map (t: "--skip=${t}") spec.checkSkip))
    (check "the package's check phase runs the unit tests and exactly the spec's integration tests, which exist" (
      pkg.cargoTestFlags
      == ["--lib" "--bins"] ++ builtins.concatMap (t: ["--test" t]) spec.checkTests
      && all (t: builtins.pathExists (../../tests + "/${t}.rs")) spec.checkTests
    ))
    (check "origin image: the health check's command is in the image" (runnable originImage (elemAt originImage.config.Healthcheck.Test 1)))
    (check "origin image: the entrypoint is in the image" (runnable originImage (head originImage.config.Entrypoint)))
    (check "swarm image: the entrypoint is in the image" (runnable swarmImage (head swarmImage.config.Entrypoint)))
    (check "instance addresses unique" (unique (field "address")))
    (check "instance MACs unique" (unique (field "mac")))
    (check "instance TAPs unique" (unique (field "tap")))
    (check "TAP names fit IFNAMSIZ (15)" (all (t: stringLength t <= 15) (field "tap")))
    (check "MACs locally administered unicast" (all (m: match "[0-9a-f][26ae](:[0-9a-f]{2}){5}" m != null) (field "mac")))
    (check "addresses inside 10.177.0.0/24, not the gateway" (all (a: match "10[.]177[.]0[.]([0-9]+)" a != null && a != l.network.gateway) (field "address")))
    (check "one VM per lab instance" (builtins.attrNames vms.nixosConfigurations == ["hls-client1" "hls-client2" "hls-origin"]))
    (check "client VMs get distinct id ranges" (
      elemAt (elemAt vms.nixosConfigurations.hls-client2.modules 3).services.hls-swarm.extraArgs 0 == "-client-id-offset=200"
    ))
    (check "systemd quoting doubles % and $" (l.systemdArgs ["50%" "$X"] == "\"50%%\" \"$$X\""))
    (check "shell quoting survives a quote" (l.shellQuote "a'b" == "'a'\\''b'"))
    (check "swarm argv: URL last, TUI off" (
      let
        a = l.swarmArgs {
          clients = 5;
          url = "http://u/";
        };
      in
        elemAt a (length a - 1) == "http://u/" && hasArg a "-tui=false"
    ))
    (check "fractional ramp rates render as typed" (hasArg (l.swarmArgs {
      clients = 1;
      rampRate = 0.5;
    }) "-ramp-rate=0.5"))
    (check "LimitNOFILE grows with viewers" (l.limitNofile {clients = 1000;} > 1024 + 5 * 1000))
    (check "unknown profiles are refused" (!(builtins.tryEval (l.ffmpegArgs "nope")).success))
    (check "the streams' entry playlists" (l.entryPlaylist "abr" == "master.m3u8" && l.entryPlaylist "default" == "stream.m3u8"))
    (check "every profile named in the issue exists" (all (p: elem p l.profileNames) ["default" "low-latency" "abr" "stress"]))
    (check "the abr ladder has several rungs" (length (l.profile "abr").variants >= 3))
  ]
  ++ builtins.concatMap perProfile l.profileNames

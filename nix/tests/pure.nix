# Assertions over the pure renderers and the per-instance VM parameters, evaluated with
# builtins only: `nix-instantiate --store dummy:// --eval --strict nix/tests/pure.nix` prints the checked
# facts or stops at the first broken one (CI: scripts/lab-checks.sh; flake: checks.pure-eval).
let
  l = import ../lib {};
  inherit (builtins) all elem elemAt genList length match stringLength;
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

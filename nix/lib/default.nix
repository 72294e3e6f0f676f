# The lab's renderers: nginx.conf, the ffmpeg generator's argv, the swarm's argv and the
# per-instance network values, all from nix/lab.json.
#
# Only builtins are used, so this file evaluates without nixpkgs: CI runs it with
# `nix-instantiate --eval --strict` (scripts/render-lab.sh), the flake imports the very
# same file, and the namespace lab (tests/lab/) runs what it renders. One template per
# artefact; deployments differ only in the parameters they pass (listen address, paths).
{lab ? builtins.fromJSON (builtins.readFile ../lab.json)}: let
  inherit
    (builtins)
    attrNames
    concatMap
    concatStringsSep
    elemAt
    genList
    hasAttr
    head
    length
    replaceStrings
    substring
    toJSON
    ;

  str = toString;
  range = genList (i: i);
  imap = f: xs: genList (i: f i (elemAt xs i)) (length xs);
  optionals = cond: xs:
    if cond
    then xs
    else [];
  optional = cond: x: optionals cond [x];
  # Numbers as a person writes them: 0.5 -> "0.5", 2 -> "2" (toString 0.5 is "0.500000").
  num = toJSON;

  # Quoting for a POSIX shell word.
  shellQuote = s: "'" + replaceStrings ["'"] ["'\\''"] s + "'";
  # Quoting for one word of a systemd ExecStart= line: a C-style quoted string with the
  # specifier (%) and variable ($) characters doubled.
  systemdQuote = s: replaceStrings ["%" "$"] ["%%" "$$"] (toJSON s);

  hexDigits = "0123456789abcdef";
  hex2 = n: let
    digit = d: substring d 1 hexDigits;
  in
    digit (n / 16) + digit (n - (n / 16) * 16);

  profileNames = attrNames lab.profiles;

  profile = name:
    if hasAttr name lab.profiles
    then lab.profiles.${name} // {inherit name;}
    else throw "hls-swarm lab: unknown origin profile '${name}' (known: ${concatStringsSep ", " profileNames})";

  checkLadder = p: let
    vs = p.variants;
    ordered = builtins.all (i: (elemAt vs i).width >= (elemAt vs (i + 1)).width) (range (length vs - 1));
  in
    if vs == []
    then throw "hls-swarm lab: profile '${p.name}' has no variants"
    else if !ordered
    then throw "hls-swarm lab: profile '${p.name}' must list variants highest first"
    else p;

  isLadder = p: length p.variants > 1;

  # Where a viewer starts: the master playlist of a ladder, else the media playlist.
  entryPlaylist = name:
    if isLadder (profile name)
    then "master.m3u8"
    else "stream.m3u8";

  # RFC 8216 §6.2.2: a segment removed from the playlist stays available for at least the
  # playlist's duration, so ffmpeg keeps listSize + 1 unreferenced segments before deleting.
  deleteThreshold = p: p.listSize + 1;

  hlsFlags = "delete_segments+omit_endlist+temp_file+independent_segments+program_date_time";

  # The generator: run with the working directory set to the served HLS directory (all
  # paths are relative), so every deployment runs the same argv.
  ffmpegArgs = name: let
    p = checkLadder (profile name);
    vs = p.variants;
    n = length vs;
    top = head vs;
    seg = str p.segmentSeconds;
    gop = str (p.fps * p.segmentSeconds);
    perVariant = f: concatMap (i: f (str i) (elemAt vs i)) (range n);
    filterGraph =
      "[0:v]split=${str n}${concatStringsSep "" (map (i: "[s${str i}]") (range n))};"
      + concatStringsSep ";" (imap (i: v: "[s${str i}]scale=${str v.width}:${str v.height}[v${str i}]") vs);
  in
    [
      "-hide_banner"
      "-nostdin"
      "-nostats"
      "-loglevel"
      "warning"
      "-re"
      "-f"
      "lavfi"
      "-i"
      "testsrc2=size=${str top.width}x${str top.height}:rate=${str p.fps}"
      "-re"
      "-f"
      "lavfi"
      "-i"
      "sine=frequency=${str lab.origin.toneHz}:sample_rate=${str lab.origin.audioSampleRate}"
    ]
    ++ (
      if n == 1
      then ["-map" "0:v" "-map" "1:a"]
      else
        ["-filter_complex" filterGraph]
        ++ concatMap (i: ["-map" "[v${str i}]"]) (range n)
        ++ concatMap (_: ["-map" "1:a"]) (range n)
    )
    ++ ["-c:v" "libx264" "-preset" p.preset]
    ++ optionals (p.tune != null) ["-tune" p.tune]
    # Fixed GOP of exactly one segment, no scene-cut keyframes: every segment of every
    # rung starts with a keyframe at the same instant.
    ++ ["-pix_fmt" "yuv420p" "-g" gop "-keyint_min" gop "-sc_threshold" "0" "-force_key_frames" "expr:gte(t,n_forced*${seg})"]
    ++ perVariant (i: v: [
      "-b:v:${i}"
      "${str v.videoKbps}k"
      "-maxrate:v:${i}"
      "${str v.maxrateKbps}k"
      "-bufsize:v:${i}"
      "${str v.bufsizeKbps}k"
    ])
    ++ ["-c:a" "aac" "-ar" (str lab.origin.audioSampleRate)]
    ++ perVariant (i: v: ["-b:a:${i}" "${str v.audioKbps}k"])
    ++ [
      "-f"
      "hls"
      "-hls_time"
      seg
      "-hls_list_size"
      (str p.listSize)
      "-hls_delete_threshold"
      (str (deleteThreshold p))
      "-hls_flags"
      hlsFlags
      "-hls_segment_type"
      "mpegts"
    ]
    ++ (
      if n == 1
      then ["-hls_segment_filename" "seg%05d.ts" "stream.m3u8"]
      else [
        "-master_pl_name"
        "master.m3u8"
        "-var_stream_map"
        (concatStringsSep " " (imap (i: v: "v:${str i},a:${str i},name:${v.name}") vs))
        "-hls_segment_filename"
        "%v/seg%05d.ts"
        "%v/stream.m3u8"
      ]
    );

  # tmpfs size for a profile: every rung's listed + retained segments (plus the one being
  # written and its temp file) at maxrate, with 50 % headroom, plus 16 MiB for playlists.
  tmpfsMegabytes = name: let
    p = profile name;
    files = p.listSize + deleteThreshold p + 2;
    bytes = v: (v.maxrateKbps + v.audioKbps) * 125 * p.segmentSeconds * files;
    total = builtins.foldl' (acc: v: acc + bytes v) 0 p.variants;
  in
    (total * 3 / 2) / 1048576 + 16;

  # nginx.conf for the test origin. Relative paths are relative to nginx's prefix (-p), so
  # the same text serves the runner, the container and the namespace lab; the NixOS module
  # passes absolute paths. Run it as `nginx -c FILE -p PREFIX -e stderr`.
  nginxConf = {
    profileName ? lab.origin.defaultProfile,
    listenAddress ? "0.0.0.0",
    port ? lab.ports.origin,
    root ? "hls",
    logDir ? "logs",
    runDir ? "run",
    # Who may read stub_status: the nginx exporter scrapes it from the origin host.
    statusAllow ? ["127.0.0.1" lab.network.origin.address],
  }: let
    p = profile profileName;
    o = lab.origin;
  in ''
    # hls-swarm test origin, profile "${p.name}": ${p.description}
    # Rendered by nix/lib/default.nix from nix/lab.json; do not edit (docs/lab.md).
    daemon off;
    worker_processes auto;
    worker_rlimit_nofile 65536;
    pid ${runDir}/nginx.pid;
    error_log stderr warn;

    events {
      worker_connections 16384;
    }

    http {
      types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
      }
      default_type application/octet-stream;
      server_tokens off;
      charset off;

      client_body_temp_path ${runDir}/client_body;
      proxy_temp_path ${runDir}/proxy;
      fastcgi_temp_path ${runDir}/fastcgi;
      uwsgi_temp_path ${runDir}/uwsgi;
      scgi_temp_path ${runDir}/scgi;

      sendfile on;
      tcp_nopush on;
      tcp_nodelay on;
      keepalive_timeout 65s;
      keepalive_requests 100000;
      reset_timedout_connection on;

      # Segments are immutable once renamed into place (ffmpeg temp_file), so cached
      # descriptors may live 10 s; playlists are rewritten every segment, so their cache
      # entries are re-validated every second (location below). Misses are never cached:
      # a segment asked for just before it appears must not stay 404.
      open_file_cache max=4096 inactive=20s;
      open_file_cache_valid 10s;
      open_file_cache_min_uses 1;
      open_file_cache_errors off;

      # One JSON object per request. bytes = $body_bytes_sent (the body bytes a client
      # counts); the lab compares these lines with the swarm's report.
      log_format hls_json escape=json '{"time":$msec,"addr":"$remote_addr","method":"$request_method",'
        '"uri":"$uri","status":$status,"bytes":$body_bytes_sent,"sent":$bytes_sent,'
        '"request_time":$request_time,"conn":$connection,"conn_requests":$connection_requests,'
        '"ua":"$http_user_agent"}';
      access_log ${logDir}/access.log hls_json buffer=64k flush=1s;

      server {
        listen ${listenAddress}:${str port} reuseport backlog=4096;
        server_name _;
        root ${root};

        if ($request_method !~ ^(GET|HEAD)$) {
          return 405;
        }

        location = /health {
          access_log off;
          default_type text/plain;
          add_header Cache-Control "no-store" always;
          return 200 "ok\n";
        }

        location = /nginx_status {
          stub_status;
          access_log off;
          ${concatStringsSep "\n      " (map (a: "allow ${a};") statusAllow)}
          deny all;
          add_header Cache-Control "no-store" always;
        }

        location = /master.m3u8 {
          open_file_cache_valid 1s;
          add_header Cache-Control "public, max-age=${str o.masterMaxAge}";
          add_header Access-Control-Allow-Origin "*";
        }

        location ~ \.m3u8$ {
          open_file_cache_valid 1s;
          add_header Cache-Control "public, max-age=${str o.playlistMaxAge}";
          add_header Access-Control-Allow-Origin "*";
        }

        location ~ \.ts$ {
          add_header Cache-Control "public, max-age=${str o.segmentMaxAge}, immutable";
          add_header Access-Control-Allow-Origin "*";
        }

        location / {
          return 404;
        }
      }
    }
  '';

  # The swarm's command line (argv after the program name). Every flag is one word
  # (`-flag=value`), the URL comes last; null/false options are left out so the binary's
  # own defaults apply. The NixOS module, the VM test and the flag check all use this.
  swarmArgs = {
    url ? null,
    clients,
    rampRate ? null,
    rampJitter ? null,
    duration ? null,
    engine ? null,
    metricsAddress ? null,
    variant ? null,
    timeout ? null,
    noCache ? false,
    resolveIp ? null,
    dangerous ? false,
    tui ? false,
    clientIdOffset ? null,
    shard ? null,
    startAt ? null,
    runId ? null,
    metricsLinger ? null,
    output ? null,
    extraArgs ? [],
  }:
    ["-clients=${str clients}"]
    ++ optional (rampRate != null) "-ramp-rate=${num rampRate}"
    ++ optional (rampJitter != null) "-ramp-jitter=${rampJitter}"
    ++ optional (duration != null) "-duration=${duration}"
    ++ optional (engine != null) "-engine=${engine}"
    ++ optional (metricsAddress != null) "-metrics=${metricsAddress}"
    ++ optional (variant != null) "-variant=${variant}"
    ++ optional (timeout != null) "-timeout=${timeout}"
    ++ optional noCache "-no-cache"
    ++ optional (resolveIp != null) "-resolve=${resolveIp}"
    ++ optional dangerous "--dangerous"
    ++ optional (clientIdOffset != null) "-client-id-offset=${str clientIdOffset}"
    ++ optional (shard != null) "--shard=${shard}"
    ++ optional (startAt != null) "--start-at=${startAt}"
    ++ optional (runId != null) "--run-id=${runId}"
    ++ optional (metricsLinger != null) "--metrics-linger=${metricsLinger}"
    ++ optional (output != null) "--output=${output}"
    ++ [
      "-tui=${
        if tui
        then "true"
        else "false"
      }"
    ]
    ++ extraArgs
    ++ optional (url != null) url;

  # logrotate(8) configuration bounding the origin's access log: renamed once larger than
  # maxMegabytes, `keep` old files kept, then `postrotate` (which makes nginx reopen its
  # log; nginx creates the new file). Run often (the module: every minute), the log takes
  # at most (keep + 1) × maxMegabytes plus what one interval writes.
  originLogrotate = {
    file,
    maxMegabytes ? lab.origin.accessLog.maxMegabytes,
    keep ? lab.origin.accessLog.keep,
    postrotate,
  }: ''
    "${file}" {
      size ${str maxMegabytes}M
      rotate ${str keep}
      missingok
      notifempty
      nocompress
      nocreate
      postrotate
        ${postrotate}
      endscript
    }
  '';

  # The swarm service's secrets arrive as systemd credentials; %d (the credentials
  # directory) must reach ExecStart unquoted, so these words are not systemd-quoted.
  credentialArgs = {
    headerArg = "-header-file=%d/headers";
    urlFileArg = "-url-file=%d/stream-url";
    streamsArg = "--streams=%d/streams";
  };

  # The swarm service's ExecStart= line (modules/swarm-client.nix), rendered here so CI can
  # render the very same line and run it against the binary (scripts/lab-checks.sh):
  # every argument one quoted word, then $HLS_SWARM_ARGS (from the EnvironmentFile, split
  # on whitespace, nothing when unset), then the URL when it is not read from a file.
  swarmExecStart = {
    program,
    args,
    url ? null,
  }: let
    raw = builtins.attrValues credentialArgs;
    word = a:
      if builtins.elem a raw
      then a
      else systemdQuote a;
  in
    concatStringsSep " " ([program] ++ map word args ++ ["$HLS_SWARM_ARGS"] ++ optional (url != null) (systemdQuote url));

  # File descriptors and tasks a swarm of `clients` viewers needs (DESIGN: ≥ 1024 + 5 ×
  # clients for native viewers; an FFmpeg viewer adds its proxy sockets and pipes).
  limitNofile = {
    clients,
    engine ? "native",
  }:
    lab.swarm.fdBase + clients * lab.swarm.fdPerViewer.${engine};
  tasksMax = {
    clients,
    engine ? "native",
  }:
    lab.swarm.tasksBase + clients * lab.swarm.tasksPerViewer.${engine};

  # Per-instance network values; instances are numbered from 1.
  client = i: let
    c = lab.network.clients;
  in
    if i < 1 || i > c.maxCount
    then throw "hls-swarm lab: client index ${str i} outside 1..${str c.maxCount}"
    else {
      index = i;
      hostName = "${c.hostNamePrefix}${str i}";
      address = "${c.addressPrefix}${str (c.firstHost + i - 1)}";
      mac = "${c.macPrefix}${hex2 i}";
      tap = "${c.tapPrefix}${str i}";
    };

  streamUrl = {
    profileName ? lab.origin.defaultProfile,
    host ? lab.network.origin.address,
  }: "http://${host}:${str lab.ports.origin}/${entryPlaylist profileName}";
in {
  inherit
    lab
    profileNames
    profile
    entryPlaylist
    ffmpegArgs
    tmpfsMegabytes
    nginxConf
    swarmArgs
    limitNofile
    tasksMax
    client
    streamUrl
    shellQuote
    systemdQuote
    credentialArgs
    swarmExecStart
    originLogrotate
    ;
  inherit (lab) ports network sysctl ulimits;
  inherit (lab.network) origin;
  # The ffmpeg command as one shell line (for the runner and the container).
  ffmpegShellArgs = name: concatStringsSep " " (map shellQuote (ffmpegArgs name));
  # An argv as one systemd ExecStart= tail.
  systemdArgs = args: concatStringsSep " " (map systemdQuote args);
}

# checks.<system>.vm-lab: the lab in NixOS VMs. One origin (services.hls-test-origin,
# profile ci) and two clients (services.hls-swarm, 50 viewers × 60 s each) on the lab
# addresses. Asserted: neither swarm starts by itself at boot; client2 reads its URL from a
# credential (streamUrlFile) and the URL is not on its command line; via /metrics, every
# viewer active and no errors while running; at the end, each swarm's per-kind request
# counts and body bytes (its --output report, since /metrics goes away with the process)
# equal the origin's nginx access log lines from that client, and every viewer was active
# with zero errors; the units' sandboxing is what the modules set and systemd-analyze
# rates each unit's exposure at most 4.5 (of 10). Never run here (no Nix, no KVM in CI).
{
  pkgs,
  self,
  labLib,
}: let
  profile = "ci";
  viewers = 50;
  originAddress = labLib.origin.address;

  client = i: {
    imports = [self.nixosModules.swarm-client self.nixosModules.load-tuning];
    virtualisation.memorySize = 1536;
    virtualisation.cores = 2;
    networking.interfaces.eth1.ipv4.addresses = [
      {
        inherit (labLib.client i) address;
        inherit (labLib.network) prefixLength;
      }
    ];
    hls-swarm.loadTuning.enable = true;
    # client1 has the URL in its unit; client2 reads it from a credential file.
    environment.etc."hls-swarm/stream-url".text = labLib.streamUrl {profileName = profile;} + "\n";
    services.hls-swarm = {
      enable = true;
      streamUrl =
        if i == 1
        then labLib.streamUrl {profileName = profile;}
        else null;
      streamUrlFile =
        if i == 1
        then null
        else "/etc/hls-swarm/stream-url";
      clients = viewers;
      rampRate = 25;
      duration = "60s";
      reportFile = "/var/lib/hls-swarm/report.json";
      openFirewall = true;
      extraArgs = [
        "-variant=lowest"
        "-client-id-offset=${toString ((i - 1) * viewers)}"
      ];
    };
    # Not started at boot (autoStart defaults to false): the test script starts it once
    # the origin serves a stream.
  };
in
  pkgs.testers.runNixOSTest {
    name = "hls-swarm-lab";
    meta.timeout = 1200;

    nodes = {
      origin = {
        imports = [self.nixosModules.test-origin];
        virtualisation.memorySize = 1536;
        virtualisation.cores = 2;
        networking.interfaces.eth1.ipv4.addresses = [
          {
            address = originAddress;
            inherit (labLib.network) prefixLength;
          }
        ];
        services.hls-test-origin = {
          enable = true;
          inherit profile;
          openFirewall = true;
        };
      };
      client1 = client 1;
      client2 = client 2;
    };

    testScript = ''
      import json

      VIEWERS = ${toString viewers}
      CLIENTS = {
          "client1": (client1, "${(labLib.client 1).address}"),
          "client2": (client2, "${(labLib.client 2).address}"),
      }

      def metric(text, name):
          for line in text.splitlines():
              parts = line.split()
              if len(parts) == 2 and parts[0] == name:
                  return float(parts[1])
          raise AssertionError(f"{name} not on /metrics")

      def kind(uri):
          if uri == "/master.m3u8":
              return "master"
          if uri.endswith(".m3u8"):
              return "playlist"
          if uri.endswith(".ts"):
              return "segment"
          return "other"

      start_all()

      with subtest("origin serves a live ${profile} stream"):
          origin.wait_for_unit("hls-origin-generator.service")
          origin.wait_for_unit("hls-origin-nginx.service")
          origin.wait_for_open_port(${toString labLib.ports.origin})
          origin.wait_until_succeeds(
              "curl -sf http://127.0.0.1:${toString labLib.ports.origin}/${labLib.entryPlaylist profile} | grep -q stream.m3u8",
              timeout=90,
          )
          origin.wait_until_succeeds(
              "test $(curl -sf http://127.0.0.1:${toString labLib.ports.origin}/144p/stream.m3u8 | grep -c EXTINF) -ge 3",
              timeout=90,
          )
          origin.wait_for_open_port(${toString labLib.ports.nodeExporter})
          origin.wait_for_open_port(${toString labLib.ports.nginxExporter})
          origin.succeed("curl -sf http://127.0.0.1:${toString labLib.ports.nginxExporter}/metrics | grep -q '^nginx_up 1'")

      with subtest("no swarm starts by itself"):
          for name, (node, _) in CLIENTS.items():
              node.wait_for_unit("multi-user.target")
              node.fail("systemctl is-active --quiet hls-swarm.service")
              assert node.succeed("systemctl show -p ActiveEnterTimestampMonotonic --value hls-swarm.service").strip() == "0", name

      with subtest("both swarms start"):
          for name, (node, _) in CLIENTS.items():
              node.wait_until_succeeds("curl -sf http://${originAddress}:${toString labLib.ports.origin}/health", timeout=60)
              node.succeed("systemctl start hls-swarm.service")

      with subtest("client2's URL comes from its credential, not its command line"):
          pid = client2.succeed("systemctl show -p MainPID --value hls-swarm.service").strip()
          cmdline = client2.succeed(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
          assert "-url-file=" in cmdline and "http://" not in cmdline, cmdline

      with subtest("/metrics: every viewer active, no errors"):
          for name, (node, _) in CLIENTS.items():
              node.wait_until_succeeds(
                  "curl -sf http://127.0.0.1:${toString labLib.ports.swarmMetrics}/metrics"
                  f" | grep -Eq '^hls_swarm_active_clients {VIEWERS}(\\.0)?$'",
                  timeout=60,
              )
              text = node.succeed("curl -sf http://127.0.0.1:${toString labLib.ports.swarmMetrics}/metrics")
              assert metric(text, "hls_swarm_active_clients") == VIEWERS, name
              assert metric(text, "hls_swarm_error_rate") == 0, f"{name}: error rate on /metrics"

      with subtest("the runs end cleanly"):
          for name, (node, _) in CLIENTS.items():
              node.wait_until_fails("systemctl is-active --quiet hls-swarm.service", timeout=180)
              status = node.succeed("systemctl show -p ExecMainStatus --value hls-swarm.service").strip()
              assert status == "0", f"{name}: hls-swarm exited with {status}"

      with subtest("request counts and bytes equal the nginx access log"):
          # USR1 makes nginx reopen its logs, writing out buffered lines.
          origin.succeed("kill -USR1 $(systemctl show -p MainPID --value hls-origin-nginx.service)")
          origin.sleep(2)
          lines = [json.loads(l) for l in origin.succeed("cat /var/log/hls-origin/access.log").splitlines() if l]
          for name, (node, addr) in CLIENTS.items():
              report = json.loads(node.succeed("cat /var/lib/hls-swarm/report.json"))
              assert report["viewers"]["peak_active"] == VIEWERS, f"{name}: peak {report['viewers']}"
              assert report["viewers"]["active_at_end"] == VIEWERS, f"{name}: end {report['viewers']}"
              assert report["viewers"]["failures"] == 0, f"{name}: failures {report['viewers']}"
              assert report["errors"]["total"] == 0, f"{name}: errors {report['errors']}"
              mine = [l for l in lines if l["addr"] == addr]
              assert mine, f"{name}: no access-log lines from {addr}"
              assert all(l["status"] == 200 for l in mine), f"{name}: non-200 in the access log"
              for k in ("master", "playlist", "segment"):
                  logged = [l for l in mine if kind(l["uri"]) == k]
                  got = report["requests"].get(k, {"count": 0, "bytes": 0})
                  assert got["count"] == len(logged), f"{name} {k}: swarm {got['count']} vs log {len(logged)}"
                  assert got["bytes"] == sum(l["bytes"] for l in logged), f"{name} {k}: bytes differ"
              assert not [l for l in mine if kind(l["uri"]) == "other"], f"{name}: unexpected paths"
              assert report["total_bytes"] == sum(l["bytes"] for l in mine), f"{name}: total bytes"

      with subtest("hardening: the sandboxing the modules set, and systemd's exposure rating"):
          import re

          def props(node, unit, names):
              out = node.succeed(f"systemctl show -p {','.join(names)} {unit}")
              return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

          def exposure(node, unit):
              out = node.succeed(f"systemd-analyze security --no-pager {unit}")
              node.log(out)
              m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
              assert m, f"{unit}: no exposure level in: {out[-300:]}"
              return float(m.group(1))

          common = ["NoNewPrivileges", "PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices",
                    "CapabilityBoundingSet", "RestrictNamespaces", "SystemCallArchitectures"]
          for node, unit in [(client1, "hls-swarm.service"), (origin, "hls-origin-nginx.service"),
                             (origin, "hls-origin-generator.service")]:
              p = props(node, unit, common + ["DynamicUser", "PrivateNetwork", "RestrictAddressFamilies"])
              assert p["NoNewPrivileges"] == "yes", (unit, p)
              assert p["PrivateTmp"] == "yes", (unit, p)
              assert p["ProtectSystem"] == "strict", (unit, p)
              assert p["PrivateDevices"] == "yes", (unit, p)
              assert p["CapabilityBoundingSet"] == "", (unit, p)
              assert p["RestrictNamespaces"] == "yes", (unit, p)
              assert "AF_NETLINK" not in p["RestrictAddressFamilies"] and "AF_PACKET" not in p["RestrictAddressFamilies"], (unit, p)
              level = exposure(node, unit)
              assert level <= 4.5, f"{unit}: exposure {level} > 4.5"
          assert props(client1, "hls-swarm.service", ["DynamicUser"])["DynamicUser"] == "yes"
          assert props(origin, "hls-origin-generator.service", ["PrivateNetwork"])["PrivateNetwork"] == "yes"
    '';
  }

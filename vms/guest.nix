# What every lab MicroVM shares: QEMU, the host's store over 9p, one TAP on the host
# bridge with a static lab address, and no way in over the network. The console is QEMU's
# stdio (the terminal that ran microvm-run), never a TCP port; root is locked and logged
# in automatically only there.
{
  lib,
  config,
  ...
}: let
  cfg = config.hls-lab.instance;
  labLib = import ../nix/lib {};
in {
  options.hls-lab.instance = {
    hostName = lib.mkOption {type = lib.types.str;};
    address = lib.mkOption {type = lib.types.str;};
    mac = lib.mkOption {type = lib.types.str;};
    tap = lib.mkOption {
      type = lib.types.strMatching ".{1,15}";
      description = "TAP device on the host (at most 15 characters), made by scripts/lab-net-up.sh.";
    };
    vcpu = lib.mkOption {type = lib.types.ints.positive;};
    mem = lib.mkOption {
      type = lib.types.ints.positive;
      description = "Guest memory in MiB.";
    };
  };

  config = {
    microvm = {
      hypervisor = "qemu";
      inherit (cfg) vcpu mem;
      interfaces = [
        {
          type = "tap";
          id = cfg.tap;
          inherit (cfg) mac;
          tap.vhost = true;
        }
      ];
      shares = [
        {
          tag = "ro-store";
          source = "/nix/store";
          mountPoint = "/nix/.ro-store";
          proto = "9p";
        }
      ];
      # QMP control socket in the working directory (scripts/lab-vm.sh runs each VM in
      # its own state directory), used by microvm-shutdown.
      socket = "${cfg.hostName}.sock";
      qemu.serialConsole = true;
    };

    networking = {
      inherit (cfg) hostName;
      useDHCP = false;
      useNetworkd = true;
      firewall.enable = true;
    };
    systemd.network.networks."10-lab" = {
      matchConfig.MACAddress = cfg.mac;
      address = ["${cfg.address}/${toString labLib.network.prefixLength}"];
      # The lab bridge has no way out: no gateway, no DNS.
      linkConfig.RequiredForOnline = "routable";
    };

    # root has no password (NixOS leaves it locked); the autologin is on the console only,
    # and there is no sshd.
    services.getty.autologinUser = "root";
    services.openssh.enable = false;

    documentation.enable = false;
    system.stateVersion = "25.11";
  };
}

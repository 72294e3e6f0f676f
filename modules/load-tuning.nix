# hls-swarm.loadTuning: kernel and limit settings for load-test hosts (swarm clients and
# the test origin), taken from nix/lab.json. Every value is an option, so a host can change
# one key without forking the set. It touches no other service: the swarm and origin units
# set their own LimitNOFILE, so the host's other units keep systemd's defaults.
{
  config,
  lib,
  ...
}: let
  inherit (lib) filterAttrs mapAttrs mkDefault mkIf mkMerge mkOption types;
  labLib = import ../nix/lib {};
  cfg = config.hls-swarm.loadTuning;

  sysctlValue = types.nullOr (types.oneOf [types.int types.str]);
  roleSet = cfg.${cfg.role};

  limitsFor = item: value: [
    {
      domain = "*";
      type = "soft";
      inherit item;
      value = toString value;
    }
    {
      domain = "*";
      type = "hard";
      inherit item;
      value = toString value;
    }
  ];
in {
  options.hls-swarm.loadTuning = {
    enable = lib.mkEnableOption "hls-swarm's load-host tuning (sysctls and limits from nix/lab.json)";

    role = mkOption {
      type = types.enum ["client" "origin"];
      default = "client";
      description = "Which set applies to this host: `client` (swarm load generator) or `origin`.";
    };

    client = {
      sysctl = mkOption {
        type = types.attrsOf sysctlValue;
        example = {
          "net.ipv4.ip_local_port_range" = "15000 65000";
          "fs.nr_open" = null;
        };
        description = ''
          Sysctls for swarm clients, preset from nix/lab.json `sysctl.client`: a wide
          ephemeral port range, TIME_WAIT reuse, short FIN timeout, larger socket buffers
          (only keys that exist on current kernels). Keys set here replace the preset one
          by one; `null` leaves that key at the kernel's value.
        '';
      };
      nofile = mkOption {
        type = types.ints.positive;
        default = labLib.ulimits.client.nofile;
        description = "Open files limit (soft and hard) for login sessions (PAM), where a swarm run by hand starts.";
      };
      nproc = mkOption {
        type = types.ints.positive;
        default = labLib.ulimits.client.nproc;
        description = "Process limit (soft and hard) for login sessions.";
      };
      conntrackMax = mkOption {
        type = types.ints.positive;
        default = labLib.lab.conntrackMax.client;
        description = ''
          `net.netfilter.nf_conntrack_max` while the firewall is on (NixOS's firewall tracks
          every connection; the kernel's default table, sized from RAM, can fill under a
          load test and then drops new connections). Unset when the firewall is off.
        '';
      };
    };

    origin = {
      sysctl = mkOption {
        type = types.attrsOf sysctlValue;
        description = ''
          Sysctls for the test origin, preset from nix/lab.json `sysctl.origin`: deep accept
          and SYN backlogs, larger socket buffers. Keys set here replace the preset one by
          one; `null` leaves that key at the kernel's value.
        '';
      };
      nofile = mkOption {
        type = types.ints.positive;
        default = labLib.ulimits.origin.nofile;
        description = "Open files limit (soft and hard) for login sessions (PAM), where a swarm run by hand starts.";
      };
      nproc = mkOption {
        type = types.ints.positive;
        default = labLib.ulimits.origin.nproc;
        description = "Process limit (soft and hard) for login sessions.";
      };
      conntrackMax = mkOption {
        type = types.ints.positive;
        default = labLib.lab.conntrackMax.origin;
        description = ''
          `net.netfilter.nf_conntrack_max` while the firewall is on (NixOS's firewall tracks
          every connection; the kernel's default table, sized from RAM, can fill under a
          load test and then drops new connections). Unset when the firewall is off.
        '';
      };
    };
  };

  config = mkMerge [
    {
      # The presets are definitions at mkDefault priority, so a host's own value for one
      # key replaces that key only (an option default would be replaced as a whole).
      hls-swarm.loadTuning.client.sysctl = mapAttrs (_: mkDefault) labLib.sysctl.client;
      hls-swarm.loadTuning.origin.sysctl = mapAttrs (_: mkDefault) labLib.sysctl.origin;
    }
    (mkIf cfg.enable {
      # mkDefault: a host's own boot.kernel.sysctl."…" wins without mkForce.
      boot.kernel.sysctl = mapAttrs (_: mkDefault) (filterAttrs (_: v: v != null) roleSet.sysctl);

      security.pam.loginLimits = limitsFor "nofile" roleSet.nofile ++ limitsFor "nproc" roleSet.nproc;
    })
    (mkIf (cfg.enable && config.networking.firewall.enable) {
      # Loaded at boot so that systemd-sysctl (ordered after systemd-modules-load) finds
      # the key; the firewall would load it later anyway.
      boot.kernelModules = ["nf_conntrack"];
      boot.kernel.sysctl."net.netfilter.nf_conntrack_max" = mkDefault roleSet.conntrackMax;
    })
  ];
}

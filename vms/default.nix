# The lab's MicroVMs (microvm.nix, QEMU, TAP on the host bridge hlsbr0): one origin and
# N swarm clients, each parameterised from nix/lab.json (address, MAC, TAP). Exposed as
# nixosConfigurations and their runners (packages.origin-vm, packages.swarm-vm[-N]).
{
  self,
  nixpkgs,
  microvm,
  system,
}: let
  labLib = import ../nix/lib {};
  inherit (labLib) lab;
  originProfile = lab.origin.defaultProfile;

  mkVm = instance: extra:
    nixpkgs.lib.nixosSystem {
      inherit system;
      modules = [
        microvm.nixosModules.microvm
        ./guest.nix
        {hls-lab.instance = instance;}
        extra
      ];
    };

  origin =
    mkVm {
      inherit (labLib.origin) hostName address mac tap;
      vcpu = 4;
      mem = 4096;
    } {
      imports = [self.nixosModules.test-origin];
      services.hls-test-origin = {
        enable = true;
        profile = originProfile;
        listenAddress = "0.0.0.0";
        openFirewall = true;
      };
    };

  viewersPerClient = 200;
  client = i: let
    c = labLib.client i;
  in
    mkVm {
      inherit (c) hostName address mac tap;
      vcpu = 2;
      mem = 3072;
    } {
      imports = [self.nixosModules.swarm-client self.nixosModules.load-tuning];
      hls-swarm.loadTuning.enable = true;
      services.hls-swarm = {
        enable = true;
        # Booting a lab client VM is the act that starts its load, on the isolated lab
        # bridge only (the module's default is off).
        autoStart = true;
        streamUrl = labLib.streamUrl {profileName = originProfile;};
        clients = viewersPerClient;
        rampRate = 20;
        openFirewall = true;
        extraArgs = [
          # Distinct viewer ids per client VM, so User-Agents stay unique in the origin's log.
          "-client-id-offset=${toString ((i - 1) * viewersPerClient)}"
          "-origin-metrics-host=${labLib.origin.address}"
        ];
      };
    };
in {
  nixosConfigurations =
    {${labLib.origin.hostName} = origin;}
    // builtins.listToAttrs (builtins.genList (n: {
        name = (labLib.client (n + 1)).hostName;
        value = client (n + 1);
      })
      lab.network.clients.vmCount);
}

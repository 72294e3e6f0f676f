{
  description = "hls-swarm: simulated live HLS viewers, and the lab to point them at";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    microvm = {
      url = "github:microvm-nix/microvm.nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = {
    self,
    nixpkgs,
    microvm,
  }: let
    inherit (nixpkgs) lib;
    # Everything here is Linux: namespaces, MicroVMs, NixOS tests.
    systems = ["x86_64-linux" "aarch64-linux"];
    forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

    # The pure lab renderers (nix/lib/default.nix), the same file CI evaluates without nixpkgs.
    labLib = import ./nix/lib {};

    vmsFor = system: import ./vms {inherit self nixpkgs microvm system;};

    runnerFor = pkgs: profile: pkgs.callPackage ./nix/test-origin/runner.nix {inherit labLib profile;};

    labScript = pkgs: name: path:
      pkgs.writeShellApplication {
        inherit name;
        runtimeInputs = [pkgs.iproute2 pkgs.jq pkgs.kmod pkgs.acl pkgs.coreutils];
        runtimeEnv.LAB_JSON = "${./nix/lab.json}";
        text = builtins.readFile path;
        meta.description = "hls-swarm lab: ${name}";
      };

    app = drv: {
      type = "app";
      program = lib.getExe drv;
      meta.description = drv.meta.description or drv.name;
    };
  in {
    lib = labLib;

    overlays.default = final: _prev: {
      hls-swarm = final.callPackage ./nix/package.nix {};
    };

    nixosModules = import ./nix/nixos-modules.nix {
      inherit lib;
      inherit (self) packages;
    };

    # x86_64 VMs; `nix build .#packages.aarch64-linux.origin-vm` builds the other kind.
    inherit (vmsFor "x86_64-linux") nixosConfigurations;

    packages = forAllSystems (system: pkgs: let
      hls-swarm = pkgs.callPackage ./nix/package.nix {};
      vms = (vmsFor system).nixosConfigurations;
      runner = vm: vm.config.microvm.declaredRunner;
      clientVms = lib.genList (n: vms.${(labLib.client (n + 1)).hostName}) labLib.lab.network.clients.vmCount;
    in
      {
        default = hls-swarm;
        swarm = hls-swarm;
        inherit hls-swarm;
        swarm-client-container = pkgs.callPackage ./nix/swarm-client/container.nix {inherit hls-swarm labLib;};
        test-origin = runnerFor pkgs labLib.lab.origin.defaultProfile;
        origin-container = pkgs.callPackage ./nix/test-origin/container.nix {
          inherit labLib;
          profile = labLib.lab.origin.defaultProfile;
          inherit (hls-swarm) version;
        };
        origin-vm = runner vms.${labLib.origin.hostName};
        swarm-vm = runner (lib.head clientVms);
        nixfmt = pkgs.callPackage ./nix/tools/nixfmt/package.nix {};
        # The host network scripts as packages, so that a user-owned checkout can build
        # them unprivileged and run only the result as root (docs/lab.md).
        lab-up = labScript pkgs "lab-up" ./scripts/lab-net-up.sh;
        lab-down = labScript pkgs "lab-down" ./scripts/lab-net-down.sh;
      }
      // lib.listToAttrs (map (p: lib.nameValuePair "test-origin-${p}" (runnerFor pkgs p)) labLib.profileNames)
      // lib.listToAttrs (lib.imap1 (i: vm: lib.nameValuePair "swarm-vm-${toString i}" (runner vm)) clientVms));

    apps = forAllSystems (system: pkgs: let
      p = self.packages.${system};
      vmApp = name: runner:
        app (pkgs.writeShellApplication {
          name = "lab-${name}";
          text = ''exec ${pkgs.bash}/bin/bash ${./scripts/lab-vm.sh} ${name} ${lib.getExe' runner "microvm-run"}'';
          meta.description = "hls-swarm lab: run the ${name} MicroVM (needs lab-up first)";
        });
    in
      {
        default = app p.default;
        swarm = app p.swarm;
        test-origin = app p.test-origin;
        lab-up = app p.lab-up;
        lab-down = app p.lab-down;
        origin-vm = vmApp labLib.origin.hostName p.origin-vm;
        swarm-vm = vmApp (labLib.client 1).hostName p.swarm-vm;
      }
      // lib.listToAttrs (map (prof: lib.nameValuePair "test-origin-${prof}" (app p."test-origin-${prof}")) labLib.profileNames)
      # Every client VM through the wrapper (KVM check, control socket in its state
      # directory): `nix run .#swarm-vm-2` finds this app before the bare runner package.
      // lib.listToAttrs (lib.genList (n: let
        name = (labLib.client (n + 1)).hostName;
      in
        lib.nameValuePair "swarm-vm-${toString (n + 1)}" (vmApp name p."swarm-vm-${toString (n + 1)}"))
      labLib.lab.network.clients.vmCount));

    checks = forAllSystems (system: pkgs:
      import ./nix/checks.nix {
        inherit pkgs self labLib system;
        inherit (lib) nixosSystem;
      });

    formatter = forAllSystems (system: _: self.packages.${system}.nixfmt);

    devShells = forAllSystems (system: pkgs: {
      default = pkgs.mkShell {
        inputsFrom = [self.packages.${system}.default];
        packages = [
          pkgs.clippy
          pkgs.rustfmt
          pkgs.ffmpeg-headless
          pkgs.nginx
          pkgs.prometheus-node-exporter
          pkgs.prometheus-nginx-exporter
          pkgs.jq
          pkgs.curl
          pkgs.iproute2
          pkgs.shellcheck
          pkgs.statix
          pkgs.deadnix
          pkgs.yamllint
          self.packages.${system}.nixfmt
        ];
      };
    });
  };
}

{
  description = "metal: a homelab that installs itself (NixOS + k3s on bare metal)";

  # No flake.lock is committed from our build machines (no network, no nixpkgs there): run
  # `nix flake lock` once on a machine with Nix and commit the result (docs/nix.md).
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    disko = {
      url = "github:nix-community/disko";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    nixos-anywhere = {
      url = "github:nix-community/nixos-anywhere";
      inputs.nixpkgs.follows = "nixpkgs";
      inputs.disko.follows = "disko";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      disko,
      sops-nix,
      nixos-anywhere,
    }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The one inventory (docs/inventory.md). Flakes only see files git knows about:
      # `git add cluster.toml` after creating it.
      inventoryFile =
        if builtins.pathExists ./cluster.toml then
          ./cluster.toml
        else if builtins.pathExists ./examples/homelab.toml then
          ./examples/homelab.toml
        else
          throw "metal: no inventory: write cluster.toml (see docs/inventory.md) and `git add` it";
      rawInventory = builtins.fromTOML (builtins.readFile inventoryFile);
      inventory = (import ./nix/lib/inventory.nix).normalize rawInventory;
      hostSettings = import ./nix/lib/host-settings.nix rawInventory;

      # Public keys only; `metal secrets init` writes them (docs/secrets.md).
      keysDir = ./keys;
      adminKeyFile = keysDir + "/admin.pub";

      systemOf = arch: "${arch}-linux";

      mkInstaller =
        system:
        lib.nixosSystem {
          inherit system;
          specialArgs = { inherit adminKeyFile; };
          modules = [ ./nix/installer/netboot.nix ];
        };

      mkHost =
        settings:
        lib.nixosSystem {
          system = systemOf settings.arch;
          specialArgs = {
            inherit
              settings
              inventory
              adminKeyFile
              keysDir
              ;
            secretsDir = ./secrets;
          };
          modules = [
            disko.nixosModules.disko
            sops-nix.nixosModules.sops
            ./nix/modules
          ];
        };
    in
    {
      nixosConfigurations =
        if hostSettings ? installer then
          throw "metal: a host in ${toString inventoryFile} is named `installer`, which names the netboot installer; rename the host"
        else
          lib.mapAttrs (_name: mkHost) hostSettings // { installer = mkInstaller "x86_64-linux"; };

      packages = forAllSystems (
        pkgs:
        let
          installerSystem = mkInstaller pkgs.stdenv.hostPlatform.system;
          # The CLI launcher: builds and runs the checkout's metal (ADR 0140).
          metal = pkgs.callPackage ./nix/package.nix { };
        in
        {
          inherit metal;
          default = metal;
          installer = pkgs.callPackage ./nix/installer/artifacts.nix { nixos = installerSystem; };
        }
      );

      # `nix run .#metal -- ARGS` inside the checkout (ADR 0140).
      apps = forAllSystems (pkgs: {
        metal = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.metal}/bin/metal";
        };
      });

      # `nix develop`: everything the README's real-hardware steps run (ADR 0140).
      devShells = forAllSystems (
        pkgs:
        let
          # First stages for the machines being installed (x86_64): undionly.kpxe and ipxe.efi are
          # built only for x86 (pkgs/by-name/ip/ipxe/package.nix), so other admin machines
          # cross-build them.
          ipxe = if pkgs.stdenv.hostPlatform.isx86_64 then pkgs.ipxe else pkgs.pkgsCross.gnu64.ipxe;
        in
        {
          default = pkgs.mkShell {
            packages = [
              self.packages.${pkgs.stdenv.hostPlatform.system}.metal
              pkgs.nodejs_22
              nixos-anywhere.packages.${pkgs.stdenv.hostPlatform.system}.default
              # `metal deploy` runs `nixos-rebuild`; the package names its binary nixos-rebuild-ng
              # unless told otherwise (pkgs/by-name/ni/nixos-rebuild-ng/package.nix, withNgSuffix).
              (pkgs.nixos-rebuild-ng.override { withNgSuffix = false; })
              pkgs.sops
              pkgs.ssh-to-age
              pkgs.age
              pkgs.kubectl
              ipxe
            ];
            # metal install and metal check read their --ipxe-dir default from here.
            METAL_IPXE_DIR = "${ipxe}";
          };
        }
      );

      # The multi-node VM test needs KVM and x86_64 k3s images: only on x86_64-linux.
      checks.x86_64-linux.cluster = import ./nix/tests/cluster.nix {
        pkgs = nixpkgs.legacyPackages.x86_64-linux;
      };
    };
}

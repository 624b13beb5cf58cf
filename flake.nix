{
  description = "metal: a homelab that installs itself (NixOS + k3s on bare metal)";

  # No flake.lock is committed from our build machines (no network, no nixpkgs there): run
  # `nix flake lock` once on a machine with Nix and commit the result (docs/nix.md).
  inputs = {
    # The current stable release (26.05; 25.11 left support on 2026-06-30). The branch name is
    # the one nixos-anywhere's own flake.nix follows for its stable input.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    disko = {
      url = "github:nix-community/disko";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # nixos-anywhere's flake.nix takes nixpkgs, nixos-stable and disko itself; its nixos-images,
    # nix-vm-test and treefmt-nix inputs follow its nixpkgs and nixos-stable. Pointing those three
    # at ours leaves one nixpkgs to fetch and evaluate.
    nixos-anywhere = {
      url = "github:nix-community/nixos-anywhere";
      inputs.nixpkgs.follows = "nixpkgs";
      inputs.nixos-stable.follows = "nixpkgs";
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

      # The one inventory (docs/inventory.md): ./cluster.toml and nothing else. Flakes see only
      # files git tracks, so an inventory that is not `git add`ed is absent here; stop and say so
      # rather than build some other file's hosts (docs/decisions/0130).
      inventoryFile = ./cluster.toml;
      hasInventory = builtins.pathExists inventoryFile;
      missingInventory = throw "metal: cluster.toml is not in the flake's source. If you wrote it, `git add cluster.toml` (flakes see only files git tracks; it holds no secrets); if not, copy examples/homelab.toml to cluster.toml, edit it (docs/inventory.md) and `git add cluster.toml`";
      rawInventory = builtins.fromTOML (builtins.readFile inventoryFile);
      inventory = (import ./nix/lib/inventory.nix).normalize rawInventory;
      hostSettings = import ./nix/lib/host-settings.nix rawInventory;

      # Public keys only; `metal secrets init` writes them (docs/secrets.md).
      keysDir = ./keys;
      adminKeyFile = keysDir + "/admin.pub";

      systemOf = arch: "${arch}-linux";
      archOf = system: lib.removeSuffix "-linux" system;

      # One netboot installer per architecture a host may have (inventory `arch`); each is
      # `nixosConfigurations.installer-<arch>` and `packages.<arch>-linux.installer`.
      installerName = arch: "installer-${arch}";
      mkInstaller =
        system:
        lib.nixosSystem {
          inherit system;
          specialArgs = { inherit adminKeyFile; };
          modules = [ ./nix/installer/netboot.nix ];
        };
      installers = lib.listToAttrs (
        map (system: lib.nameValuePair (installerName (archOf system)) (mkInstaller system)) systems
      );

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
        let
          hostConfigurations =
            let
              reserved = builtins.filter (name: installers ? ${name}) (builtins.attrNames hostSettings);
            in
            if !hasInventory then
              missingInventory
            else if reserved != [ ] then
              throw "metal: host `${builtins.head reserved}` in cluster.toml has the name of a netboot installer output; rename the host"
            else
              lib.mapAttrs (_name: mkHost) hostSettings;
        in
        hostConfigurations // installers;

      packages = forAllSystems (
        pkgs:
        let
          inherit (pkgs.stdenv.hostPlatform) system;
          # The CLI launcher: builds and runs the checkout's metal (ADR 0140).
          metal = pkgs.callPackage ./nix/package.nix { };
        in
        {
          inherit metal;
          default = metal;
          installer = pkgs.callPackage ./nix/installer/artifacts.nix {
            nixos = installers.${installerName (archOf system)};
          };
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

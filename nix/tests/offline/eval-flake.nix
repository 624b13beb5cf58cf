# Offline evaluation of the flake's outputs, for machines with Nix but no nixpkgs
# (packages/metal/test/nix-flake-eval.test.ts):
#   nix-instantiate --eval --strict --json nix/tests/offline/eval-flake.nix \
#     --argstr flakeDir /abs/cluster-repo --argstr sources /abs/unpacked-nix-sources
# `flakeDir` is laid out like a flake's source: flake.nix, nix/, and what the user's repository
# holds (cluster.toml, keys/, secrets/). `sources` holds the unpacked snapshots of
# ../shared/nix-sources: nixpkgs' real `lib`, disko's and sops-nix's real NixOS modules. Only
# `lib.nixosSystem`, which needs all of nixpkgs, is a stand-in (./nixos-system.nix). The result:
# per nixosConfiguration, the facts that decide whether a host can be installed and reached,
# after every `assertions` entry held (as nixpkgs' top-level.nix requires before building).
{ flakeDir, sources }:
let
  lib = import "${sources}/nixpkgs-lib/lib";
  flake = import "${flakeDir}/flake.nix";
  unavailable = what: throw "offline evaluation: ${what} needs all of nixpkgs, which is not here";

  inputs = {
    inherit self;
    nixpkgs = {
      lib = lib // {
        nixosSystem = import ./nixos-system.nix { inherit lib; };
      };
      legacyPackages = unavailable "nixpkgs.legacyPackages";
    };
    disko.nixosModules.disko = "${sources}/disko/module.nix";
    sops-nix.nixosModules.sops = "${sources}/sops-nix/modules/sops";
    nixos-anywhere = unavailable "nixos-anywhere's package";
  };
  self = flake.outputs inputs // {
    outPath = flakeDir;
  };

  checked =
    name: config: facts:
    let
      failed = map (assertion: assertion.message) (builtins.filter (a: !a.assertion) config.assertions);
    in
    if failed == [ ] then facts else throw "${name}: failed assertions:\n- ${lib.concatStringsSep "\n- " failed}";

  kubeVipEnv =
    config:
    let
      manifest = config.services.k3s.manifests.kube-vip or null;
      daemonSets = builtins.filter (doc: doc.kind == "DaemonSet") manifest.content;
    in
    if manifest == null then null else (builtins.head (builtins.head daemonSets).spec.template.spec.containers).env;

  partitionFacts = partition: {
    inherit (partition) size type label device;
    content =
      if partition.content == null then
        null
      else
        {
          inherit (partition.content) type format mountpoint;
        };
  };

  common = config: {
    hostName = config.networking.hostName;
    rootAuthorizedKeys = config.users.users.root.openssh.authorizedKeys.keys;
    sshd = {
      inherit (config.services.openssh) enable;
      inherit (config.services.openssh.settings) PasswordAuthentication PermitRootLogin;
    };
  };

  hostFacts =
    config:
    common config
    // {
      inherit (config.networking) domain;
      sops = {
        defaultSopsFile = toString config.sops.defaultSopsFile;
        ageSshKeyPaths = config.sops.age.sshKeyPaths;
        secrets = lib.mapAttrs (_name: secret: {
          inherit (secret) key path;
          sopsFile = toString secret.sopsFile;
        }) config.sops.secrets;
      };
      k3s = {
        inherit (config.services.k3s)
          enable
          role
          serverAddr
          clusterInit
          extraFlags
          tokenFile
          ;
      };
      kubeVipEnv = kubeVipEnv config;
      disks = lib.mapAttrs (_name: disk: {
        inherit (disk) device;
        partitions = lib.mapAttrs (_name: partitionFacts) disk.content.partitions;
      }) config.disko.devices.disk;
      fileSystems = lib.mapAttrs (_mountPoint: fs: { inherit (fs) device fsType; }) config.fileSystems;
      networkd = {
        links = lib.mapAttrs (_name: link: {
          inherit (link) matchConfig linkConfig;
        }) config.systemd.network.links;
        networks = lib.mapAttrs (_name: network: {
          inherit (network)
            matchConfig
            address
            gateway
            dns
            ;
        }) config.systemd.network.networks;
      };
      mdns = config.services.avahi.enable;
    };

  installerFacts =
    config:
    common config
    // {
      inherit (config.boot) kernelParams;
      agentUnit = config.systemd.services.metal-agent.unitConfig;
    };
in
lib.mapAttrs (
  name: nixos:
  checked name nixos.config (
    if nixos.config ? disko then hostFacts nixos.config else installerFacts nixos.config
  )
) self.nixosConfigurations

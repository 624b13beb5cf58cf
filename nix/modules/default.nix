# Every concern of a cluster host, one file each. The flake passes `settings` (this host's entry
# of nix/lib/host-settings.nix), `inventory` (nix/lib/inventory.nix), `adminKeyFile` and
# `secretsDir` as module arguments; disko and sops-nix modules are imported by the flake.
{
  imports = [
    ./common.nix
    ./networking.nix
    ./disks.nix
    ./kernel.nix
    ./secrets.nix
    ./k3s.nix
    ./cni.nix
    ./kube-vip.nix
    ./gitops.nix
    ./first-boot.nix
  ];
}

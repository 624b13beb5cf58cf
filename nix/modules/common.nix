# Base system: boot loader, nix settings, SSH hardening and the admin key.
{
  lib,
  modulesPath,
  inventory,
  adminKeyFile,
  keysDir,
  ...
}:
let
  hostKeyFile = host: keysDir + "/hosts/${host.name}.pub";
  knownHost = host: {
    inherit (host) name;
    value = {
      hostNames = [
        host.name
        "${host.name}.${inventory.cluster.domain}"
        host.address
      ];
      publicKeyFile = hostKeyFile host;
    };
  };
in
{
  # Firmware and drivers for machines we have not seen (same as the installer's scan).
  imports = [ (modulesPath + "/installer/scan/not-detected.nix") ];

  # The disk layout has an ESP and no BIOS boot partition: hosts boot UEFI.
  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;
  # Storage and NIC drivers the initrd needs to find the root disk on common homelab hardware
  # and in QEMU (the VM test and the virtual lab).
  boot.initrd.availableKernelModules = [
    "nvme"
    "ahci"
    "xhci_pci"
    "usb_storage"
    "sd_mod"
    "virtio_pci"
    "virtio_blk"
    "virtio_scsi"
  ];

  nix.settings = {
    experimental-features = [
      "nix-command"
      "flakes"
    ];
    # `nixos-rebuild --target-host root@…` copies closures as root.
    trusted-users = [ "root" ];
    auto-optimise-store = true;
  };
  nix.gc = {
    automatic = true;
    dates = "weekly";
    options = "--delete-older-than 14d";
  };

  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };
  users.mutableUsers = false;
  users.users.root.openssh.authorizedKeys.keys = [ (import ../lib/admin-key.nix adminKeyFile) ];
  # Hosts trust each other's pre-generated host keys (`metal secrets` writes keys/hosts/*.pub).
  programs.ssh.knownHosts = builtins.listToAttrs (
    map knownHost (builtins.filter (host: builtins.pathExists (hostKeyFile host)) inventory.hosts)
  );

  time.timeZone = lib.mkDefault "UTC";
  # The release of the first install (nixpkgs misc/version.nix: keep it when upgrading).
  system.stateVersion = "26.05";
}

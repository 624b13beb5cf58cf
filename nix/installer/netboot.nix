# The netboot installer metal PXE-boots: nixpkgs' netboot-minimal, sshd that only lets the admin
# key in, and the callback agent (docs/callback-protocol.md §2). /etc/os-release says
# VARIANT_ID=installer, so nixos-anywhere uses this system as is and skips its kexec phase.
{
  lib,
  pkgs,
  modulesPath,
  adminKeyFile,
  ...
}:
let
  metalAgent = pkgs.callPackage ./agent.nix { };
in
{
  imports = [ (modulesPath + "/installer/netboot/netboot-minimal.nix") ];

  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };
  users.users.root.openssh.authorizedKeys.keys = [ (import ../lib/admin-key.nix adminKeyFile) ];

  systemd.services.metal-agent = {
    description = "Report this machine's facts to metal install";
    wantedBy = [ "multi-user.target" ];
    wants = [ "network-online.target" ];
    # sshd creates the host keys whose public half the facts carry.
    after = [
      "network-online.target"
      "sshd.service"
    ];
    requires = [ "sshd.service" ];
    # Booted by hand (no metal.callback= on the command line): nothing to report.
    unitConfig.ConditionKernelCommandLine = "metal.callback";
    serviceConfig = {
      Type = "exec";
      ExecStart = "${metalAgent}/bin/metal-agent installer";
      # The person at the machine sees why an install was refused (409: wrong disk, MAC).
      StandardOutput = "journal+console";
      StandardError = "journal+console";
    };
  };

  # Serial first, screen last: the screen is /dev/console, where refusals are shown; the serial
  # line carries the same log for headless machines and QEMU.
  boot.kernelParams =
    lib.optional pkgs.stdenv.hostPlatform.isx86 "console=ttyS0,115200n8" ++ [ "console=tty0" ];

  system.stateVersion = lib.trivial.release;
}

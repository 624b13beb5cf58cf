# Stand-in for nixpkgs' nixos/modules/installer/scan/not-detected.nix: it enables the
# redistributable firmware, which is all it does.
{ lib, ... }:
{
  hardware.enableRedistributableFirmware = lib.mkDefault true;
}

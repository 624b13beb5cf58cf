# Stand-in for nixpkgs' nixos/modules/installer/netboot/netboot-minimal.nix (the netboot ramdisk,
# kernel and the minimal installer profile): nothing of it is evaluated offline; the installer's
# own settings (nix/installer/netboot.nix) are.
{ }

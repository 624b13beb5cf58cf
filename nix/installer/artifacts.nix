# The installer in the layout `metal install --installer DIR` reads (docs/nix.md):
#   DIR/bzImage  the kernel (the platform's kernel image, whatever its upstream file name)
#   DIR/initrd   the netboot ramdisk (large: serve it over HTTP, never TFTP)
#   DIR/cmdline  one line: init=<toplevel>/init and the system's kernel params; metal appends
#                metal.callback=… metal.token=… BOOTIF=… (and initrd= for its iPXE script)
# Real files, not symlinks into the store: metal's file server refuses paths that resolve
# outside the directory it serves.
{ runCommand, nixos }:
let
  inherit (nixos.config.system) build;
  kernelFile = nixos.pkgs.stdenv.hostPlatform.linux-kernel.target;
in
runCommand "metal-installer" { } ''
  mkdir $out
  cp ${build.kernel}/${kernelFile} $out/bzImage
  cp ${build.netbootRamdisk}/initrd $out/initrd
  printf '%s\n' "init=${build.toplevel}/init ${toString nixos.config.boot.kernelParams}" > $out/cmdline
''

# The kube-vip image the VM test preloads (its VMs have no internet). Fetching it needs an image
# digest and a hash that only a machine with network can compute, kept in
# nix/tests/kube-vip-image.json. Without that file the test still evaluates (`nix flake check`
# lists it); building it stops with the command that writes the file (docs/nix.md).
{ pkgs, pinFile }:
let
  inherit (pkgs) lib;
  pins = import ../pins.nix;
  pinCommand = "nix run nixpkgs#nix-prefetch-docker -- --json --image-name ${pins.kubeVip.image} --image-tag ${pins.kubeVip.tag} > nix/tests/kube-vip-image.json && git add nix/tests/kube-vip-image.json";
in
if builtins.pathExists pinFile then
  pkgs.dockerTools.pullImage (
    lib.importJSON pinFile
    // {
      finalImageName = pins.kubeVip.image;
      finalImageTag = pins.kubeVip.tag;
    }
  )
else
  pkgs.runCommand "kube-vip-image-not-pinned" { } ''
    echo ${lib.escapeShellArg "metal VM test: nix/tests/kube-vip-image.json is missing, so the kube-vip image cannot be preloaded; on a machine with network run: ${pinCommand}"} >&2
    exit 1
  ''

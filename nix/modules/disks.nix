# The disk layout (disko): GPT, ESP, root and a raw Ceph partition; the same attrset CI
# evaluates offline (nix/lib/disko-layout.nix).
{ settings, ... }:
{
  disko.devices = import ../lib/disko-layout.nix settings;
}

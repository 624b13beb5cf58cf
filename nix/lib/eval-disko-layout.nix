# Offline entry point: every host's `disko.devices`, keyed by host name.
#   nix-instantiate --eval --strict --json nix/lib/eval-disko-layout.nix --argstr inventoryFile /abs/cluster.toml
{ inventoryFile }:
builtins.mapAttrs (_name: import ./disko-layout.nix) (import ./eval-host-settings.nix { inherit inventoryFile; })

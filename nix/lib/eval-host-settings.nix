# Offline entry point for CI and the TypeScript agreement test:
#   nix-instantiate --eval --strict --json nix/lib/eval-host-settings.nix --argstr inventoryFile /abs/cluster.toml
{ inventoryFile }:
import ./host-settings.nix (builtins.fromTOML (builtins.readFile inventoryFile))

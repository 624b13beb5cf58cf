# Stand-in for nixpkgs' `lib.nixosSystem` (NixOS/nixpkgs flake.nix → nixos/lib/eval-config.nix),
# which needs all of nixpkgs: the same `lib.evalModules` call over the flake's modules, with
# `modulesPath` pointing at stand-ins for the two nixpkgs modules the flake imports (./modules)
# and ./nixos-options.nix declaring, with nixpkgs' names and types, the nixpkgs options those
# modules set. Only `stdenv.hostPlatform` of `pkgs` is real (nixpkgs' `lib.systems.elaborate`);
# anything that needs a package fails as a missing attribute, loudly.
{ lib }:
{
  system,
  modules,
  specialArgs ? { },
}:
lib.evalModules {
  # nixos/lib/default.nix passes modulesPath as a special argument the same way.
  specialArgs = {
    modulesPath = toString ./modules;
  }
  // specialArgs;
  modules = [
    ./nixos-options.nix
    {
      _module.args.pkgs = {
        inherit lib;
        stdenv.hostPlatform = lib.systems.elaborate system;
        stdenv.buildPlatform = lib.systems.elaborate system;
      };
    }
  ]
  ++ modules;
}

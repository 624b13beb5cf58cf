# Offline check that the VM test (nix/tests/cluster.nix) evaluates on a machine whose checkout
# has no kube-vip pin: nixpkgs' real `lib`; the nixpkgs builders it calls stand in as functions
# that return their arguments, so the result shows which images each node preloads.
#   nix-instantiate --eval --strict --json nix/tests/offline/eval-vm-test.nix --argstr sources DIR
{ sources }:
let
  lib = import "${sources}/nixpkgs-lib/lib";
  recorded = kind: args: { inherit kind args; };
  pkgs = {
    inherit lib;
    testers.runNixOSTest = test: test;
    dockerTools.buildImage = recorded "buildImage";
    dockerTools.pullImage = recorded "pullImage";
    buildEnv = recorded "buildEnv";
    runCommand = name: env: script: recorded "runCommand" { inherit name env script; };
    writeText = name: text: recorded "writeText" { inherit name text; };
    tini = "tini";
    coreutils = "coreutils";
    kubectl = "kubectl";
    curl = "curl";
  };
  test = import ../cluster.nix { inherit pkgs; };
in
lib.mapAttrs (_name: node: (node { }).services.k3s.images) test.nodes

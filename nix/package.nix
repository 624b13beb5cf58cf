# The metal CLI (`nix run .#metal`): the npm workspace built with tsc, run by Node.
{
  lib,
  buildNpmPackage,
  nodejs_22,
  makeWrapper,
}:
let
  root = ../.;
  workspace = lib.importJSON ../packages/metal/package.json;
in
buildNpmPackage {
  pname = "metal";
  inherit (workspace) version;
  # Only what the build reads, so edits to docs/ or nix/ do not rebuild the CLI.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.base.json
      ../packages
    ];
  };
  nodejs = nodejs_22;

  # The hash of the npm dependencies (a fixed-output derivation) cannot be computed without
  # network, so it is a placeholder that makes the first build fail and print the real one.
  # After every change of package-lock.json run, and paste the printed hash here:
  #   nix run nixpkgs#prefetch-npm-deps -- package-lock.json
  # Why not importNpmLock (no hash at all): docs/decisions/0054.
  npmDepsHash = lib.fakeHash;

  npmBuildScript = "build";
  nativeBuildInputs = [ makeWrapper ];

  # npm's own install step packs one package; ours is three workspaces linked by symlinks in
  # node_modules, so copy the built tree as it is and wrap the CLI's entry point.
  installPhase = ''
    runHook preInstall
    npm prune --omit=dev --no-audit --no-fund
    mkdir -p $out/lib/metal $out/bin
    cp -r package.json node_modules $out/lib/metal/
    for pkg in packages/*; do
      mkdir -p $out/lib/metal/$pkg
      cp -r $pkg/package.json $pkg/dist $out/lib/metal/$pkg/
    done
    makeWrapper ${nodejs_22}/bin/node $out/bin/metal \
      --add-flags $out/lib/metal/packages/metal/dist/cli.js
    runHook postInstall
  '';

  meta = {
    description = "A homelab that installs itself: bare metal to a NixOS + k3s cluster";
    mainProgram = "metal";
  };
}

# `metal` for Nix users (`nix develop`, `nix run .#metal`): a launcher that runs the CLI of the
# checkout it is started in, built there with the user's own npm. Why not buildNpmPackage:
# docs/decisions/0140-one-install-story-for-the-cli.md (nixpkgs' npm fetchers need the
# `resolved` URLs our package-lock.json leaves out on purpose).
{ writeShellApplication, nodejs_22 }:
writeShellApplication {
  name = "metal";
  runtimeInputs = [ nodejs_22 ];
  text = ''
    # The checkout: $METAL_CHECKOUT, else the nearest folder above the working directory that
    # holds the metal workspace (relative paths given to metal stay relative to where it runs).
    checkout=''${METAL_CHECKOUT:-}
    if [ -z "$checkout" ]; then
      dir=$PWD
      while [ "$dir" != / ]; do
        if [ -f "$dir/packages/metal/package.json" ] && [ -f "$dir/flake.nix" ]; then
          checkout=$dir
          break
        fi
        dir=$(dirname "$dir")
      done
    fi
    if [ -z "$checkout" ] || [ ! -f "$checkout/packages/metal/package.json" ]; then
      echo "metal: no metal checkout here: run metal inside your clone of the repository, or set METAL_CHECKOUT=/path/to/it" >&2
      exit 2
    fi

    # Build when the dependencies or the sources changed since the last build: npm ci with the
    # user's npm configuration, then tsc (scripts/build-cli.sh is the one recipe).
    stamp=$checkout/node_modules/.metal-build-stamp
    if [ ! -f "$stamp" ] || [ -n "$(find "$checkout/package-lock.json" "$checkout/packages" \
        -path '*/node_modules' -prune -o -path '*/dist' -prune -o -newer "$stamp" -print -quit)" ]; then
      if [ "$(id -u)" -eq 0 ] && [ -n "''${SUDO_USER:-}" ]; then
        echo "metal: the CLI in $checkout needs a build; run any metal command (e.g. metal --version) without sudo first, so the build's files belong to you" >&2
        exit 2
      fi
      sh "$checkout/scripts/build-cli.sh" >&2
      touch "$stamp"
    fi
    exec node "$checkout/packages/metal/dist/cli.js" "$@"
  '';
}

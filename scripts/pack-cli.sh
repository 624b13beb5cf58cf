#!/bin/sh
# Packs the metal CLI into ONE tarball that installs on its own:
#   sh scripts/pack-cli.sh [OUT_DIR]      →  OUT_DIR/metal-homelab-VERSION.tgz
#   npm install -g ./metal-homelab-VERSION.tgz
# metal-homelab depends on the workspace packages netboot and metal-lab, which are not on the
# registry, so they travel inside the tarball as bundleDependencies. npm does not bundle a
# workspace's hoisted dependencies (the workspace links them from the root node_modules), so
# the tarball is assembled in a staging folder with real copies under node_modules/. The files
# the CLI reads at run time from outside its package go into share/ (src/package-files.ts).
# Why this shape: docs/decisions/0140-one-install-story-for-the-cli.md.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(cd "${1:-.}" && pwd)

npm run build --silent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm pack --silent -w packages/netboot -w packages/lab -w packages/metal \
  --pack-destination "$work" >/dev/null

# The production dependencies as the lock pins them, installed the way the workspace installs
# them (npm ci: hoisted, workspace packages linked), from npm's cache when it has them.
workspace="$work/workspace"
mkdir -p "$workspace"
cp package.json package-lock.json "$workspace/"
for pkg in netboot lab metal; do
  mkdir -p "$workspace/packages/$pkg"
done
tar -xzf "$work"/netboot-*.tgz -C "$workspace/packages/netboot" --strip-components=1
tar -xzf "$work"/metal-lab-*.tgz -C "$workspace/packages/lab" --strip-components=1
tar -xzf "$work"/metal-homelab-*.tgz -C "$workspace/packages/metal" --strip-components=1
(cd "$workspace" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)

# The CLI package with every dependency inside: the workspace links become real folders.
stage="$work/stage"
cp -R "$workspace/packages/metal" "$stage"
mkdir -p "$stage/node_modules"
for entry in "$workspace"/node_modules/* "$workspace"/node_modules/.[!.]*; do
  case "$(basename "$entry")" in
    metal-homelab | .bin | .package-lock.json) ;;
    *) cp -RL "$entry" "$stage/node_modules/" ;;
  esac
done

# Keep this list equal to SHARED_FILES in packages/metal/src/package-files.ts.
for file in examples/lab.toml nix/installer/metal-agent.sh; do
  mkdir -p "$stage/share/$(dirname "$file")"
  cp "$root/$file" "$stage/share/$file"
done

cd "$stage"
npm pkg set bundleDependencies=true --json
npm pack --silent --ignore-scripts --pack-destination "$out"

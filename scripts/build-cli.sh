#!/bin/sh
# Builds the metal CLI in this checkout: npm ci (only when node_modules is missing or older than
# package-lock.json), then the TypeScript build (skipped with --deps-only). Used by
# scripts/bootstrap.sh and by the Nix launcher (nix/package.nix); npm runs with the user's own
# configuration (registry, cache).
set -eu
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] ||
  [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
  echo "build-cli: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
[ "${1:-}" = --deps-only ] || npm run build --silent

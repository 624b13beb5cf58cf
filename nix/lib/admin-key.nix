# The admin's SSH public key (the one `metal install` and `metal deploy` log in with), read from
# keys/admin.pub, where `metal secrets init` writes it (packages/metal/src/secrets/layout.ts,
# REPO_PATHS.adminPublicKey; docs/secrets.md).
file:
if builtins.pathExists file then
  builtins.head (builtins.match "[[:space:]]*([^\n]*[^[:space:]])[[:space:]]*" (builtins.readFile file))
else
  throw "metal: ${toString file} is not in the flake's source. If `metal secrets init` has run, `git add keys` (flakes see only files git tracks); if not, run `metal secrets init` first (docs/secrets.md)"

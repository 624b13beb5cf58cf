# The admin's SSH public key (the one `metal install` and `metal deploy` log in with), read from
# the repository; `metal secrets init` writes it (docs/secrets.md).
file:
if builtins.pathExists file then
  builtins.head (builtins.match "[[:space:]]*([^\n]*[^[:space:]])[[:space:]]*" (builtins.readFile file))
else
  throw "metal: ${toString file} is missing: run `metal secrets init` (it writes the admin public key) and `git add keys/admin.pub`"

# sops-nix: the host decrypts with its own SSH host key (converted to an age identity), which
# `metal install` puts in place through nixos-anywhere --extra-files before the first boot.
# Which file holds what, and who can decrypt it: docs/secrets.md.
{
  config,
  settings,
  secretsDir,
  ...
}:
let
  required =
    file: what:
    if builtins.pathExists file then
      file
    else
      throw "metal: ${toString file} is not in the flake's source. If `metal secrets init` has run, `git add secrets` (flakes see only files git tracks); if not, run `metal secrets init` first (it writes ${what})";
  clusterSecrets = required (secretsDir + "/cluster.yaml") "the encrypted k3s token";
  hostSecrets = required (secretsDir + "/hosts/${settings.name}.yaml") "this host's encrypted k3s node password";
in
{
  sops = {
    defaultSopsFile = clusterSecrets;
    age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    # Only the ed25519 key is ours; do not try RSA host keys as GnuPG identities.
    gnupg.sshKeyPaths = [ ];
    secrets.k3s_token.restartUnits = [ "k3s.service" ];
    # k3s keeps a node password per node; pre-generated, a reinstalled node can rejoin under its
    # old name (docs/decisions/0082).
    secrets.k3s_node_password = {
      sopsFile = hostSecrets;
      path = "/etc/rancher/node/password";
      restartUnits = [ "k3s.service" ];
    };
  };

  services.k3s.tokenFile = config.sops.secrets.k3s_token.path;
}

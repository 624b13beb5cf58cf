# sops-nix: the host decrypts with its own SSH host key (converted to an age identity), which
# `metal install` puts in place through nixos-anywhere --extra-files before the first boot.
# File names and keys: docs/secrets-layout.md.
{ config, secretsDir, ... }:
let
  clusterSecrets = secretsDir + "/cluster.yaml";
in
{
  sops = {
    defaultSopsFile =
      if builtins.pathExists clusterSecrets then
        clusterSecrets
      else
        throw "metal: secrets/cluster.yaml is missing: run `metal secrets init` (it writes the encrypted k3s token) and `git add secrets/cluster.yaml`";
    age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    # Only the ed25519 key is ours; do not try RSA host keys as GnuPG identities.
    gnupg.sshKeyPaths = [ ];
    secrets.k3s_token.restartUnits = [ "k3s.service" ];
  };

  services.k3s.tokenFile = config.sops.secrets.k3s_token.path;
}

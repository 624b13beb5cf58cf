# First boot of the installed system: tell `metal install` we are up (docs/callback-protocol.md
# §3). `metal install` puts /var/lib/metal/callback.env in place with --extra-files; the agent
# deletes it once the token is used up (200) or refused (401), so later boots skip the unit; after
# a 400 or 409 the token stays valid and the next boot reports again.
{ pkgs, ... }:
let
  metalAgent = pkgs.callPackage ../installer/agent.nix { };
  callbackEnv = "/var/lib/metal/callback.env";
in
{
  systemd.services.metal-first-boot = {
    description = "Report the first boot to metal install";
    wantedBy = [ "multi-user.target" ];
    wants = [ "network-online.target" ];
    after = [
      "network-online.target"
      "sshd.service"
    ];
    unitConfig.ConditionPathExists = callbackEnv;
    environment.METAL_CALLBACK_ENV = callbackEnv;
    serviceConfig = {
      # Runs once per boot; `exec` rather than `oneshot` so that boot does not wait on it while
      # the agent retries an unreachable metal server.
      Type = "exec";
      ExecStart = "${metalAgent}/bin/metal-agent first-boot";
      StandardOutput = "journal+console";
      StandardError = "journal+console";
    };
  };
}

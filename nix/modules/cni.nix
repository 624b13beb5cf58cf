# Pod network: k3s' built-in flannel (VXLAN) on the inventory NIC; Service IPs: MetalLB in L2
# mode, installed by the GitOps bootstrap (gitops.nix). Why: docs/decisions/0051.
{ settings, ... }:
let
  nic = import ../lib/nic-name.nix settings;
  ports = {
    flannelVxlan = 8472;
    metallbMemberlist = 7946;
  };
in
{
  services.k3s.extraFlags = [ "--flannel-iface=${nic}" ];

  networking.firewall = {
    allowedUDPPorts = [
      ports.flannelVxlan
      ports.metallbMemberlist
    ];
    allowedTCPPorts = [ ports.metallbMemberlist ];
    # Pod-to-pod and pod-to-Service traffic arrives on these; the node firewall is for the LAN.
    trustedInterfaces = [
      "cni0"
      "flannel.1"
    ];
  };
}

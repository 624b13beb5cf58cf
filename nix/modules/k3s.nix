# k3s from the host settings: the init server starts the embedded etcd cluster (clusterInit),
# every other node joins through the kube-vip address. The flags themselves (tls-san, node-ip,
# disabled components) come from nix/lib/host-settings.nix, shared with the CLI.
{ lib, settings, ... }:
let
  inherit (settings) k3s;
  isServer = k3s.role == "server";
  ports = {
    apiServer = 6443;
    etcdClient = 2379;
    etcdPeer = 2380;
    kubelet = 10250;
  };
in
{
  services.k3s = {
    enable = true;
    inherit (k3s) role clusterInit extraFlags;
    serverAddr = lib.mkIf (k3s.serverAddr != null) k3s.serverAddr;
    gracefulNodeShutdown.enable = true;
  };

  # k3s docs, "Inbound rules for server nodes".
  networking.firewall.allowedTCPPorts = [
    ports.kubelet
  ]
  ++ lib.optionals isServer [
    ports.apiServer
    ports.etcdClient
    ports.etcdPeer
  ];
}

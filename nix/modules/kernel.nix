# Kernel modules and sysctls k3s and Rook/Ceph need. k3s sets several of them itself at start;
# setting them here makes them true from boot on and visible in the configuration.
{ ... }:
{
  boot.kernelModules = [
    # containerd's snapshotter (k3s docs: requirements; k3s loads it at start too).
    "overlay"
    # bridged pod traffic must pass iptables (Kubernetes network plugin requirements).
    "br_netfilter"
    # Rook/Ceph block volumes (RBD) and CephFS mounts are kernel clients (Rook prerequisites).
    "rbd"
    "ceph"
  ];

  boot.kernel.sysctl = {
    # Nodes route pod traffic (Kubernetes network plugin requirements; k3s sets it at start).
    "net.ipv4.ip_forward" = 1;
    "net.ipv6.conf.all.forwarding" = 1;
    # Bridged traffic goes through iptables so Services work (Kubernetes network plugin docs).
    "net.bridge.bridge-nf-call-iptables" = 1;
    "net.bridge.bridge-nf-call-ip6tables" = 1;
    # Many pods watch files (promtail, controllers); the kernel defaults (128 instances) run out
    # (k3s known issues; NixOS raises them only for desktops).
    "fs.inotify.max_user_instances" = 8192;
    "fs.inotify.max_user_watches" = 524288;
    # The kubelet's --protect-kernel-defaults values (k3s CIS hardening guide).
    "vm.panic_on_oom" = 0;
    "vm.overcommit_memory" = 1;
    "kernel.panic" = 10;
    "kernel.panic_on_oops" = 1;
  };
}

# Two servers and one agent bring k3s up through the kube-vip address: the modules of
# nix/modules with settings derived from fixtures/vm-test.toml by the same library as real hosts.
# Modelled on nixpkgs' nixos/tests/rancher/multi-node.nix. No internet in the VMs: every image
# is preloaded (a locally built pause image, the pinned kube-vip image).
{ pkgs }:
let
  inherit (pkgs) lib;
  rawInventory = builtins.fromTOML (builtins.readFile ./fixtures/vm-test.toml);
  inventory = (import ../lib/inventory.nix).normalize rawInventory;
  hostSettings = import ../lib/host-settings.nix rawInventory;

  # Resources nixpkgs' k3s tests give each node.
  vmResources = {
    memorySize = 1536;
    diskSize = 4096;
  };

  pauseImage = pkgs.dockerTools.buildImage {
    name = "test.local/pause";
    tag = "local";
    copyToRoot = pkgs.buildEnv {
      name = "pause-image-env";
      paths = [
        pkgs.tini
        pkgs.coreutils
      ];
    };
    config.Entrypoint = [
      "/bin/tini"
      "--"
      "/bin/sleep"
      "inf"
    ];
  };

  kubeVipImage = import ./kube-vip-image.nix {
    inherit pkgs;
    pinFile = ./kube-vip-image.json;
  };

  node =
    name:
    let
      settings = hostSettings.${name};
    in
    { ... }:
    {
      imports = [
        ../modules/kernel.nix
        ../modules/k3s.nix
        ../modules/cni.nix
        ../modules/kube-vip.nix
        ../modules/gitops.nix
        ../modules/first-boot.nix
      ];
      _module.args = { inherit settings inventory; };

      virtualisation = vmResources;
      # The inventory's address instead of the framework's numbering, on the same VLAN.
      networking.primaryIPAddress = lib.mkForce settings.address;
      networking.interfaces.eth1.ipv4.addresses = lib.mkForce [
        {
          inherit (settings) address prefixLength;
        }
      ];

      services.k3s = {
        tokenFile = pkgs.writeText "k3s-token" "metal-vm-test-token";
        images = [ pauseImage ] ++ lib.optional (settings.role == "server") kubeVipImage;
        extraFlags = [ "--pause-image=test.local/pause:local" ];
      };
      environment.systemPackages = [
        pkgs.kubectl
        pkgs.curl
      ];
      environment.sessionVariables.KUBECONFIG = "/etc/rancher/k3s/k3s.yaml";
    };
in
pkgs.testers.runNixOSTest {
  name = "metal-cluster";
  nodes = lib.mapAttrs (name: _: node name) hostSettings;

  testScript = ''
    vip = "${inventory.network.vip}"
    servers = [server1, server2]

    server1.wait_for_unit("k3s")
    # kube-vip on the init server takes the VIP; the others join through it.
    server1.wait_until_succeeds(f"ip -4 addr show eth1 | grep -q 'inet {vip}/32'", timeout=600)
    agent.wait_until_succeeds(f"curl --silent --insecure https://{vip}:6443/ping | grep -q pong")

    for machine in [server2, agent]:
        machine.wait_for_unit("k3s")

    for name in ["server1", "server2", "agent"]:
        server1.wait_until_succeeds(f"kubectl get node {name}", timeout=600)
        server1.wait_until_succeeds(f"kubectl wait --for=condition=Ready node/{name} --timeout=30s", timeout=600)
    server1.succeed("kubectl -n kube-system rollout status daemonset kube-vip-ds --timeout=300s")

    # The Ceph/Rook kernel modules and the raised inotify limits are in effect.
    for machine in servers + [agent]:
        machine.succeed("lsmod | grep -q '^rbd '")
        machine.succeed("test $(sysctl -n fs.inotify.max_user_instances) -eq 8192")

    # No fail-over check: with two servers, embedded etcd loses quorum when one stops, so the
    # VIP's lease cannot move (docs/decisions/0053: run three servers for that).
  '';
}

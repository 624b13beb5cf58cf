# Inventory → per-host settings: everything a host's NixOS configuration needs, as JSON-able
# attrsets keyed by host name. This shape is a contract with the TypeScript CLI, which derives
# the same settings (packages/metal/src/inventory/); a test compares both on the example
# inventories. Input: the parsed TOML (`builtins.fromTOML`), not yet normalised.
raw:
let
  inventory = (import ./inventory.nix).normalize raw;
  inherit (inventory) network k3s;

  apiPort = 6443;
  espSize = "1G";

  partitionsFor = host: [
    {
      name = "ESP";
      size = espSize;
      type = "EF00";
      format = "vfat";
      mountpoint = "/boot";
      partlabel = "disk-main-ESP";
    }
    {
      name = "root";
      size = host.rootSize;
      type = "8300";
      format = "ext4";
      mountpoint = "/";
      partlabel = "disk-main-root";
    }
    # Raw space for Rook/Ceph: never formatted, found by its partlabel.
    {
      name = "ceph";
      size = "100%";
      type = "8300";
      format = null;
      mountpoint = null;
      partlabel = "disk-main-ceph";
    }
  ];

  k3sFor =
    host:
    let
      isInitServer = host.role == "server" && host.init;
      serverFlags = [
        "--tls-san=${network.vip}"
        "--node-ip=${host.address}"
      ]
      ++ map (component: "--disable=${component}") k3s.disable
      ++ k3s.extraFlags;
      agentFlags = [ "--node-ip=${host.address}" ];
    in
    {
      inherit (host) role;
      clusterInit = isInitServer;
      serverAddr = if isInitServer then null else "https://${network.vip}:${toString apiPort}";
      extraFlags = if host.role == "server" then serverFlags else agentFlags;
    };

  settingsFor = host: {
    inherit (host)
      name
      mac
      address
      prefixLength
      interface
      role
      init
      arch
      disk
      ;
    fqdn = "${host.name}.${inventory.cluster.domain}";
    inherit (network) gateway dns;
    partitions = partitionsFor host;
    k3s = k3sFor host;
  };
in
builtins.listToAttrs (
  map (host: {
    inherit (host) name;
    value = settingsFor host;
  }) inventory.hosts
)

# Static IPv4 from the inventory with systemd-networkd: the NIC is found by its MAC (and renamed
# to a stable name, nix/lib/nic-name.nix) or by the interface name the inventory gives.
{
  config,
  lib,
  settings,
  inventory,
  ...
}:
let
  nic = import ../lib/nic-name.nix settings;
  byMac = settings.interface == null;
in
{
  options.metal.networking.mdns.enable = lib.mkEnableOption "mDNS (avahi): publish <host>.local on the LAN";

  config = {
    networking = {
      hostName = settings.name;
      inherit (inventory.cluster) domain;
      useNetworkd = true;
      useDHCP = false;
      firewall.enable = true;
    };

    systemd.network = {
      enable = true;
      links."10-${nic}" = lib.mkIf byMac {
        matchConfig.PermanentMACAddress = settings.mac;
        linkConfig.Name = nic;
      };
      networks."10-${nic}" = {
        matchConfig.Name = nic;
        address = [ "${settings.address}/${toString settings.prefixLength}" ];
        gateway = [ settings.gateway ];
        dns = settings.dns;
        linkConfig.RequiredForOnline = "routable";
      };
    };
    services.resolved.enable = true;

    services.avahi = lib.mkIf config.metal.networking.mdns.enable {
      enable = true;
      openFirewall = true;
      allowInterfaces = [ nic ];
      publish = {
        enable = true;
        addresses = true;
      };
    };
  };
}

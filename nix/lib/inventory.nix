# Reads the inventory (docs/inventory.md) and fills in its defaults. Plain Nix, no nixpkgs, so CI
# can evaluate it offline with `nix-instantiate --eval`. The TypeScript CLI validates the file in
# depth (packages/metal/src/inventory/); this side only rejects what would make the derived host
# settings wrong, with a message naming the host, the field and the fix.
let
  # The same defaults as the CLI's schema (packages/metal/src/inventory/schema.ts); fields
  # without a default there are required here too, so both accept the same files.
  defaults = {
    k3sDisable = [
      "traefik"
      "servicelb"
    ];
    rootSize = "64G";
    arch = "x86_64";
  };

  fail = where: message: throw "inventory: ${where}: ${message}";

  require =
    where: attrs: field:
    if attrs ? ${field} then attrs.${field} else fail where "missing `${field}` (see docs/inventory.md)";

  # Same notations as packages/netboot/src/mac.ts: colons, dashes or none, any case.
  hexPair = "([0-9a-fA-F]{2})";
  macPattern =
    "${hexPair}[:-]?${hexPair}[:-]?${hexPair}[:-]?${hexPair}[:-]?${hexPair}[:-]?${hexPair}";
  upper = [ "A" "B" "C" "D" "E" "F" ];
  lower = [ "a" "b" "c" "d" "e" "f" ];
  trim =
    text:
    let
      match = builtins.match "[[:space:]]*([^[:space:]]*)[[:space:]]*" text;
    in
    if match == null then text else builtins.head match;

  canonicalMac =
    where: text:
    let
      pairs = builtins.match macPattern (trim text);
    in
    if pairs == null then
      fail where "mac `${text}` is not a MAC address; write it like 52:54:00:12:34:56"
    else
      builtins.replaceStrings upper lower (builtins.concatStringsSep ":" pairs);

  splitAddress =
    where: ip:
    let
      parts = builtins.match "([0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+)/([0-9]+)" ip;
    in
    if parts == null then
      fail where "ip `${ip}` is not an IPv4 address with a prefix length; write it like 192.168.1.11/24"
    else
      {
        address = builtins.elemAt parts 0;
        prefixLength = builtins.fromJSON (builtins.elemAt parts 1);
      };

  normalizeHost =
    raw: index: host:
    let
      where = "hosts[${toString index}] (${host.name or "unnamed"})";
      role = require where host "role";
    in
    if role != "server" && role != "agent" then
      fail where "role `${role}` is neither \"server\" nor \"agent\""
    else
      {
        name = require where host "name";
        mac = canonicalMac where (require where host "mac");
        inherit role;
        init = host.init or false;
        disk = require where host "disk";
        arch = host.arch or defaults.arch;
        firstStage = host.first_stage or null;
        rootSize = host.root_size or (raw.install.root_size or defaults.rootSize);
        interface = host.interface or null;
      }
      // splitAddress where (require where host "ip");

  indexed = list: builtins.genList (i: { index = i; value = builtins.elemAt list i; }) (builtins.length list);

  normalize =
    raw:
    let
      network = require "network" raw "network";
      hosts = map ({ index, value }: normalizeHost raw index value) (indexed (raw.hosts or [ ]));
      initServers = builtins.filter (host: host.init) hosts;
      names = map (host: host.name) hosts;
      duplicates = builtins.filter (name: builtins.length (builtins.filter (n: n == name) names) > 1) names;
    in
    if hosts == [ ] then
      fail "hosts" "no [[hosts]] entries; add at least one server with init = true"
    else if duplicates != [ ] then
      fail "hosts" "host `${builtins.head duplicates}` is listed twice; give every host one entry"
    else if builtins.length initServers != 1 then
      fail "hosts" "${toString (builtins.length initServers)} hosts have init = true; exactly one server must"
    else if (builtins.head initServers).role != "server" then
      fail "hosts" "`${(builtins.head initServers).name}` has init = true but role = \"agent\"; only a server initialises the cluster"
    else
      {
        cluster = {
          name = require "cluster" (raw.cluster or { }) "name";
          domain = require "cluster" (raw.cluster or { }) "domain";
          flake = raw.cluster.flake or ".";
          gitopsRepo = raw.cluster.gitops_repo or null;
        };
        network = {
          interface = network.interface or null;
          subnet = require "network" network "subnet";
          gateway = require "network" network "gateway";
          dns = require "network" network "dns";
          vip = require "network" network "vip";
        };
        k3s = {
          disable = raw.k3s.disable or defaults.k3sDisable;
          extraFlags = raw.k3s.extra_flags or [ ];
        };
        install = {
          rootSize = raw.install.root_size or defaults.rootSize;
        };
        inherit hosts;
      };
in
{
  inherit normalize canonicalMac;
  read = file: normalize (builtins.fromTOML (builtins.readFile file));
}

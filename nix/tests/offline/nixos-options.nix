# Stand-ins for the nixpkgs options that the flake's modules, disko's and sops-nix's modules set
# or read, declared with nixpkgs' names and types (a submodule declares only the sub-options
# used here). Each group names the nixpkgs file that declares it (NixOS/nixpkgs,
# nixos/modules/…); docs/nix.md has the same table for every option the flake sets, and says
# which declarations were read for it (the others follow nixpkgs' documented names and types).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  option = type: mkOption { inherit type; };
  withDefault = type: default: mkOption { inherit type default; };
  enable = withDefault types.bool false;
  strings = withDefault (types.listOf types.str) [ ];
  ports = withDefault (types.listOf types.port) [ ];
  # systemd unit sections: nixos/lib/systemd-unit-options.nix (`unitOption`).
  unitSection = withDefault (types.attrsOf lib.types.anything) { };
in
{
  options = {
    # nixos/modules/misc/assertions.nix
    assertions = withDefault (types.listOf types.unspecified) [ ];
    warnings = withDefault (types.listOf types.str) [ ];

    # nixos/modules/system/activation/top-level.nix
    system.build = withDefault (types.lazyAttrsOf types.unspecified) { };
    # nixos/modules/misc/version.nix
    system.stateVersion = option types.str;
    # nixos/modules/system/activation/activation-script.nix
    system.activationScripts = withDefault (types.attrsOf types.unspecified) { };

    # nixos/modules/hardware/all-firmware.nix
    hardware.enableRedistributableFirmware = enable;

    boot = {
      # nixos/modules/system/boot/loader/systemd-boot/systemd-boot.nix
      loader.systemd-boot.enable = enable;
      # nixos/modules/system/boot/loader/efi.nix
      loader.efi.canTouchEfiVariables = enable;
      # nixos/modules/system/boot/kernel.nix
      initrd.availableKernelModules = strings;
      kernelModules = strings;
      kernelParams = strings;
      # nixos/modules/config/sysctl.nix (a submodule whose freeform values are these)
      kernel.sysctl = withDefault (types.attrsOf (
        types.nullOr (
          types.oneOf [
            types.bool
            types.str
            types.int
          ]
        )
      )) { };
    };

    # nixos/modules/tasks/filesystems.nix
    fileSystems = withDefault (types.attrsOf (
      types.submodule {
        options = {
          device = withDefault (types.nullOr types.nonEmptyStr) null;
          fsType = withDefault types.nonEmptyStr "auto";
          options = withDefault (types.nonEmptyListOf types.nonEmptyStr) [ "defaults" ];
        };
      }
    )) { };
    # nixos/modules/config/swap.nix
    swapDevices = withDefault (types.listOf types.attrs) [ ];

    # nixos/modules/config/nix.nix
    nix.settings = withDefault (types.submodule {
      # `semanticConfType`: each value a Nix config atom or a list of them.
      freeformType =
        let
          atom = types.nullOr (
            types.oneOf [
              types.bool
              types.int
              types.float
              types.str
              types.path
              types.package
            ]
          );
        in
        types.attrsOf (types.either atom (types.listOf atom));
      options = {
        auto-optimise-store = withDefault types.bool false;
        trusted-users = strings;
      };
    }) { };
    # nixos/modules/services/misc/nix-gc.nix
    nix.gc = {
      automatic = enable;
      dates = withDefault types.singleLineStr "03:15";
      options = withDefault types.singleLineStr "";
    };

    # nixos/modules/services/networking/ssh/sshd.nix (also `users.users.<name>.openssh` below);
    # `settings` as recent nixpkgs declares it (the indexed copies predate it: docs/nix.md).
    services.openssh = {
      enable = enable;
      settings = withDefault (types.submodule {
        freeformType = types.attrsOf types.anything;
        options = {
          PasswordAuthentication = withDefault types.bool true;
          KbdInteractiveAuthentication = withDefault types.bool true;
          PermitRootLogin = withDefault (types.enum [
            "yes"
            "without-password"
            "prohibit-password"
            "forced-commands-only"
            "no"
          ]) "prohibit-password";
        };
      }) { };
      hostKeys = withDefault (types.listOf types.attrs) [ ];
    };

    # nixos/modules/config/users-groups.nix
    users.mutableUsers = withDefault types.bool true;
    users.users = withDefault (types.attrsOf (
      types.submodule (
        { name, ... }:
        {
          options = {
            name = withDefault types.str name;
            # nixos/modules/services/networking/ssh/sshd.nix (userOptions)
            openssh.authorizedKeys.keys = strings;
            openssh.authorizedKeys.keyFiles = strings;
          };
        }
      )
    )) { };

    # nixos/modules/programs/ssh.nix
    programs.ssh.knownHosts = withDefault (types.attrsOf (
      types.submodule (
        { name, ... }:
        {
          options = {
            hostNames = withDefault (types.listOf types.str) [ name ];
            publicKeyFile = withDefault (types.nullOr types.path) null;
          };
        }
      )
    )) { };

    # nixos/modules/config/locale.nix
    time.timeZone = withDefault (types.nullOr (types.addCheck types.str (zone: !lib.hasInfix " " zone))) null;

    networking = {
      # nixos/modules/tasks/network-interfaces.nix
      # A DNS label, no domain part.
      hostName = withDefault (types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$") "nixos";
      domain = withDefault (types.nullOr types.str) null;
      useDHCP = withDefault types.bool true;
      useNetworkd = enable;
      # nixos/modules/services/networking/firewall.nix
      firewall = {
        enable = withDefault types.bool true;
        allowedTCPPorts = ports;
        allowedUDPPorts = ports;
        trustedInterfaces = strings;
      };
    };

    systemd = {
      # nixos/modules/system/boot/networkd.nix
      network = {
        enable = enable;
        links = withDefault (types.attrsOf (
          types.submodule {
            options = {
              matchConfig = unitSection;
              linkConfig = unitSection;
            };
          }
        )) { };
        networks = withDefault (types.attrsOf (
          types.submodule {
            options = {
              matchConfig = unitSection;
              linkConfig = unitSection;
              address = strings;
              gateway = strings;
              dns = strings;
            };
          }
        )) { };
      };
      # nixos/modules/system/boot/systemd.nix (unit options: nixos/lib/systemd-unit-options.nix)
      services = withDefault (types.attrsOf (
        types.submodule {
          options = {
            description = withDefault types.singleLineStr "";
            wantedBy = strings;
            requiredBy = strings;
            wants = strings;
            requires = strings;
            after = strings;
            before = strings;
            path = withDefault (types.listOf (types.either types.package types.str)) [ ];
            environment = withDefault (types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]))) { };
            unitConfig = unitSection;
            serviceConfig = unitSection;
          };
        }
      )) { };
      # nixos/modules/system/boot/systemd/sysusers.nix
      sysusers.enable = enable;
    };

    # nixos/modules/system/boot/resolved.nix
    services.resolved.enable = enable;

    # nixos/modules/services/networking/avahi-daemon.nix
    services.avahi = {
      enable = enable;
      openFirewall = withDefault types.bool true;
      allowInterfaces = withDefault (types.nullOr (types.listOf types.str)) null;
      publish.enable = enable;
      publish.addresses = enable;
    };

    # nixos/modules/services/cluster/rancher/default.nix (k3s.nix instantiates it as services.k3s)
    services.k3s = {
      enable = enable;
      role = withDefault (types.enum [
        "server"
        "agent"
      ]) "server";
      serverAddr = withDefault types.str "";
      tokenFile = withDefault (types.nullOr types.path) null;
      clusterInit = enable;
      extraFlags = withDefault (types.either types.str (types.listOf types.str)) [ ];
      gracefulNodeShutdown.enable = enable;
      manifests = withDefault (types.attrsOf (
        types.submodule {
          options.content = withDefault (types.nullOr (types.either types.attrs (types.listOf types.attrs))) null;
        }
      )) { };
    };
  };
}

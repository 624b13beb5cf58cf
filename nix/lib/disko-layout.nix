# Host settings (host-settings.nix) → the disko `disko.devices` attrset: one GPT disk named
# `main`, so disko's default partlabels are `disk-main-<partition>` as the settings promise.
# A partition without `content` is created and never formatted (disko's
# example/gpt-unformatted.nix): that is the raw space Rook/Ceph takes over.
settings:
let
  contentFor =
    partition:
    if partition.format == null then
      { }
    else
      {
        content = {
          type = "filesystem";
          inherit (partition) format mountpoint;
        }
        // (if partition.format == "vfat" then { mountOptions = [ "umask=0077" ]; } else { });
      };

  partitionEntry = partition: {
    inherit (partition) name;
    value = {
      inherit (partition) size type;
      label = partition.partlabel;
    }
    // contentFor partition;
  };
in
{
  disk.main = {
    type = "disk";
    device = settings.disk;
    content = {
      type = "gpt";
      partitions = builtins.listToAttrs (map partitionEntry settings.partitions);
    };
  };
}

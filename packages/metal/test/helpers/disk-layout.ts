/**
 * The partitions every host's disk is expected to get, written out once for the tests that check
 * the CLI's and the Nix library's host settings (docs/nix.md: both must derive the same layout).
 */

/** Raw, unformatted: Ceph takes the rest of the disk. */
export const EXPECTED_CEPH_PARTITION = {
  name: "ceph",
  size: "100%",
  type: "8300",
  format: null,
  mountpoint: null,
  partlabel: "disk-main-ceph",
} as const;

/** ESP, root of `rootSize` (the inventory's root_size), then Ceph. */
export function expectedPartitions(rootSize: string) {
  return [
    {
      name: "ESP",
      size: "1G",
      type: "EF00",
      format: "vfat",
      mountpoint: "/boot",
      partlabel: "disk-main-ESP",
    },
    {
      name: "root",
      size: rootSize,
      type: "8300",
      format: "ext4",
      mountpoint: "/",
      partlabel: "disk-main-root",
    },
    EXPECTED_CEPH_PARTITION,
  ];
}

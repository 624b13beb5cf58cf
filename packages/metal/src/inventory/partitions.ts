/**
 * The disk layout every host gets (disko on the Nix side, nix/lib/host-settings.nix): a GPT with
 * an ESP, the root file system, and the rest raw for Ceph under a stable partlabel.
 */
import { sizeBytes } from "./size.js";

export const ESP_SIZE = "1G";
export const DEFAULT_ROOT_SIZE = "64G";
/** Below this a Ceph OSD is not worth creating; also the lab's floor (its disks are a few GiB). */
export const MIN_CEPH_BYTES = 1024 ** 3;
/** GPT keeps 1 MiB before the first partition (alignment) and 33 sectors of backup table at the end. */
export const GPT_OVERHEAD_BYTES = 2 * 1024 ** 2;

/** Smallest disk that holds ESP + root + the minimum Ceph partition. */
export function requiredDiskBytes(rootSize: string): number {
  return sizeBytes(ESP_SIZE) + sizeBytes(rootSize) + MIN_CEPH_BYTES + GPT_OVERHEAD_BYTES;
}

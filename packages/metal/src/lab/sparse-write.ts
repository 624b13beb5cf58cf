/**
 * Writes a mostly empty disk image onto a remote disk over one SSH stream without sending its
 * zeros: the image is cut into 1 MiB blocks, runs of blocks holding data are sent as
 * `OFFSET COUNT` (in blocks) followed by exactly COUNT MiB of bytes, and the remote busybox sh
 * loop below `dd`s each run into place. A 4 GiB lab disk carries ~30 MiB of data (GPT, FAT, two
 * kernels and initrds), so the stream is that, not 4 GiB. Blocks left out are not zeroed on the
 * target: fine for a disk whose unused space is never read as data (free FAT clusters, an
 * unformatted root and the raw Ceph partition).
 */
import { open } from "node:fs/promises";
import { Readable } from "node:stream";

export const BLOCK_BYTES = 1024 * 1024;

/** The remote side: read a header line, copy that many blocks to their place, until EOF. */
export function remoteWriterScript(device: string): string {
  return (
    "set -e; while read -r offset count; do " +
    `dd of=${device} bs=${BLOCK_BYTES} seek="$offset" count="$count" iflag=fullblock conv=notrunc 2>/dev/null; ` +
    "done; sync"
  );
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

function isZero(block: Buffer, length: number): boolean {
  return block.subarray(0, length).equals(ZERO_BLOCK.subarray(0, length));
}

export interface DataRun {
  readonly offsetBlocks: number;
  readonly countBlocks: number;
}

/** Blocks `[first, end)` of an image that may hold data. */
export interface BlockRange {
  readonly first: number;
  readonly end: number;
}

/**
 * The runs of 1 MiB blocks of `image` that hold anything but zeros, looking only inside
 * `ranges` (the caller knows where a layout can put data; reading a 4 GiB hole costs seconds).
 */
export async function dataRuns(image: string, ranges: readonly BlockRange[]): Promise<DataRun[]> {
  const file = await open(image, "r");
  try {
    const block = Buffer.alloc(BLOCK_BYTES);
    const runs: DataRun[] = [];
    for (const range of ranges) {
      let current: { offsetBlocks: number; countBlocks: number } | undefined;
      for (let index = range.first; index < range.end; index++) {
        const { bytesRead } = await file.read(block, 0, BLOCK_BYTES, index * BLOCK_BYTES);
        if (isZero(block, bytesRead)) {
          current = undefined;
          continue;
        }
        if (current) current.countBlocks++;
        else {
          current = { offsetBlocks: index, countBlocks: 1 };
          runs.push(current);
        }
      }
    }
    return runs;
  } finally {
    await file.close();
  }
}

/** The stream for remoteWriterScript: header line, then the run's bytes, for each run. */
export function sparseStream(image: string, runs: readonly DataRun[]): Readable {
  return Readable.from(
    (async function* () {
      const file = await open(image, "r");
      try {
        for (const run of runs) {
          yield Buffer.from(`${run.offsetBlocks} ${run.countBlocks}\n`);
          for (let index = 0; index < run.countBlocks; index++) {
            const block = Buffer.alloc(BLOCK_BYTES);
            await file.read(block, 0, BLOCK_BYTES, (run.offsetBlocks + index) * BLOCK_BYTES);
            yield block;
          }
        }
      } finally {
        await file.close();
      }
    })(),
  );
}

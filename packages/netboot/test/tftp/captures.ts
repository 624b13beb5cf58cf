/**
 * Read requests captured with tshark from real firmware (firmware.netns.test.ts,
 * UPDATE_FIXTURES=1), one hex datagram per line: QEMU's iPXE ROM under SeaBIOS
 * (ipxe-bios-rrq.hex) and OVMF's own UEFI PXE (ovmf-rrq.hex: its size probe, then its read).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/tftp");

export async function capturedRequests(name: string): Promise<Buffer[]> {
  const text = await readFile(path.join(FIXTURES, name), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((hex) => Buffer.from(hex, "hex"));
}

/** Reads the captured DHCP fixtures (test/fixtures/dhcp/*.txt, made by scripts/capture-dhcp-fixtures.ts). */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURE_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "../fixtures/dhcp",
);

/** The SMBIOS UUID and MAC the capture script gives every QEMU machine. */
export const CAPTURED_UUID = "8f2b6c1e-4d3a-4b5c-9e7f-0a1b2c3d4e5f";
export const CAPTURED_MAC = "52:54:00:77:00:01";

export interface CapturedDatagram {
  readonly source: { readonly address: string; readonly port: number };
  readonly destination: { readonly address: string; readonly port: number };
  readonly payload: Buffer;
}

export function readCapture(name: string): CapturedDatagram[] {
  const text = readFileSync(path.join(FIXTURE_DIR, `${name}.txt`), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const [, sourceAddress, sourcePort, destinationAddress, destinationPort, hex] =
        line.split(" ");
      return {
        source: { address: sourceAddress as string, port: Number(sourcePort) },
        destination: { address: destinationAddress as string, port: Number(destinationPort) },
        payload: Buffer.from(hex as string, "hex"),
      };
    });
}

export function captureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((name) => name.endsWith(".txt"))
    .map((name) => name.slice(0, -".txt".length));
}

/** Every captured DHCP payload, for round trips and the fuzz test's mutations. */
export function allCapturedPayloads(): Buffer[] {
  return captureNames().flatMap((name) => readCapture(name).map((datagram) => datagram.payload));
}

/**
 * Helpers shared by the DHCP namespace tests, the fixture capture script and the DHCP
 * benchmark: QEMU command lines for the firmware we test against, and child processes (our
 * lab entries, dnsmasq) inside a namespace whose JSON-line output can be awaited.
 */
import { copyFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import type { NetHost } from "../../../lab/src/netns.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const LAB_PROXY_SERVER = path.join(here, "lab-proxy-server.ts");
export const LAB_DHCP_CLIENT = path.join(here, "lab-dhcp-client.ts");

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
export const LAB_MAC = "52:54:00:77:00:01";
export const LAB_UUID = "8f2b6c1e-4d3a-4b5c-9e7f-0a1b2c3d4e5f";

/** bios-ipxe: SeaBIOS + iPXE ROM; ovmf-native: OVMF's own PXE; ovmf-ipxe: OVMF + iPXE EFI ROM. */
export type LabFirmware = "bios-ipxe" | "ovmf-native" | "ovmf-ipxe";

/** A diskless QEMU machine that network-boots from `tap` (TCG; LAB-NOTES "Firmware"). */
export function qemuArgs(firmware: LabFirmware, tap: string, workDir: string): string[] {
  const common = [
    "-accel",
    "tcg",
    "-m",
    "256",
    "-display",
    "none",
    "-vga",
    "none",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-uuid",
    LAB_UUID,
    "-netdev",
    `tap,id=n0,ifname=${tap},script=no,downscript=no`,
  ];
  const nic = `virtio-net-pci,netdev=n0,mac=${LAB_MAC}`;
  if (firmware === "bios-ipxe") return [...common, "-boot", "n", "-device", nic];
  const vars = path.join(workDir, `${tap}-vars.fd`);
  copyFileSync(OVMF_VARS, vars);
  return [
    ...common,
    "-machine",
    "q35",
    "-drive",
    `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
    "-drive",
    `if=pflash,format=raw,unit=1,file=${vars}`,
    "-device",
    // An empty romfile drops the iPXE ROM: the firmware's own PXE stack answers (LAB-NOTES).
    firmware === "ovmf-native" ? `${nic},romfile=` : nic,
  ];
}

/** dnsmasq as the home router: addresses only, no DNS, IPv6 RAs so iPXE need not wait for SLAAC. */
export function routerDnsmasqArgs(leaseFile: string): string[] {
  return [
    "--port=0",
    "--bind-interfaces",
    "--interface=eth0",
    "--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h",
    "--enable-ra",
    "--dhcp-range=fd77::,ra-only,64",
    "--no-ping",
    "--keep-in-foreground",
    "--log-dhcp",
    "--conf-file=/dev/null",
    `--dhcp-leasefile=${leaseFile}`,
    "--log-facility=-",
  ];
}

export interface JsonLineProcess<T> {
  readonly process: ResultPromise;
  readonly records: T[];
  /** Resolves with the first record (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (record: T) => boolean, timeoutMs: number, what: string): Promise<T>;
  stop(): Promise<void>;
}

/** Runs `node --import tsx ENTRY CONFIG` in the host's namespace and parses its JSON lines. */
export function runLabEntry<T extends object>(
  host: NetHost,
  entry: string,
  config: object,
): JsonLineProcess<T> {
  const [file, args] = host.argv(process.execPath, [
    "--import",
    "tsx",
    entry,
    JSON.stringify(config),
  ]);
  const child = execa(file, args, { reject: false, stderr: "inherit", buffer: false });
  const records: T[] = [];
  const waiters: Array<() => void> = [];
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{")) records.push(JSON.parse(line) as T);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    process: child,
    records,
    waitFor(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
        const check = () => {
          const found = records.find(match);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}

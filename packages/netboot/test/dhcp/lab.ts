/**
 * Helpers shared by the DHCP and TFTP namespace tests, the fixture capture scripts and the DHCP
 * benchmark: QEMU machines with the firmware we test against (lab's QemuMachine), and child processes (our
 * lab entries, dnsmasq) inside a namespace whose JSON-line output can be awaited.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { onLines } from "../../../lab/src/lines.js";
import type { NetHost, VirtualNetwork } from "../../../lab/src/netns.js";
import { QemuMachine, type MachineSpec } from "../../../lab/src/qemu.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const LAB_PROXY_SERVER = path.join(here, "lab-proxy-server.ts");
/** Our proxyDHCP server from the built library, under plain node (bench/dhcp.bench.ts). */
export const BUILT_PROXY_SERVER = path.join(here, "fixtures", "proxy-server.mjs");
/** The least a Node server can do per DISCOVER, as a floor (bench/dhcp.bench.ts). */
export const NODE_FLOOR_SERVER = path.join(here, "fixtures", "node-floor-server.mjs");
export const LAB_DHCP_CLIENT = path.join(here, "lab-dhcp-client.ts");

export const LAB_MAC = "52:54:00:77:00:01";
export const LAB_UUID = "8f2b6c1e-4d3a-4b5c-9e7f-0a1b2c3d4e5f";
const LAB_MEMORY_MIB = 256;

/** bios-ipxe: SeaBIOS + iPXE ROM; ovmf-native: OVMF's own PXE; ovmf-ipxe: OVMF + iPXE EFI ROM. */
export type LabFirmware = "bios-ipxe" | "ovmf-native" | "ovmf-ipxe";

const FIRMWARE_SPECS: Record<LabFirmware, Pick<MachineSpec, "firmware" | "nicBoot">> = {
  "bios-ipxe": { firmware: "bios", nicBoot: "ipxe" },
  // No NIC ROM: the firmware's own PXE stack answers, as on real UEFI hardware (LAB-NOTES).
  "ovmf-native": { firmware: "uefi", nicBoot: "native" },
  "ovmf-ipxe": { firmware: "uefi", nicBoot: "ipxe" },
};

/**
 * Powers on a diskless QEMU machine (TCG) that network-boots from `tap` in the network's lan
 * namespace; stop() it when done. Files go to a folder of `workDir` named after tap and firmware.
 */
export async function startLabMachine(
  firmware: LabFirmware,
  network: VirtualNetwork,
  tap: string,
  workDir: string,
  options: { readonly mac?: string; readonly noReboot?: boolean } = {},
): Promise<QemuMachine> {
  const machine = await QemuMachine.create({
    name: `${tap}-${firmware}`,
    ...FIRMWARE_SPECS[firmware],
    mac: options.mac ?? LAB_MAC,
    uuid: LAB_UUID,
    memoryMiB: LAB_MEMORY_MIB,
    noReboot: options.noReboot,
    workDir: path.join(workDir, `${tap}-${firmware}`),
    network: { namespace: network.lan, tap },
    accelerator: "tcg",
  });
  await machine.powerOn();
  return machine;
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

/**
 * dnsmasq as the reference proxyDHCP server (the peer our answers are compared with): proxy
 * mode on 10.77.0.0/24, a BIOS PXE service; `extra` adds services, logging and the lease file.
 */
export function proxyDnsmasqArgs(extra: readonly string[]): string[] {
  return [
    "--port=0",
    "--bind-interfaces",
    "--interface=eth0",
    "--dhcp-range=10.77.0.0,proxy",
    "--pxe-service=x86PC,Network boot,undionly",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    ...extra,
  ];
}

export interface JsonLineProcess<T> {
  readonly process: ResultPromise;
  readonly records: T[];
  /** Resolves with the first record (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (record: T) => boolean, timeoutMs: number, what: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Runs `node ENTRY CONFIG` in the host's namespace (with `--import tsx` for a TypeScript entry)
 * and parses its JSON lines.
 */
export function runLabEntry<T extends object>(
  host: NetHost,
  entry: string,
  config: object,
): JsonLineProcess<T> {
  const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const [file, args] = host.argv(process.execPath, [...loader, entry, JSON.stringify(config)]);
  const child = execa(file, args, { reject: false, stderr: "inherit", buffer: false });
  const records: T[] = [];
  const waiters: Array<() => void> = [];
  onLines(child.stdout, (line) => {
    if (line.startsWith("{")) records.push(JSON.parse(line) as T);
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

/**
 * The whole virtual lab in one call, assembled from the parts: a VirtualNetwork, the dnsmasq
 * home router, one QEMU machine per spec (blank raw disk, NIC on its own tap, powered off) and
 * the Wake-on-LAN gate that powers them on. Knows nothing about PXE: the caller adds its
 * server's namespace with addHost() and serves from there.
 */
import { mkdir, open, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { chooseAccelerator, type Accelerator } from "./accel.js";
import { LabConfigError } from "./errors.js";
import { defaultCacheDir, fetchKernel } from "./kernel.js";
import { VirtualNetwork, type NetHost } from "./netns.js";
import { SimulatedBmc } from "./ipmi-bmc.js";
import { prepareMachine, QemuMachine, qemuArgv, type Firmware, type NicBoot } from "./qemu.js";
import { DhcpRelay } from "./relay.js";
import { HomeRouter, type RouterOptions } from "./router.js";
import { WolGate, type WakeEvent } from "./wol-gate.js";

export interface LabMachineSpec {
  readonly name: string;
  readonly mac: string;
  readonly firmware: Firmware;
  readonly nicBoot?: NicBoot;
  /** Size of the blank disk in MiB (default 1024; sparse). */
  readonly diskSizeMiB?: number;
  readonly memoryMiB?: number;
  /**
   * A simulated IPMI BMC powers this machine (ipmi-bmc.ts) at this address of the lab subnet,
   * instead of Wake-on-LAN.
   */
  readonly bmc?: { readonly address: string; readonly username: string; readonly password: string };
}

export interface LabOptions {
  readonly machines: readonly LabMachineSpec[];
  /** Disks, serial logs, router log and lease file live here. */
  readonly workDir: string;
  /** First three octets of the lab's /24 (default 10.77.0). */
  readonly subnet?: string;
  /** Namespace name prefix (default "mlab"; see removeNamespaces for `lab down`). */
  readonly namespacePrefix?: string;
  readonly router?: Pick<RouterOptions, "pool" | "reservations" | "leaseTime">;
  /** Hold machines off until Wake-on-LAN (default true); false powers them on at once. */
  readonly wakeOnLan?: boolean;
  /** Skip the KVM probe (which needs Debian's kernel from the cache). */
  readonly accelerator?: Accelerator;
  readonly cacheDir?: string;
  readonly onWake?: (event: WakeEvent) => void;
  /**
   * Put the machines on a second subnet behind a router running dnsmasq's DHCP relay
   * (relay.ts), as a VLAN behind a home router would be. `subnet`: first three octets of the
   * machines' /24; `servers`: last octets, on the lab subnet, of the hosts the relay forwards
   * to besides the home router (the caller's PXE server, added later with addHost).
   */
  readonly relay?: { readonly subnet: string; readonly servers: readonly number[] };
}

const DEFAULT_DISK_MIB = 1024;
const DEFAULT_PREFIX = "mlab";
/** The relaying router's address on the machines' subnet: their gateway and the giaddr. */
const RELAY_GATEWAY_OCTET = 1;
/** Loopback TCP ports in the lan namespace where BMC machines' QEMU reaches its BMC. */
const BMC_SERIAL_BASE_PORT = 9002;
const MIB = 1024 * 1024;

/** The machines' subnet and its relaying router, when the lab has one (LabOptions.relay). */
interface RelayedSubnet {
  readonly network: VirtualNetwork;
  readonly relay: DhcpRelay;
}

export class Lab {
  readonly network: VirtualNetwork;
  readonly router: HomeRouter;
  readonly machines: readonly QemuMachine[];
  /** Machines powered by a simulated BMC: their QEMU runs only while the BMC says "on". */
  readonly bmcs: readonly SimulatedBmc[];
  readonly gate: WolGate | undefined;
  /** The machines' network and DHCP relay when they sit behind one, else undefined. */
  readonly relayed: RelayedSubnet | undefined;

  private constructor(
    network: VirtualNetwork,
    router: HomeRouter,
    machines: readonly QemuMachine[],
    bmcs: readonly SimulatedBmc[],
    gate: WolGate | undefined,
    relayed: RelayedSubnet | undefined,
  ) {
    this.network = network;
    this.router = router;
    this.machines = machines;
    this.bmcs = bmcs;
    this.gate = gate;
    this.relayed = relayed;
  }

  static async create(options: LabOptions): Promise<Lab> {
    checkUnique(options.machines);
    const accelerator = options.accelerator ?? (await probeAccelerator(options.cacheDir));
    const network = await VirtualNetwork.create({
      subnet: options.subnet,
      prefix: options.namespacePrefix ?? DEFAULT_PREFIX,
    });
    const machines: QemuMachine[] = [];
    const bmcs: SimulatedBmc[] = [];
    let router: HomeRouter | undefined;
    let gate: WolGate | undefined;
    let relayed: { network: VirtualNetwork; relay?: DhcpRelay } | undefined;
    try {
      if (options.relay)
        relayed = {
          network: await VirtualNetwork.create({
            subnet: options.relay.subnet,
            prefix: options.namespacePrefix ?? DEFAULT_PREFIX,
          }),
        };
      router = await HomeRouter.start({
        network,
        workDir: join(options.workDir, "router"),
        ...options.router,
        ...(options.relay
          ? {
              relayedSubnets: [
                {
                  subnet: options.relay.subnet,
                  gateway: `${options.relay.subnet}.${RELAY_GATEWAY_OCTET}`,
                },
              ],
            }
          : {}),
      });
      if (relayed && options.relay) {
        relayed.relay = await DhcpRelay.start({
          upstream: network,
          downstream: relayed.network,
          servers: [
            router.address,
            ...options.relay.servers.map((octet) => `${network.subnet}.${octet}`),
          ],
          workDir: join(options.workDir, "relay"),
          downstreamOctet: RELAY_GATEWAY_OCTET,
        });
        await relayed.relay.routeFrom(router.host);
      }
      const machineNetwork = relayed?.network ?? network;
      for (const [index, spec] of options.machines.entries()) {
        const workDir = join(options.workDir, spec.name);
        const disk = join(workDir, "disk.img");
        await createBlankDisk(disk, spec.diskSizeMiB ?? DEFAULT_DISK_MIB);
        const machine = {
          name: spec.name,
          firmware: spec.firmware,
          mac: spec.mac,
          nicBoot: spec.nicBoot,
          memoryMiB: spec.memoryMiB,
          workDir,
          disk,
          network: {
            namespace: machineNetwork.lan,
            tap: await machineNetwork.addTap(`tap${index}`),
          },
          accelerator,
        };
        if (spec.bmc) {
          const serialPort = BMC_SERIAL_BASE_PORT + index;
          const bmcMachine = { ...machine, bmc: { host: "127.0.0.1", port: serialPort } };
          const { argv, files } = await prepareMachine(bmcMachine);
          const networkBootArgv = qemuArgv({ ...bmcMachine, networkFirst: true }, files);
          bmcs.push(
            await SimulatedBmc.start(
              machineNetwork,
              {
                name: spec.name,
                ...spec.bmc,
                serialPort,
                qemuArgv: argv,
                networkBootArgv,
                workDir,
              },
              hostOctetOf(spec.bmc.address),
            ),
          );
        } else machines.push(await QemuMachine.create(machine));
      }
      if (options.wakeOnLan ?? true)
        gate = await WolGate.start({ network, machines, onWake: options.onWake });
      else await Promise.all(machines.map((machine) => machine.powerOn()));
      return new Lab(
        network,
        router,
        machines,
        bmcs,
        gate,
        relayed?.relay ? { network: relayed.network, relay: relayed.relay } : undefined,
      );
    } catch (error) {
      await teardown(network, router, machines, bmcs, gate, relayed);
      throw error;
    }
  }

  machine(name: string): QemuMachine {
    const machine = this.machines.find((candidate) => candidate.name === name);
    if (!machine)
      throw new LabConfigError(
        `no lab machine named "${name}"; the lab has ${this.machines.map((m) => m.name).join(", ")}`,
      );
    return machine;
  }

  /**
   * A namespace on the lab bridge for the caller's servers (PXE, callback API, SSH client),
   * routed to the machines' subnet when they sit behind a relay.
   */
  async addHost(name: string, hostOctet: number): Promise<NetHost> {
    const host = await this.network.addHost(name, hostOctet);
    await this.relayed?.relay.routeFrom(host);
    return host;
  }

  /** Stops every machine, the gate, the relay and the router, and removes the namespaces. */
  async destroy(): Promise<void> {
    await teardown(this.network, this.router, this.machines, this.bmcs, this.gate, this.relayed);
  }
}

async function teardown(
  network: VirtualNetwork,
  router: HomeRouter | undefined,
  machines: readonly QemuMachine[],
  bmcs: readonly SimulatedBmc[],
  gate: WolGate | undefined,
  relayed: { network: VirtualNetwork; relay?: DhcpRelay } | undefined,
): Promise<void> {
  await gate?.stop();
  await Promise.allSettled([...machines, ...bmcs].map((machine) => machine.stop()));
  await relayed?.relay?.stop();
  await router?.stop();
  await relayed?.network.destroy();
  await network.destroy();
}

function hostOctetOf(address: string): number {
  return Number(address.split(".").at(-1));
}

function checkUnique(machines: readonly LabMachineSpec[]): void {
  for (const key of ["name", "mac"] as const) {
    const seen = new Set<string>();
    for (const machine of machines) {
      const value = machine[key].toLowerCase();
      if (seen.has(value))
        throw new LabConfigError(
          `two lab machines share the ${key} "${machine[key]}"; give each machine its own`,
        );
      seen.add(value);
    }
  }
}

async function probeAccelerator(cacheDir = defaultCacheDir()): Promise<Accelerator> {
  const kernel = await fetchKernel({ cacheDir });
  return chooseAccelerator({ kernel: kernel.vmlinuz, cacheDir });
}

async function createBlankDisk(path: string, sizeMiB: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  const handle = await open(path, "w");
  try {
    await handle.truncate(sizeMiB * MIB);
  } finally {
    await handle.close();
  }
}

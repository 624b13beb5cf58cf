/**
 * Holds lab machines powered off until a Wake-on-LAN magic packet for their MAC crosses the
 * lab bridge, then powers them on, like a NIC with WoL armed. A small listener process runs
 * inside the lan namespace (where the bridge is) on UDP 9 and 7; the bridge gets an address
 * there so subnet-directed broadcasts (what senders use) are delivered to it, not only
 * 255.255.255.255. Packets are decoded here, in the parent, by parseMagicPacket.
 */
import { execa, type ResultPromise } from "execa";
import { setTimeout as sleep } from "node:timers/promises";
import { LabError, MagicPacketError } from "./errors.js";
import { onLines } from "./lines.js";
import { parseMagicPacket } from "./magic-packet.js";
import type { VirtualNetwork } from "./netns.js";

/** Something that can be powered on: a QemuMachine, or a test double. */
export interface Wakeable {
  readonly name: string;
  readonly mac: string;
  /** Only an "off" machine is woken; powerOn() must leave "off" before its first await. */
  readonly state: string;
  powerOn(): Promise<void>;
}

export interface WakeEvent {
  readonly machine: string;
  readonly mac: string;
  /** Sender as "address:port". */
  readonly from: string;
  readonly port: number;
  /** false when the machine was already on (a repeated packet changes nothing). */
  readonly poweredOn: boolean;
  readonly at: Date;
}

export interface IgnoredPacket {
  readonly from: string;
  readonly port: number;
  readonly reason: string;
}

export interface WolGateOptions {
  readonly network: VirtualNetwork;
  readonly machines: readonly Wakeable[];
  /** SecureOn passwords (hex) by MAC: a packet for that MAC must carry it. */
  readonly passwords?: Readonly<Record<string, string>>;
  /** Last octet of the bridge's address in the lab subnet (default 254). */
  readonly bridgeOctet?: number;
  readonly onWake?: (event: WakeEvent) => void;
  readonly onIgnored?: (packet: IgnoredPacket) => void;
}

/** The UDP ports WoL senders use: 9 (discard) by convention, 7 (echo) by some tools. */
export const WOL_PORTS = [9, 7] as const;
const DEFAULT_BRIDGE_OCTET = 254;
const LISTENER_READY_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

const LISTENER_SOURCE = `
const dgram = require("node:dgram");
let bound = 0;
for (const port of process.argv.slice(1).map(Number)) {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
  socket.on("message", (message, remote) => {
    process.stdout.write(JSON.stringify({ port, from: remote.address + ":" + remote.port, hex: message.toString("hex") }) + "\\n");
  });
  socket.bind(port, "0.0.0.0", () => { if (++bound === process.argv.length - 1) process.stdout.write("listening\\n"); });
}
`;

export class WolGate {
  readonly wakes: WakeEvent[] = [];
  readonly ignored: IgnoredPacket[] = [];
  readonly #options: WolGateOptions;
  readonly #byMac: Map<string, Wakeable>;
  #process: ResultPromise | undefined;

  private constructor(options: WolGateOptions) {
    this.#options = options;
    this.#byMac = new Map(options.machines.map((machine) => [machine.mac.toLowerCase(), machine]));
  }

  static async start(options: WolGateOptions): Promise<WolGate> {
    const gate = new WolGate(options);
    await options.network.addBridgeAddress(options.bridgeOctet ?? DEFAULT_BRIDGE_OCTET);
    await gate.#listen();
    return gate;
  }

  async stop(): Promise<void> {
    this.#process?.kill("SIGTERM");
    await this.#process;
  }

  async #listen(): Promise<void> {
    const [file, args] = this.#options.network.lanArgv(process.execPath, [
      "-e",
      LISTENER_SOURCE,
      ...WOL_PORTS.map(String),
    ]);
    const child = execa(file, args, { reject: false, stdin: "ignore" });
    this.#process = child;
    let ready = false;
    onLines(child.stdout, (line) => {
      if (line === "listening") ready = true;
      else if (line)
        void this.#receive(JSON.parse(line) as { port: number; from: string; hex: string });
    });
    let exited = false;
    void child.then(() => (exited = true));
    const deadline = Date.now() + LISTENER_READY_TIMEOUT_MS;
    while (!ready) {
      if (exited || Date.now() > deadline) {
        child.kill("SIGKILL");
        const result = await child;
        throw new LabError(
          `the Wake-on-LAN listener in namespace ${this.#options.network.lan} did not start ` +
            `(is UDP ${WOL_PORTS.join("/")} taken there?): ${String(result.stderr ?? "")}`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  async #receive(datagram: { port: number; from: string; hex: string }): Promise<void> {
    const { port, from } = datagram;
    const ignore = (reason: string) => {
      const packet = { from, port, reason };
      this.ignored.push(packet);
      this.#options.onIgnored?.(packet);
    };
    let packet;
    try {
      packet = parseMagicPacket(Buffer.from(datagram.hex, "hex"));
    } catch (error) {
      if (error instanceof MagicPacketError) return ignore(error.message);
      throw error;
    }
    const machine = this.#byMac.get(packet.mac);
    if (!machine) return ignore(`magic packet for ${packet.mac}, which is no machine of this lab`);
    const expected = this.#options.passwords?.[packet.mac]?.toLowerCase();
    if (expected !== undefined && packet.password !== expected)
      return ignore(`magic packet for ${packet.mac} without its SecureOn password`);
    const poweredOn = machine.state === "off";
    if (poweredOn) await machine.powerOn();
    const event = { machine: machine.name, mac: packet.mac, from, port, poweredOn, at: new Date() };
    this.wakes.push(event);
    this.#options.onWake?.(event);
  }
}

/**
 * Sends one magic packet by UDP broadcast. The socket edge of the wol module: one packet per
 * call; repeating until the machine shows up (packets get lost, NICs wake slowly) is the
 * caller's loop.
 */
import { createSocket } from "node:dgram";
import type { NetbootEvents } from "../events.js";
import { parseMac } from "../mac.js";
import { magicPacket, type SecureOnPassword } from "./magic-packet.js";

/** The discard port, which most tools and NICs use; 7 (echo) is the other common one. */
export const WAKE_ON_LAN_PORT = 9;

export interface WakeOnLanOptions {
  readonly mac: string;
  /** Usually broadcastAddressOf(interface); any IPv4 address works (a unicast relay). */
  readonly broadcastAddress: string;
  /** Default WAKE_ON_LAN_PORT (9). */
  readonly port?: number;
  readonly password?: SecureOnPassword;
  readonly events?: NetbootEvents;
}

export async function sendWakeOnLan(options: WakeOnLanOptions): Promise<void> {
  const mac = parseMac(options.mac);
  const port = options.port ?? WAKE_ON_LAN_PORT;
  const packet = magicPacket(mac, options.password);
  const socket = createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, () => {
        socket.setBroadcast(true);
        socket.send(packet, port, options.broadcastAddress, (error) =>
          error ? reject(error) : resolve(),
        );
      });
    });
  } finally {
    socket.close();
  }
  options.events?.emit({ type: "wol.sent", mac, address: options.broadcastAddress, port });
}

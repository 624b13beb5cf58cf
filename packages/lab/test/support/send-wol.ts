/** Sends a Wake-on-LAN magic packet over UDP from inside a test namespace. */
import type { NetHost } from "../../src/netns.js";

const SENDER_SOURCE = `
const dgram = require("node:dgram");
const [address, port, hex] = process.argv.slice(1);
const socket = dgram.createSocket("udp4");
socket.bind(() => {
  socket.setBroadcast(true);
  socket.send(Buffer.from(hex, "hex"), Number(port), address, (error) => {
    socket.close();
    if (error) { console.error(error.message); process.exit(1); }
  });
});
`;

export function magicPacket(mac: string, password = ""): Buffer {
  const macBytes = Buffer.from(mac.replaceAll(":", ""), "hex");
  return Buffer.concat([
    Buffer.alloc(6, 0xff),
    ...Array.from({ length: 16 }, () => macBytes),
    Buffer.from(password, "hex"),
  ]);
}

export async function sendUdp(from: NetHost, address: string, port: number, payload: Buffer) {
  await from.run(process.execPath, [
    "-e",
    SENDER_SOURCE,
    address,
    String(port),
    payload.toString("hex"),
  ]);
}

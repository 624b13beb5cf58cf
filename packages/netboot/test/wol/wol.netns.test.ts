import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualNetwork } from "../../../lab/src/netns.js";
import { magicPacket } from "../../src/wol/magic-packet.js";

const SENDER = fileURLToPath(new URL("./fixtures/send-wol.ts", import.meta.url));
const MAC = "52:54:00:77:00:01";
const PASSWORD = "01:23:45:67:89:ab";

describe("Wake-on-LAN on a virtual network", () => {
  let network: VirtualNetwork | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await network?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("broadcasts the exact magic packet, with and without SecureOn, to the subnet on UDP 9", async () => {
    network = await VirtualNetwork.create({ subnet: "10.77.9" });
    const sender = await network.addHost("wol", 10);
    dir = await mkdtemp(path.join(tmpdir(), "netboot-wol-"));
    const capture = path.join(dir, "wol.pcap");

    const [tcpdump, tcpdumpArgs] = network.lanArgv("tcpdump", [
      ...["-i", network.bridge, "-U", "-n", "-c", "2", "-w", capture, "udp"],
    ]);
    const capturing = execa(tcpdump, tcpdumpArgs, { reject: false, timeout: 60_000 });
    await new Promise<void>((resolve, reject) => {
      capturing.stderr?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("listening on")) resolve();
      });
      // After "listening on", this rejection of a settled promise is a no-op.
      void capturing.then(({ stderr }) =>
        reject(new Error(`tcpdump stopped before capturing: ${String(stderr)}`)),
      );
    });

    const plain = await sender.run(process.execPath, ["--import", "tsx", SENDER, "eth0", MAC]);
    const secure = await sender.run(process.execPath, [
      ...["--import", "tsx", SENDER, "eth0", MAC, PASSWORD],
    ]);
    expect(JSON.parse(String(plain.stdout))).toMatchObject({
      type: "wol.sent",
      mac: MAC,
      address: "10.77.9.255",
      port: 9,
    });
    expect(String(secure.stdout)).toContain('"wol.sent"');
    await capturing;

    // Wireshark's own decoder reads the frames back: broadcast at layer 2, the subnet's
    // broadcast address, port 9, and its WOL dissector finds our MAC sixteen times. The payload
    // is compared byte for byte (that dissector shows SecureOn passwords garbled).
    const { stdout } = await execa("tshark", [
      ...["-r", capture, "-T", "fields", "-E", "separator=|"],
      ...["-e", "eth.dst", "-e", "ip.dst", "-e", "udp.dstport", "-e", "wol.mac"],
      ...["-e", "udp.payload"],
    ]);
    const frames = stdout
      .trim()
      .split("\n")
      .map((line) => line.split("|"));
    const header = ["ff:ff:ff:ff:ff:ff", "10.77.9.255", "9", Array(16).fill(MAC).join(",")];
    expect(frames).toEqual([
      [...header, magicPacket(MAC).toString("hex")],
      [...header, magicPacket(MAC, PASSWORD).toString("hex")],
    ]);
  });
});

/**
 * The hostile-network suite (issue 11, docs/security.md): the REAL `metal lab up` runs the real
 * `metal install` in its namespaces with one genuine QEMU machine (node2, BIOS + iPXE) while two
 * attacker namespaces on the same bridge (10.77.0.66 and .67) use curl and raw UDP against it:
 * script fetches without a PXE exchange (takeover), repeated fetches (token rotation), a
 * 3000-MAC DHCP flood, callbacks from the wrong address and naming another host's address,
 * oversized facts, and a second requester for one MAC (conflict). node1 is in the inventory but
 * has no machine: it is the host the attackers try to take. The genuine machine still installs
 * to `ready`; node1 is never installed and ends in a visible conflict.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readUnknownMachines } from "../../src/boot/unknown-machines.js";
import { labPaths } from "../../src/lab/lab-run.js";
import { readStateFile } from "../../src/state/file-store.js";
import { CLI, labDown } from "../helpers/lab-cli.js";

const LAB_INVENTORY = new URL("../../../../examples/lab.toml", import.meta.url).pathname;
const FLOOD = new URL("./support/mac-flood.entry.ts", import.meta.url).pathname;
const PXE_DHCP = new URL("../install/support/pxe-dhcp.entry.ts", import.meta.url).pathname;
const PREFIX = "mhost";
const SERVER = "http://10.77.0.2:8080";
const VICTIM = { name: "node1", mac: "52:54:00:77:00:01", address: "10.77.0.11" };
const GENUINE = { name: "node2", mac: "52:54:00:77:00:02", address: "10.77.0.12" };
const ATTACKER_OCTETS = [66, 67] as const;
const FLOODED_MACS = 3000;
const OVERSIZED_POSTS = 50;
const SUITE_TIMEOUT_MS = 12 * 60 * 1000;
const POLL_MS = 300;
const GIB = 1024 ** 3;
const ATTACKER_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttackerAttackerAttackerAttackerAttacker00 x@evil";

interface Attacker {
  readonly address: string;
  run(command: string, args: readonly string[]): Promise<string>;
}

let work: string;
let lab: ResultPromise<{ all: true; reject: false; encoding: "utf8" }>;
let output = "";

/** Two hosts (node1 without a machine, node2 BIOS); the lab installs node2 for real. */
async function hostileInventory(): Promise<string> {
  const source = await readFile(LAB_INVENTORY, "utf8");
  const [head = "", ...blocks] = source.split(/\n(?=\[\[)/);
  const kept = blocks.filter(
    (block) =>
      !block.includes('name = "node3"') &&
      !(block.startsWith("[[lab.machines]]") && !block.includes('host = "node2"')),
  );
  const file = path.join(work, "hostile.toml");
  await writeFile(file, [head, ...kept].join("\n"));
  return file;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + SUITE_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** An attacker namespace on the lab's bridge; named with the lab's prefix so lab down removes it. */
async function addAttacker(labId: string, lan: string, octet: number): Promise<Attacker> {
  const namespace = `${labId}atk${octet}`;
  const outer = `vh${process.pid % 100000}${octet}`;
  const ip = (...args: string[]) => execa("ip", args);
  await ip("netns", "add", namespace);
  await ip("-n", namespace, "link", "set", "lo", "up");
  await ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", namespace);
  await ip("link", "set", outer, "netns", lan);
  await ip("-n", lan, "link", "set", outer, "master", "br0", "up");
  await ip("-n", namespace, "addr", "add", `10.77.0.${octet}/24`, "dev", "eth0");
  await ip("-n", namespace, "link", "set", "eth0", "up");
  await ip("-n", namespace, "route", "add", "255.255.255.255/32", "dev", "eth0");
  return {
    address: `10.77.0.${octet}`,
    run: async (command, args) =>
      String(
        (await execa("ip", ["netns", "exec", namespace, command, ...args], { reject: false }))
          .stdout,
      ),
  };
}

/** `STATUS BODY` of a curl from the attacker. */
async function curl(
  attacker: Attacker,
  args: readonly string[],
): Promise<{ status: number; body: string }> {
  const text = await attacker.run("curl", ["-s", "-m", "10", "-w", "\n%{http_code}", ...args]);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

const scriptOf = (attacker: Attacker, mac: string) =>
  curl(attacker, [`${SERVER}/boot/${mac}.ipxe`]);

function facts(ip: string, diskPath = "/dev/vda") {
  return JSON.stringify({
    agent: "evil/1",
    mac: VICTIM.mac,
    ip,
    sshHostKey: ATTACKER_KEY,
    firmware: "bios",
    memoryBytes: GIB,
    disks: [{ name: "vda", path: diskPath, sizeBytes: 8 * GIB }],
  });
}

let bodies = 0;

/** The installer callback with `body` (written to a file the attacker's curl reads). */
async function callback(attacker: Attacker, token: string, body: string) {
  const file = path.join(work, `body-${bodies++}.json`);
  await writeFile(file, body);
  return curl(attacker, [
    "-X",
    "POST",
    "-H",
    `Authorization: Bearer ${token}`,
    "-H",
    "Content-Type: application/json",
    "--data-binary",
    `@${file}`,
    `${SERVER}/callback/v1/installer`,
  ]);
}

/** The PXE DHCPREQUEST a machine broadcasts for `address`, forged from the attacker. */
async function forgeDhcp(attacker: Attacker, mac: string): Promise<void> {
  await attacker.run(process.execPath, [
    "--import",
    "tsx",
    PXE_DHCP,
    JSON.stringify({ mac, address: attacker.address }),
  ]);
}

async function eventLines(): Promise<string[]> {
  const text = await readFile(path.join(labPaths(work).state, "events.jsonl"), "utf8").catch(
    () => "",
  );
  return text.split("\n").filter(Boolean);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "metal-hostile-"));
});

afterAll(async () => {
  lab?.kill("SIGTERM");
  await lab?.catch(() => undefined);
  await labDown(work, PREFIX);
  await rm(work, { recursive: true, force: true });
});

describe("metal install on a hostile LAN", () => {
  it(
    "installs the genuine machine to ready while attackers try takeover, token rotation, a MAC flood, wrong-address and oversized callbacks and a second requester; none of it installs anything else",
    async () => {
      const inventory = await hostileInventory();
      lab = execa(
        "node",
        [
          CLI,
          "lab",
          "up",
          "--inventory",
          inventory,
          "--work-dir",
          work,
          "--namespace-prefix",
          PREFIX,
          "--down-after",
          "--json",
        ],
        { all: true, reject: false, encoding: "utf8" },
      );
      lab.all?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      const record = await until("the lab record", async () =>
        readFile(labPaths(work).record, "utf8")
          .then((text) => JSON.parse(text) as { lanNamespace: string })
          .catch(() => undefined),
      );
      const labId = record.lanNamespace.replace(/lan$/, "");
      const [attacker, second] = await Promise.all(
        ATTACKER_OCTETS.map((octet) => addAttacker(labId, record.lanNamespace, octet)),
      );
      if (!attacker || !second) throw new Error("no attackers");
      await until("metal serving HTTP", async () =>
        (await scriptOf(attacker, VICTIM.mac)).status > 0 ? true : undefined,
      );

      // 1. Takeover: a script fetch without the MAC's own PXE exchange gets no token.
      for (const mac of [VICTIM.mac, GENUINE.mac]) {
        const fetched = await scriptOf(attacker, mac);
        expect(fetched.status).toBe(404);
        expect(fetched.body).not.toContain("metal.token=");
      }

      // 2. Rotation: the genuine machine's script fetched again and again from elsewhere.
      let rotating = true;
      const rotations = (async () => {
        let fetches = 0;
        while (rotating) {
          const fetched = await scriptOf(attacker, GENUINE.mac);
          expect(fetched.body).not.toContain("metal.token=");
          fetches++;
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
        return fetches;
      })();

      // 5. Unknown-MAC flood: 3000 DISCOVERs from made-up MACs.
      await attacker.run(process.execPath, [
        "--import",
        "tsx",
        FLOOD,
        JSON.stringify({ count: FLOODED_MACS }),
      ]);

      // 3. The attacker forges node1's PXE DHCP and is its first requester: it gets a token
      // (MAC trust's residual risk, docs/security.md), but the callback must come from the
      // address its facts name, and that may not be another host's, the VIP or the gateway.
      const token = await until("node1's token for the forged exchange", async () => {
        await forgeDhcp(attacker, VICTIM.mac);
        return /metal\.token=(\S+)/.exec((await scriptOf(attacker, VICTIM.mac)).body)?.[1];
      });
      const linesBefore = (await eventLines()).length;
      for (const target of [GENUINE.address, "10.77.0.10", "10.77.0.1", "10.77.0.2"]) {
        const refused = await callback(attacker, token, facts(target));
        expect(refused.status, refused.body).toBe(403);
        expect(refused.body).not.toContain("/dev/vda");
      }

      // 5b. Oversized facts, many times: 400, and the event log does not grow with them.
      for (let i = 0; i < OVERSIZED_POSTS; i++) {
        const huge = await callback(
          attacker,
          token,
          facts(attacker.address, `/dev/${"x".repeat(100_000)}`),
        );
        expect(huge.status).toBe(400);
      }
      const added = (await eventLines()).slice(linesBefore);
      expect(added.length).toBeLessThanOrEqual(3);
      for (const line of added) expect(line.length).toBeLessThan(2000);

      // 4. A second requester for node1, also named by a forged PXE exchange: a conflict.
      await forgeDhcp(second, VICTIM.mac);
      const secondFetch = await scriptOf(second, VICTIM.mac);
      expect(secondFetch.body).not.toContain("metal.token=");
      const state = await readStateFile(path.join(labPaths(work).state, "state.json"));
      expect(state.hosts.node1?.phase).toBe("failed");
      expect(state.hosts.node1?.failure?.reason).toContain(
        `first ${attacker.address}, then ${second.address}`,
      );
      const status = await execa(
        "node",
        [CLI, "status", "--inventory", path.join(work, "cluster.toml")],
        {
          reject: false,
        },
      );
      expect(status.stdout).toContain("installer conflict");
      // The first requester's token is worthless now.
      expect((await callback(attacker, token, facts(attacker.address))).status).toBe(401);

      // The genuine machine installs to ready through all of this; metal exits 1 for node1.
      await until("metal install to finish", async () =>
        output.includes("metal install exited with code") ? true : undefined,
      );
      rotating = false;
      expect(await rotations).toBeGreaterThan(0);
      expect(output).toContain("metal lab: metal install exited with code 1");
      const final = await readStateFile(path.join(labPaths(work).state, "state.json"));
      expect(final.hosts.node2?.phase, output).toBe("ready");
      expect(final.hosts.node1?.phase).toBe("failed");
      expect(final.hosts.node1?.installer).toBeUndefined();
      const logs = await readdir(path.join(labPaths(work).state, "logs"));
      expect(logs).toContain("node2.log");
      expect(logs).not.toContain("node1.log");

      // The flood stayed off the state: no record, no event; a capped list in memory.
      expect(Object.keys(final)).not.toContain("unknownMachines");
      expect((await eventLines()).some((line) => line.includes("unknown.seen"))).toBe(false);
      const unknown = await readUnknownMachines(labPaths(work).state);
      expect(unknown.machines.length).toBeLessThanOrEqual(64);
      expect(unknown.evicted).toBeGreaterThan(0);
    },
    SUITE_TIMEOUT_MS,
  );
});

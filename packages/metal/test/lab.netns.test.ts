/**
 * The virtual lab end to end: `metal lab up` builds three QEMU machines (node1 UEFI with OVMF's
 * own PXE, node2 and node3 BIOS with iPXE), wakes them with Wake-on-LAN through the real
 * `metal install`, installs each over SSH, and sees each installed system call back from its
 * disk. Then a rerun of `metal install` exits 0 at once and installs nothing.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { VirtualNetwork } from "lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labPaths } from "../src/lab/lab-run.js";
import { readStateFile } from "../src/state/file-store.js";

const CLI = new URL("../dist/cli.js", import.meta.url).pathname;
const PREFIX = "mlabt";
const LAB_TIMEOUT_MS = 10 * 60 * 1000;
const HOSTS = ["node1", "node2", "node3"];

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "metal-lab-e2e-"));
});

afterAll(async () => {
  await execa("node", [CLI, "lab", "down", "--work-dir", work, "--namespace-prefix", PREFIX], {
    reject: false,
  });
  await rm(work, { recursive: true, force: true });
});

async function namespacesLeft(): Promise<string[]> {
  const { stdout } = await execa("ip", ["netns", "list"]);
  return stdout.split("\n").filter((line) => line.startsWith(PREFIX));
}

describe("metal lab", () => {
  it(
    "installs a UEFI and two BIOS machines through to ready, removes the lab, and a rerun of metal install exits 0 at once",
    async () => {
      const lab = await execa(
        "node",
        [CLI, "lab", "up", "--work-dir", work, "--namespace-prefix", PREFIX, "--down-after"],
        { reject: false, all: true, encoding: "utf8" },
      );
      expect(lab.exitCode, lab.all).toBe(0);
      expect(lab.all).toContain("all 3 hosts ready");
      expect(lab.all).toContain("uefi-x64 boots ipxe.efi");
      expect(await namespacesLeft()).toEqual([]);

      const paths = labPaths(work);
      const stateFile = join(paths.state, "state.json");
      const before = await readStateFile(stateFile);
      for (const host of HOSTS) {
        expect(before.hosts[host]).toMatchObject({ phase: "ready", attempt: 1 });
        const log = await readFile(join(paths.state, "logs", `${host}.log`), "utf8");
        expect(log).toContain("disk written; rebooting");
      }
      for (const host of HOSTS) {
        // Its first-boot callback made it ready; the lab may stop before the console says so.
        const serial = await readFile(join(paths.machines, host, "serial.log"), "utf8");
        expect(serial).toContain(`metal-lab: installed system ${host} up`);
      }

      // The rerun runs where nothing could answer if it did serve: a namespace of its own.
      const network = await VirtualNetwork.create();
      try {
        const metal = await network.addHost("metal", 2);
        const logsBefore = await Promise.all(
          HOSTS.map((host) => readFile(join(paths.state, "logs", `${host}.log`), "utf8")),
        );
        const [file, args] = metal.argv("node", [
          CLI,
          "install",
          "--inventory",
          paths.inventory,
          "--installer",
          paths.installer,
          "--secrets-dir",
          paths.secrets,
        ]);
        const rerun = await execa(file, args, { reject: false, all: true, encoding: "utf8" });
        expect(rerun.exitCode, rerun.all).toBe(0);
        expect(rerun.all).toContain("all 3 hosts ready");
        expect(rerun.all).not.toContain("serving PXE");
        expect((await readStateFile(stateFile)).seq).toBe(before.seq);
        const logsAfter = await Promise.all(
          HOSTS.map((host) => readFile(join(paths.state, "logs", `${host}.log`), "utf8")),
        );
        expect(logsAfter).toEqual(logsBefore);
      } finally {
        await network.destroy();
      }
    },
    LAB_TIMEOUT_MS,
  );
});

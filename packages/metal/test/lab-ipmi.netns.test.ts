/**
 * IPMI for real in the virtual lab: a one-machine lab whose host says
 * `power = { driver = "ipmi", address = … }` and whose lab machine has `bmc = "ipmi"`. OpenIPMI's
 * ipmi_sim answers on that address inside the lab's namespaces and owns the QEMU machine; there
 * is no Wake-on-LAN listener for it. `metal install` powers it on through the BMC with real
 * ipmitool; its first boot is made to hang (the QEMU the BMC started is frozen with SIGSTOP
 * before its firmware sends DHCP), so metal power-cycles it through the BMC after the lab's DHCP
 * timeout, and the second boot reaches ready. Then `metal power` reads and changes its power.
 * A second machine, BIOS with Wake-on-LAN, is installed beside it. Last, one
 * `metal reinstall node2 node1 --yes` installs both again (attempt 2): node2 over SSH with the
 * pinned key (its boot sector is wiped, it falls through to PXE), node1 through its BMC (real
 * ipmitool sets the one-time PXE boot flag, ipmi_sim's chassis program starts QEMU with its NIC
 * first, once).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { LAB_CLUSTER_AND_NETWORK } from "./helpers/inventory-toml.js";
import {
  CLI,
  labDown,
  metalIn,
  namespacesLeft,
  reinstallIn,
  waitForLine,
} from "./helpers/lab-cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labPaths } from "../src/lab/lab-run.js";
import { readStateFile } from "../src/state/file-store.js";

const PREFIX = "mlabi";
const LAB_TIMEOUT_MS = 20 * 60 * 1000;
const BMC_ADDRESS = "10.77.0.111";

const INVENTORY = `${LAB_CLUSTER_AND_NETWORK}

[install]
root_size = "1G"

[[hosts]]
name = "node1"
mac = "52:54:00:77:00:01"
ip = "10.77.0.11/24"
role = "server"
init = true
disk = "/dev/vda"
power = { driver = "ipmi", address = "${BMC_ADDRESS}" }

[[hosts]]
name = "node2"
mac = "52:54:00:77:00:02"
ip = "10.77.0.12/24"
role = "agent"
disk = "/dev/vda"

[[lab.machines]]
host = "node1"
firmware = "bios"
disk_size = "4G"
bmc = "ipmi"

[[lab.machines]]
host = "node2"
firmware = "bios"
disk_size = "4G"
`;

let work: string;

/** Freezes the first QEMU the BMC starts, as a machine hung in POST; resolves with its pid. */
async function hangFirstBoot(pidFile: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
    if (pid > 0) {
      process.kill(pid, "SIGSTOP");
      return pid;
    }
    if (Date.now() > deadline) throw new Error(`${pidFile} did not appear`);
    await sleep(20);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "metal-lab-ipmi-"));
  await writeFile(join(work, "lab-ipmi.toml"), INVENTORY);
});

afterAll(async () => {
  await labDown(join(work, "lab"), PREFIX);
  await rm(work, { recursive: true, force: true });
});

describe("metal lab with a simulated IPMI BMC", () => {
  it(
    "powers a machine through ipmi_sim with real ipmitool, power-cycles its hung first boot, installs it to ready, reads and changes its power with metal power, reinstalls in one run a BIOS machine over SSH and the BMC machine through its one-time PXE boot flag",
    async () => {
      const labDir = join(work, "lab");
      const lab = execa(
        "node",
        [
          CLI,
          "lab",
          "up",
          "--inventory",
          join(work, "lab-ipmi.toml"),
          "--work-dir",
          labDir,
          "--namespace-prefix",
          PREFIX,
        ],
        { reject: false, all: true, encoding: "utf8" },
      );
      let output = "";
      lab.all?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      const paths = labPaths(labDir);
      const frozen = await hangFirstBoot(join(paths.machines, "node1", "qemu.pid"), LAB_TIMEOUT_MS);
      await waitForLine(() => output, "metal install exited with code", LAB_TIMEOUT_MS);
      expect(output).toContain("metal lab: metal install exited with code 0");
      expect(output).toContain(`node1 bios with a BMC at ${BMC_ADDRESS}`);

      const state = await readStateFile(join(paths.state, "state.json"));
      expect(state.hosts.node1).toMatchObject({ phase: "ready", attempt: 1 });
      const steps = (await readFile(join(paths.state, "events.jsonl"), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { host?: string; step?: string })
        .filter((event) => event.host === "node1" && event.step !== undefined)
        .map((event) => event.step);
      expect(steps).not.toContain("Wake-on-LAN sent");
      expect(steps).toContain(`powered on through its BMC at ${BMC_ADDRESS}`);
      expect(steps).toContain("power cycle 1 of 2: no DHCP packet within 45 s of power-on");
      // The hung QEMU was ended by the BMC's power cycle; a new one booted.
      expect(() => process.kill(frozen, 0)).toThrow();
      const serial = await readFile(join(paths.machines, "node1", "serial.log"), "utf8");
      expect(serial).toContain("metal-lab: installed system node1 up");

      // The operator's view, from metal's namespace on the lab bridge.
      const record = JSON.parse(await readFile(paths.record, "utf8")) as { metalNamespace: string };
      const power = (action: string) =>
        metalIn(record.metalNamespace, [
          "power",
          "node1",
          action,
          "--inventory",
          paths.inventory,
          "--secrets-dir",
          paths.secrets,
        ]);
      const on = await power("status");
      expect([on.exitCode, on.stdout], on.all).toEqual([0, "node1: on"]);
      const off = await power("off");
      expect(off.exitCode, off.all).toBe(0);
      const deadline = Date.now() + 30_000;
      let status = await power("status");
      while (status.exitCode !== 3 && Date.now() < deadline) status = await power("status");
      expect([status.exitCode, status.stdout], status.all).toEqual([3, "node1: off"]);

      // Reinstall both in one run, from the same namespace: the Wake-on-LAN BIOS machine over
      // SSH, the BMC machine (off since metal power off) through its BMC.
      expect(state.hosts.node2).toMatchObject({ phase: "ready", attempt: 1 });
      const reinstall = await reinstallIn(record.metalNamespace, paths, ["node2", "node1"]);
      expect(reinstall.exitCode, reinstall.all).toBe(0);
      expect(reinstall.all).toContain(
        "node2: boot sector of /dev/vda wiped over SSH and rebooted: the firmware falls through to the network",
      );
      expect(reinstall.all).toContain(
        "node1: one-time PXE boot set through the BMC (ipmi) and power cycled",
      );
      const after = await readStateFile(join(paths.state, "state.json"));
      for (const host of ["node1", "node2"]) {
        expect(after.hosts[host]).toMatchObject({ phase: "ready", attempt: 2 });
        const serial = await readFile(join(paths.machines, host, "serial.log"), "utf8");
        expect(serial.split(`metal-lab: installed system ${host} up`).length - 1).toBe(2);
      }
      // The flag was used once: the BMC holds no boot device any more.
      const bmc = JSON.parse(
        await readFile(join(paths.secrets, "hosts", "node1", "bmc.json"), "utf8"),
      ) as { username: string; password: string };
      const flags = await execa(
        "ip",
        [
          "netns",
          "exec",
          record.metalNamespace,
          "ipmitool",
          "-I",
          "lanplus",
          "-H",
          BMC_ADDRESS,
          "-U",
          bmc.username,
          "-E",
          "chassis",
          "bootparam",
          "get",
          "5",
        ],
        { reject: false, all: true, encoding: "utf8", env: { IPMI_PASSWORD: bmc.password } },
      );
      // Boot parameter 5 = boot flags, printed by ipmitool's ipmi_chassis_get_bootparam
      // (ipmitool/ipmitool lib/ipmi_chassis.c); "No override" is the device selector 0.
      expect(flags.all).toContain("Boot Device Selector : No override");

      const down = await labDown(labDir, PREFIX);
      expect(down.exitCode, down.all).toBe(0);
      expect((await lab).exitCode, output).toBe(0);
      expect(await namespacesLeft(PREFIX)).toEqual([]);
    },
    LAB_TIMEOUT_MS,
  );
});

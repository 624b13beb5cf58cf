/**
 * The virtual lab end to end: `metal lab up` builds three QEMU machines (node1 UEFI with OVMF's
 * own PXE, node2 BIOS with iPXE, node3 UEFI HTTP boot: OVMF with its PXE off), wakes them with
 * Wake-on-LAN through the real `metal install`, installs each over SSH, and sees each installed
 * system call back from its disk. Then a rerun of `metal install` exits 0 at once and installs
 * nothing, and `metal reinstall node1 --yes` installs the UEFI PXE machine again: over SSH,
 * efibootmgr sets BootNext to OVMF's network boot entry.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import {
  CLI,
  labDown,
  labFlags,
  metalIn,
  namespacesLeft,
  reinstallIn,
  waitForLine,
} from "./helpers/lab-cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labPaths } from "../src/lab/lab-run.js";
import { readStateFile } from "../src/state/file-store.js";

/**
 * One prefix per run, in letters (lab down reads a PID after the prefix): `lab down` removes every
 * namespace with its prefix, so a fixed one lets a concurrent run's teardown remove this lab.
 */
const PREFIX = `mlabt${String(process.pid).replace(/\d/g, (digit) => String.fromCharCode(0x61 + Number(digit)))}`;
const LAB_TIMEOUT_MS = 10 * 60 * 1000;
/** The UEFI reinstall: one more PXE boot and install of one machine (~1.5 min on an idle machine). */
const REINSTALL_TIMEOUT_MS = 5 * 60 * 1000;
const HOSTS = ["node1", "node2", "node3"];
/** examples/lab.toml's UEFI HTTP boot machine. */
const HTTP_BOOT_HOST = "node3";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "metal-lab-e2e-"));
});

afterAll(async () => {
  await labDown(work, PREFIX);
  await rm(work, { recursive: true, force: true });
});

async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("metal lab", () => {
  it(
    "installs a UEFI PXE, a BIOS and a UEFI HTTP boot machine through to ready; a rerun of metal install in the lab exits 0 at once; metal reinstall boots the UEFI PXE machine from the network once through BootNext; metal lab down removes it all",
    async () => {
      const lab = execa(
        "node",
        [CLI, "lab", "up", "--work-dir", work, "--namespace-prefix", PREFIX],
        {
          reject: false,
          all: true,
          encoding: "utf8",
        },
      );
      let output = "";
      lab.all?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      await waitForLine(() => output, "metal install exited with code", LAB_TIMEOUT_MS);
      expect(output).toContain("metal lab: metal install exited with code 0");
      expect(output).toContain("all 3 hosts ready");
      expect(output).toContain("uefi-x64 boots ipxe.efi");

      const paths = labPaths(work);
      const stateFile = join(paths.state, "state.json");
      const before = await readStateFile(stateFile);
      for (const host of HOSTS) {
        expect(before.hosts[host]).toMatchObject({ phase: "ready", attempt: 1 });
        const log = await readFile(join(paths.state, "logs", `${host}.log`), "utf8");
        expect(log).toContain("disk written; rebooting");
        // Its first-boot callback made it ready: the installed system booted from its disk.
        const serial = await readFile(join(paths.machines, host, "serial.log"), "utf8");
        expect(serial).toContain(`metal-lab: installed system ${host} up`);
      }

      // node3's firmware HTTP-booted: asked as HTTPClient, was offered only URLs (never a TFTP
      // first stage), fetched ipxe.efi over HTTP and nothing over TFTP (metal's own event log).
      const steps = (await jsonLines(join(paths.state, "events.jsonl"))).filter(
        (event) => event.host === HTTP_BOOT_HOST && event.type === "host.phase",
      );
      expect(steps.map((event) => event.step)).toContain(
        "UEFI HTTP boot: DHCP from uefi-x64 firmware",
      );
      const netboot = (await jsonLines(join(paths.state, "logs", "install.jsonl")))
        .filter((line) => line.host === HTTP_BOOT_HOST && line.kind === "netboot")
        .map((line) => String(line.msg));
      expect(netboot.some((msg) => /^DHCP DISCOVER .*HTTPClient:Arch:00016/.test(msg))).toBe(true);
      const replies = netboot.filter((msg) => /^DHCP (OFFER|ACK) /.test(msg));
      expect(replies.length).toBeGreaterThan(0);
      for (const reply of replies) expect(reply).toMatch(/ boots http:\/\//);
      expect(replies[0]).toMatch(/ boots http:\/\/\S+\/ipxe\/ipxe\.efi /);
      expect(netboot.some((msg) => /^HTTP \S+ got \S*\/ipxe\.efi \(200, /.test(msg))).toBe(true);
      expect(netboot.filter((msg) => msg.startsWith("TFTP"))).toEqual([]);

      // The rerun, where the first run ran: metal's namespace on the running lab's bridge.
      const record = JSON.parse(await readFile(paths.record, "utf8")) as { metalNamespace: string };
      const logsBefore = await Promise.all(
        HOSTS.map((host) => readFile(join(paths.state, "logs", `${host}.log`), "utf8")),
      );
      const rerun = await metalIn(record.metalNamespace, ["install", ...labFlags(paths)]);
      expect(rerun.exitCode, rerun.all).toBe(0);
      expect(rerun.all).toContain("all 3 hosts ready");
      expect(rerun.all).not.toContain("serving PXE");
      expect((await readStateFile(stateFile)).seq).toBe(before.seq);
      const logsAfter = await Promise.all(
        HOSTS.map((host) => readFile(join(paths.state, "logs", `${host}.log`), "utf8")),
      );
      expect(logsAfter).toEqual(logsBefore);

      // Reinstall the ready UEFI machine over SSH with its pinned key: the installed system's
      // efibootmgr sets BootNext to OVMF's network entry; OVMF boots it once, then its disk.
      const uefiSerial = join(paths.machines, "node1", "serial.log");
      const reinstall = await reinstallIn(record.metalNamespace, paths, ["node1"]);
      expect(reinstall.exitCode, reinstall.all).toBe(0);
      expect(reinstall.all).toMatch(
        /node1: BootNext set to Boot[0-9A-F]{4} \(network\) over SSH and rebooted/,
      );
      const reinstalled = await readStateFile(stateFile);
      expect(reinstalled.hosts.node1).toMatchObject({ phase: "ready", attempt: 2 });
      for (const host of ["node2", "node3"])
        expect(reinstalled.hosts[host]).toMatchObject({ phase: "ready", attempt: 1 });
      const serialAfter = await readFile(uefiSerial, "utf8");
      expect(serialAfter.split("metal-lab: installed system node1 up").length - 1).toBe(2);
      // OVMF started its PXE entry twice (the first install's fall-through to the network, then
      // BootNext) and its disk last: BootNext was used once and deleted.
      const started = [...serialAfter.matchAll(/BdsDxe: starting Boot[0-9A-F]{4} "([^"(]+)/g)].map(
        (match) => match[1]?.trim(),
      );
      expect(started.filter((entry) => entry === "UEFI PXEv4")).toHaveLength(2);
      expect(started.at(-1)).toBe("UEFI Misc Device");

      const down = await labDown(work, PREFIX);
      expect(down.exitCode, down.all).toBe(0);
      expect(down.all).toContain("asked metal lab");
      const up = await lab;
      expect(up.exitCode, output).toBe(0);
      expect(await namespacesLeft(PREFIX)).toEqual([]);
    },
    LAB_TIMEOUT_MS + REINSTALL_TIMEOUT_MS,
  );
});

/**
 * An aarch64 host installed end to end (ADR 0300): `metal lab up` with examples/lab-arm64.toml
 * builds the arm64 stand-in installer and installed system from Debian's arm64 packages, and the
 * real `metal install` wakes one AAVMF machine (qemu-system-aarch64, TCG), which PXE-boots
 * GRUB's network image, gets the aarch64 installer (not the x86_64 one), is written over SSH by
 * the lab's install command, reboots into BOOTAA64.EFI from its disk and calls back: `ready`.
 *
 * One machine: about a minute under TCG on a quiet two-core machine, 4–5 minutes on a busy one
 * (docs/virtual-lab.md). It also covers netboot's arm64 path (option 93 = 11 → GRUB's network
 * image → the arm64 kernel over HTTP) through the real `metal install`.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { CLI, labDown } from "./helpers/lab-cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labImages, labPaths } from "../src/lab/lab-run.js";
import { readStateFile } from "../src/state/file-store.js";

const INVENTORY = new URL("../../../examples/lab-arm64.toml", import.meta.url).pathname;
const PREFIX = "mlaba";
const LAB_TIMEOUT_MS = 12 * 60 * 1000;
const HOST = "arm1";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "metal-lab-arm64-"));
});

afterAll(async () => {
  await labDown(work, PREFIX);
  await rm(work, { recursive: true, force: true });
});

describe("metal lab with an aarch64 host", () => {
  it(
    "installs the aarch64 host with the aarch64 installer and it calls back from its disk: ready",
    async () => {
      const up = await execa(
        "node",
        [
          CLI,
          "lab",
          "up",
          "--inventory",
          INVENTORY,
          "--work-dir",
          work,
          "--namespace-prefix",
          PREFIX,
          "--down-after",
        ],
        { reject: false, all: true, encoding: "utf8" },
      );
      expect(up.exitCode, up.all).toBe(0);
      expect(up.all).toContain("all 1 hosts ready");

      const paths = labPaths(work);
      const state = await readStateFile(join(paths.state, "state.json"));
      // Only the installed system's first-boot callback makes a host ready: it booted from disk.
      expect(state.hosts[HOST]).toMatchObject({ phase: "ready", attempt: 1 });
      // The boot policy served the aarch64 installer's kernel, never the x86_64 one.
      const events = await readFile(join(paths.state, "logs", "install.jsonl"), "utf8");
      expect(events).toContain(`got ${labImages(work, "aarch64").installer}/bzImage (200`);
      expect(events).not.toContain(`${labImages(work, "x86_64").installer}/bzImage`);
      const log = await readFile(join(paths.state, "logs", `${HOST}.log`), "utf8");
      expect(log).toContain("disk written; rebooting");
      const serial = await readFile(join(paths.machines, HOST, "serial.log"), "utf8");
      expect(serial).toContain("Welcome to GRUB!");
      // Printed before its first-boot callback; what the machine prints after the reply may be
      // cut short, since `--down-after` stops it as soon as metal has seen every host ready.
      expect(serial).toContain(`metal-lab: installed system ${HOST} up`);
    },
    LAB_TIMEOUT_MS,
  );
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MachineExitedError } from "../src/errors.js";
import { QemuMachine } from "../src/qemu.js";

describe("QemuMachine.create", () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-qemu-"));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("reports QEMU's own complaint when it cannot start the machine", async () => {
    const start = QemuMachine.create({
      name: "broken",
      firmware: "bios",
      mac: "52:54:00:77:50:01",
      workDir: join(work, "broken"),
      disk: join(work, "missing-disk.img"),
      accelerator: "tcg",
    });
    await expect(start).rejects.toThrow(MachineExitedError);
    await expect(start).rejects.toThrow(/missing-disk\.img/);
  });
});

import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { lstatSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEBIAN_IPXE_DIR, inspectFirstStageDir } from "../../src/ipxe/first-stage.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "netboot-first-stage-"));
  await writeFile(path.join(dir, "undionly.kpxe"), "x".repeat(10));
  await symlink("/etc/hostname", path.join(dir, "ipxe.efi"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("inspectFirstStageDir", () => {
  it("reports which binaries are servable, with sizes and the fix for the others", async () => {
    const report = await inspectFirstStageDir(dir);
    expect(report).toEqual([
      { name: "undionly.kpxe", servable: true, size: 10 },
      { name: "ipxe.efi", servable: false, problem: expect.stringContaining("cp -L") },
      { name: "snponly.efi", servable: false, problem: expect.stringContaining("no such file") },
    ]);
  });

  it("reports a missing directory for every binary", async () => {
    const report = await inspectFirstStageDir(path.join(dir, "nope"), ["ipxe.efi"]);
    expect(report).toEqual([
      { name: "ipxe.efi", servable: false, problem: expect.stringContaining("does not exist") },
    ]);
  });

  const debianLinksIpxeEfi = lstatSync(path.join(DEBIAN_IPXE_DIR, "ipxe.efi"), {
    throwIfNoEntry: false,
  })?.isSymbolicLink();
  it.skipIf(!debianLinksIpxeEfi)(
    "flags Debian's ipxe.efi, a symlink out of /usr/lib/ipxe, as not servable",
    async () => {
      const report = await inspectFirstStageDir(DEBIAN_IPXE_DIR);
      expect(report.find((file) => file.name === "undionly.kpxe")?.servable).toBe(true);
      expect(report.find((file) => file.name === "ipxe.efi")).toMatchObject({
        servable: false,
        problem: expect.stringContaining("cp -L"),
      });
    },
  );
});

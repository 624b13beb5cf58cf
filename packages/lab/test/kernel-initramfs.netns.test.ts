import { execa } from "execa";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initPreamble } from "../src/init-script.js";
import { buildInitramfs } from "../src/initramfs.js";
import { fetchKernel, kernelCacheEntryName, LAB_MODULES, type LabKernel } from "../src/kernel.js";

describe("Debian kernel and busybox initramfs", () => {
  let work: string;
  let kernel: LabKernel;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-test-"));
    kernel = await fetchKernel();
  }, 300_000);

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("fetches vmlinuz and every lab module without touching /boot", async () => {
    expect((await stat(kernel.vmlinuz)).size).toBeGreaterThan(1_000_000);
    expect(kernel.modules.map((module) => module.name)).toHaveLength(LAB_MODULES.length);
    for (const module of [...kernel.modules, kernel.efivarfs]) {
      const header = (await readFile(module.path)).subarray(0, 4);
      expect(header.toString("latin1")).toBe("\x7fELF");
    }
  });

  it("serves a second caller from the cache", async () => {
    const again = await fetchKernel({ version: kernel.version });
    expect(again).toEqual(kernel);
  });

  it("gives two concurrent callers with an empty cache the same complete entry", async () => {
    const cacheDir = join(work, "fresh-cache");
    const [a, b] = await Promise.all([
      fetchKernel({ cacheDir, version: kernel.version }),
      fetchKernel({ cacheDir, version: kernel.version }),
    ]);
    expect(a).toEqual(b);
    expect(await readdir(cacheDir)).toEqual([kernelCacheEntryName(kernel.version, "amd64")]);
    const [cached, fresh] = await Promise.all([readFile(kernel.vmlinuz), readFile(a.vmlinuz)]);
    expect(fresh.equals(cached)).toBe(true);
  }, 300_000);

  it("builds the same initramfs twice with busybox links, modules, dropbear and files", async () => {
    const hostKey = await generateHostKey(work);
    const spec = {
      script: initPreamble({ modules: kernel.modules.map((module) => module.name), sshd: true }),
      modules: kernel.modules,
      files: [{ path: "/etc/lab-role", content: "installer\n" }],
      dropbear: { authorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest lab"], hostKey },
    };
    const first = await buildInitramfs(spec, join(work, "a.gz"));
    const second = await buildInitramfs(spec, join(work, "b.gz"));
    const [a, b] = await Promise.all([readFile(first.path), readFile(second.path)]);
    expect(a.equals(b)).toBe(true);
    expect(first.sshHostPublicKey).toMatch(/^ssh-ed25519 AAAA/);

    const { stdout } = await execa("sh", ["-c", `zcat '${first.path}' | cpio -it --quiet`]);
    const names = stdout.split("\n");
    for (const expected of [
      "init",
      "lab/init.sh",
      "bin/busybox",
      "bin/sh",
      "sbin/udhcpc",
      "lib/modules/virtio_net.ko",
      "usr/sbin/dropbear",
      "lib64/ld-linux-x86-64.so.2",
      "root/.ssh/authorized_keys",
      "etc/lab-role",
      "dev/console",
    ])
      expect(names).toContain(expected);
  });
});

async function generateHostKey(directory: string): Promise<Buffer> {
  const path = join(directory, "host_key");
  await execa("dropbearkey", ["-t", "ed25519", "-f", path]);
  return readFile(path);
}

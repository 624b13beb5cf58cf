import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { HostKeyMissingError } from "../../src/secrets/errors.js";
import {
  buildExtraFiles,
  knownHostsLine,
  removeStaleExtraFiles,
} from "../../src/secrets/extra-files.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { host, workspaceForEachTest, SOPS_TEST_TIMEOUT } from "./helpers.js";

const node1 = host("node1", 11);
const ws = workspaceForEachTest([node1]);

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

describe("buildExtraFiles", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("lays out etc/ssh/ssh_host_ed25519_key (0600) and .pub (0644) in a private temporary directory", async () => {
    const extra = await buildExtraFiles(node1, ws().secretsDir);
    try {
      const key = path.join(extra.dir, "etc/ssh/ssh_host_ed25519_key");
      expect(await readFile(key, "utf8")).toBe(
        await readFile(privatePaths(ws().secretsDir).hostKey("node1"), "utf8"),
      );
      expect(await modeOf(key)).toBe(0o600);
      expect(await modeOf(`${key}.pub`)).toBe(0o644);
      expect(await modeOf(path.dirname(extra.dir))).toBe(0o700);
      for (const dir of [extra.dir, path.join(extra.dir, "etc"), path.join(extra.dir, "etc/ssh")]) {
        expect(await modeOf(dir)).toBe(0o755);
      }
      expect(execFileSync("ssh-keygen", ["-y", "-f", key], { encoding: "utf8" })).toBe(
        await readFile(`${key}.pub`, "utf8"),
      );
    } finally {
      await extra.cleanup();
    }
    await expect(stat(path.dirname(extra.dir))).rejects.toThrow(/ENOENT/);
    await extra.cleanup();
  });

  it("adds the caller's files (the first-boot callback env) with their modes", async () => {
    const extra = await buildExtraFiles(node1, ws().secretsDir, [
      { path: "var/lib/metal/callback.env", content: "METAL_TOKEN=mt1.x\n", mode: 0o600 },
    ]);
    try {
      const env = path.join(extra.dir, "var/lib/metal/callback.env");
      expect(await readFile(env, "utf8")).toBe("METAL_TOKEN=mt1.x\n");
      expect(await modeOf(env)).toBe(0o600);
      expect(await modeOf(path.join(extra.dir, "var/lib/metal"))).toBe(0o755);
    } finally {
      await extra.cleanup();
    }
  });

  it("refuses a file path that would land outside the target's root", async () => {
    for (const bad of ["/etc/passwd", "../escape", "var/../../escape"]) {
      await expect(
        buildExtraFiles(node1, ws().secretsDir, [{ path: bad, content: "", mode: 0o600 }]),
      ).rejects.toThrow(/must be relative to \/ of the target/);
    }
  });

  it("names the fix when the host has no key yet, leaving nothing behind", async () => {
    await expect(buildExtraFiles(host("node2", 12), ws().secretsDir)).rejects.toThrow(
      HostKeyMissingError,
    );
    await expect(buildExtraFiles(host("node2", 12), ws().secretsDir)).rejects.toThrow(
      /metal secrets add-host node2/,
    );
  });
});

describe("knownHostsLine", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("pins the future host key under the host's static address and name", async () => {
    const line = await knownHostsLine(node1, ws().secretsDir);
    const published = await readFile(path.join(ws().repo, "keys/hosts/node1.pub"), "utf8");
    expect(line).toBe(`192.168.1.11,node1 ${published.split(" ").slice(0, 2).join(" ")}`);
    // ssh-keygen -F finds the pinned key for the address, as ssh will on first connect.
    const knownHosts = path.join(ws().root, "known_hosts");
    await writeFile(knownHosts, `${line}\n`);
    expect(
      execFileSync("ssh-keygen", ["-F", "192.168.1.11", "-f", knownHosts], { encoding: "utf8" }),
    ).toContain("ssh-ed25519");
  });
});

describe("removeStaleExtraFiles", () => {
  it("removes the key trees of dead metal processes and keeps those of live ones", async () => {
    const tmp = await mkdtemp(path.join(tmpdir(), "metal-stale-"));
    try {
      const dead = await execa(process.execPath, [
        "-e",
        "process.stdout.write(String(process.pid))",
      ]);
      const stale = path.join(tmp, `metal-extra-files-${dead.stdout}-node1-abc`);
      const live = path.join(tmp, `metal-extra-files-${process.pid}-node2-def`);
      const unrelated = path.join(tmp, "something-else");
      for (const dir of [stale, live, unrelated]) await mkdir(dir);
      expect(await removeStaleExtraFiles(tmp)).toEqual([stale]);
      expect((await readdir(tmp)).sort()).toEqual([path.basename(live), "something-else"].sort());
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

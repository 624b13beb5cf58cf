/**
 * `metal secrets init` as the user, then `sudo metal install`, then `metal status` as the user
 * again (issue 10, item 6). Runs as root (like the netns tests) and plays the sudo caller with
 * the unprivileged `nobody` account, through setpriv(1).
 */
import { execa } from "execa";
import { chmod, lstat, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Inventory } from "../../src/inventory/types.js";
import { resolveSecretsDir } from "../../src/secrets/layout.js";
import { FileStateStore, STATE_FILE } from "../../src/state/file-store.js";
import { invokingUser } from "../../src/state/ownership.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const NOBODY = { name: "nobody", uid: 65534, gid: 65534 };
const SUDO_AS_NOBODY = {
  SUDO_USER: NOBODY.name,
  SUDO_UID: String(NOBODY.uid),
  SUDO_GID: String(NOBODY.gid),
};
const inventory = { cluster: { name: "homelab" } } as unknown as Inventory;
const isRoot = process.geteuid?.() === 0;
/** Each test starts the real CLI, which loads every command; a busy machine needs time. */
const CLI_TEST_TIMEOUT_MS = 60_000;

/** `metal status` as the unprivileged user, the way they would type it after sudo returned. */
const statusAsNobody = (cwd: string, stateDir: string) =>
  execa(
    "setpriv",
    [
      `--reuid=${NOBODY.uid}`,
      `--regid=${NOBODY.gid}`,
      "--clear-groups",
      process.execPath,
      CLI,
      "status",
      "--state",
      stateDir,
    ],
    { cwd, reject: false, env: { HOME: "/nonexistent" } },
  );

describe("who the sudo caller is", () => {
  it("is the SUDO_* user when root runs for someone else, and nobody otherwise", () => {
    expect(invokingUser(SUDO_AS_NOBODY, 0)).toEqual(NOBODY);
    expect(invokingUser(SUDO_AS_NOBODY, 1000)).toBeUndefined();
    expect(invokingUser({ ...SUDO_AS_NOBODY, SUDO_UID: "0" }, 0)).toBeUndefined();
    expect(invokingUser({ ...SUDO_AS_NOBODY, SUDO_UID: "12; rm -rf /" }, 0)).toBeUndefined();
    expect(invokingUser({}, 0)).toBeUndefined();
  });
});

describe.skipIf(!isRoot)("the secrets directory under sudo", () => {
  it("is under the invoking user's home from their passwd entry, not root's", () => {
    const env = { SUDO_USER: "daemon", SUDO_UID: "1", SUDO_GID: "1" };
    expect(resolveSecretsDir(inventory, undefined, env)).toBe("/usr/sbin/.config/metal/homelab");
  });

  it("is under SUDO_HOME when sudo (1.9.16 and later) set it", () => {
    const env = { ...SUDO_AS_NOBODY, SUDO_HOME: "/home/alice" };
    expect(resolveSecretsDir(inventory, undefined, env)).toBe("/home/alice/.config/metal/homelab");
  });
});

describe.skipIf(!isRoot)("state written by sudo metal", () => {
  let directory: string;
  const saved = { ...process.env };

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "metal-owner-"));
    await chmod(directory, 0o755);
  });
  afterEach(async () => {
    process.env = saved;
    await rm(directory, { recursive: true, force: true });
  });

  it(
    "belongs to the invoking user once the store closes, and metal status as that user shows it",
    async () => {
      process.env = { ...saved, ...SUDO_AS_NOBODY };
      const stateDir = join(directory, ".metal");
      const store = await FileStateStore.open(stateDir);
      await store.register(["node1", "node2"]);
      await writeFile(join(stateDir, "logs-node1.log"), "install output\n", { mode: 0o600 });
      await store.close();
      process.env = saved;

      const entries = [stateDir, ...(await readdir(stateDir)).map((name) => join(stateDir, name))];
      for (const entry of entries) expect((await lstat(entry)).uid, entry).toBe(NOBODY.uid);

      const status = await statusAsNobody(directory, stateDir);
      expect(status.stderr).toBe("");
      expect(status.exitCode).toBe(0);
      expect(status.stdout).toMatch(/node1/);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    "that this user may not read is reported as a permission problem, not as a damaged file",
    async () => {
      const stateDir = join(directory, ".metal");
      const store = await FileStateStore.open(stateDir);
      await store.register(["node1"]);
      await store.close(); // no SUDO_* here: root keeps it, as a run before this fix left it
      expect((await lstat(join(stateDir, STATE_FILE))).uid).toBe(0);

      const status = await statusAsNobody(directory, stateDir);
      expect(status.exitCode).toBe(2);
      expect(status.stderr).toMatch(/permission denied/);
      expect(status.stderr).toMatch(/intact/);
      expect(status.stderr).toMatch(/sudo chown -R/);
      expect(status.stderr).not.toMatch(/backup|by hand/);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashToken } from "../../src/callback/tokens.js";
import { hostLogFile, hostWorkDir, installHost } from "../../src/install/host-install.js";
import type { Inventory } from "../../src/inventory/types.js";
import { ensureLabKeys } from "../../src/lab/lab-keys.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

const CALLBACK = "http://10.77.0.2:8080/callback/v1";
const INSTALLER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedInstallerKey root@installer";

/**
 * A stand-in install command: counts its runs, keeps what it was given (callback.env, the host
 * key, known_hosts), and fails while the count is below FAIL_UNTIL.
 */
const FAKE_INSTALL = `
count=$(( $(cat "$3/runs" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$3/runs"
cp "$1/var/lib/metal/callback.env" "$3/seen-callback.env"
cp "$1/etc/ssh/ssh_host_ed25519_key.pub" "$3/seen-host-key.pub"
cp "$2" "$3/seen-known_hosts"
# The bypass nixos-anywhere asks for, as it asks (ssh -G only prints the options, connects to
# nothing): the pinned ssh first on PATH must win over it.
ssh -G -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "root@$5" > "$3/seen-ssh-options"
# Both lines on stderr: stdout and stderr are two pipes, so their order in the merged output is
# whichever the reader drains first; on one stream "disk busy" is reliably the last line.
echo "installing $4 (run $count)" >&2
if [ "$count" -lt "$FAIL_UNTIL" ]; then echo "disk busy" >&2; exit 7; fi
echo done
`;

let f: Fixture;
let secretsDir: string;
let stateDir: string;
beforeEach(async () => {
  f = await fixture();
  secretsDir = join(f.directory, "secrets");
  stateDir = join(f.directory, "state");
  await ensureLabKeys(f.inventory, secretsDir);
  await writeFile(join(f.directory, "fake-install.sh"), FAKE_INSTALL);
  await walkTo(f.store, "node1", "pxe");
  await f.store.change("node1", {
    expect: "pxe",
    to: "installer",
    step: "test: callback accepted",
    update: () => ({
      installer: {
        ip: "10.77.0.150",
        sshHostKey: INSTALLER_KEY,
        facts: {
          agent: "test",
          mac: "52:54:00:77:00:01",
          ip: "10.77.0.150",
          sshHostKey: INSTALLER_KEY,
          firmware: "bios",
          memoryBytes: 1,
          disks: [],
        },
      },
    }),
  });
});
afterEach(() => f.cleanup());

function inventoryFailingUntil(failUntil: number, retries: number): Inventory {
  return {
    ...f.inventory,
    install: {
      ...f.inventory.install,
      retries,
      command: [
        "env",
        `FAIL_UNTIL=${failUntil}`,
        "sh",
        join(f.directory, "fake-install.sh"),
        "{extra_files}",
        "{known_hosts}",
        "{work_dir}",
        "{host}",
        "{ip}",
      ],
    },
  };
}

async function install(inventory: Inventory): Promise<void> {
  await installHost(
    {
      inventory,
      store: f.store,
      secretsDir,
      stateDir,
      callbackBaseUrl: CALLBACK,
      backOff: { baseMs: 10, maxMs: 20 },
      signal: new AbortController().signal,
    },
    inventory.hosts[0]!,
  );
}

const runs = async () =>
  Number(await readFile(join(hostWorkDir(stateDir, "node1"), "runs"), "utf8"));

describe("installing one host", () => {
  it("hands the command the host key, a callback.env with a valid first-boot token and the pinned installer key", async () => {
    await install(inventoryFailingUntil(1, 0));
    expect(f.store.host("node1")?.phase).toBe("installed");
    const work = hostWorkDir(stateDir, "node1");
    const env = await readFile(join(work, "seen-callback.env"), "utf8");
    const token = /^METAL_TOKEN=(\S+)$/m.exec(env)?.[1] ?? "";
    expect(env).toContain(`METAL_CALLBACK=${CALLBACK}\n`);
    expect(f.store.host("node1")?.tokens["first-boot"]?.sha256).toBe(hashToken(token));
    expect(await readFile(join(work, "seen-host-key.pub"), "utf8")).toBe(
      await readFile(privatePaths(secretsDir).hostPublicKey("node1"), "utf8"),
    );
    expect(await readFile(join(work, "seen-known_hosts"), "utf8")).toBe(
      "10.77.0.150 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedInstallerKey\n",
    );
  });

  it("hands the install command cluster.flake resolved against the inventory's folder, not the working directory", async () => {
    const inventory: Inventory = {
      ...f.inventory,
      cluster: { ...f.inventory.cluster, flake: "." },
      install: {
        ...f.inventory.install,
        retries: 0,
        command: ["sh", "-c", 'printf %s "$0" > "$1/seen-flake"', "{flake}", "{work_dir}"],
      },
    };
    await install(inventory);
    const seen = await readFile(join(hostWorkDir(stateDir, "node1"), "seen-flake"), "utf8");
    expect(seen).toBe(dirname(f.inventory.source));
    expect(seen).not.toBe(process.cwd());
  });

  it("runs the command with the pinned ssh first on PATH: a bypass it asks for is ignored", async () => {
    await install(inventoryFailingUntil(1, 0));
    const options = await readFile(
      join(hostWorkDir(stateDir, "node1"), "seen-ssh-options"),
      "utf8",
    );
    expect(options).toMatch(/^stricthostkeychecking true$/m);
    expect(options).toMatch(
      new RegExp(`^userknownhostsfile ${hostWorkDir(stateDir, "node1")}/known_hosts$`, "m"),
    );
    expect(options).toMatch(/^globalknownhostsfile \/dev\/null$/m);
  });

  it("retries a failed install command and ends installed when a retry succeeds", async () => {
    await install(inventoryFailingUntil(2, 2));
    expect(await runs()).toBe(2);
    expect(f.store.host("node1")?.phase).toBe("installed");
    const phases = (await f.store.history())
      .filter((event) => event.type === "host.phase" && event.host === "node1")
      .map((event) => (event.type === "host.phase" ? event.to : ""));
    expect(phases.slice(-4)).toEqual(["installing", "installer", "installing", "installed"]);
    const log = await readFile(hostLogFile(stateDir, "node1"), "utf8");
    expect(log).toContain("try 1 of 3");
    expect(log).toContain("disk busy");
    expect(log).toContain("try 2 of 3");
  });

  it("fails the host after the last retry with the exit code, last line and log in the reason", async () => {
    await install(inventoryFailingUntil(99, 1));
    expect(await runs()).toBe(2);
    const record = f.store.host("node1");
    expect(record?.phase).toBe("failed");
    expect(record?.failure?.phase).toBe("installing");
    expect(record?.failure?.reason).toContain("exit code 7");
    expect(record?.failure?.reason).toContain("disk busy");
    expect(record?.failure?.reason).toContain(hostLogFile(stateDir, "node1"));
  });
});

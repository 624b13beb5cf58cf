import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtualNetwork, type NetHost } from "metal-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.js";
import { ensureLabKeys } from "../../src/lab/lab-keys.js";
import { LAB_INVENTORY } from "../helpers.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;

/**
 * Runs the built `metal check` inside a throw-away namespace whose eth0 is on 10.77.0.0/24, as the
 * lab inventory expects; the port probes bind there, never on this machine's interfaces.
 */
describe("metal check in a network namespace", () => {
  let network: VirtualNetwork;
  let server: NetHost;
  let work: string;
  let installerDir: string;
  let inventory: string;
  let secretsDir: string;
  beforeAll(async () => {
    network = await VirtualNetwork.create();
    server = await network.addHost("srv", 2);
    work = await mkdtemp(join(tmpdir(), "metal-check-"));
    installerDir = join(work, "installer");
    await mkdir(installerDir);
    for (const name of ["bzImage", "initrd", "cmdline"])
      await writeFile(join(installerDir, name), "x");
    // The lab inventory with an install command that is on PATH (the lab's own is written by
    // metal lab; nixos-anywhere is not on this machine), and its keys.
    inventory = join(work, "cluster.toml");
    await writeFile(
      inventory,
      (await readFile(LAB_INVENTORY, "utf8")).replace(
        "[install]\n",
        '[install]\ncommand = ["sh", "-c", "exit 0", "{host}"]\n',
      ),
    );
    secretsDir = join(work, "secrets");
    await ensureLabKeys(await loadInventory(inventory), secretsDir);
  });
  afterAll(async () => {
    await network?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  const metal = (command: string, ...flags: string[]) =>
    server.run(
      process.execPath,
      [CLI, command, "--inventory", inventory, "--installer", installerDir, ...flags],
      { reject: false },
    );
  const check = (...flags: string[]) => metal("check", "--secrets-dir", secretsDir, ...flags);
  const failLines = (output: unknown) =>
    String(output)
      .split("\n")
      .filter((line) => line.startsWith("FAIL") || line.startsWith("      fix:"));

  it("passes when everything is in place, and exits 2 naming the port when TFTP's port is taken", async () => {
    const good = await check();
    expect(good.stdout).toContain("ok    interface eth0: 10.77.0.2 in 10.77.0.0/24");
    expect(good.stdout).toContain("ok    port 69/udp (TFTP): free");
    expect(good.stdout).toContain("ready to install");
    expect(good.exitCode).toBe(0);

    const [command, args] = server.argv(process.execPath, [
      "-e",
      "require('dgram').createSocket('udp4').bind(69, '0.0.0.0', () => console.log('bound'))",
    ]);
    const { spawn } = await import("node:child_process");
    const blocker = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise((resolve) => blocker.stdout.once("data", resolve));
      const bad = await check();
      expect(bad.exitCode).toBe(2);
      expect(bad.stdout).toContain("FAIL  port 69/udp (TFTP): in use by another program");
      expect(bad.stdout).toContain("fix: find it with `sudo ss -lunp 'sport = :69'`");
    } finally {
      blocker.kill("SIGKILL");
    }
  });

  it("makes metal install refuse with exactly the problems metal check lists, serving nothing", async () => {
    const noKeys = join(work, "no-keys");
    const emptyIpxe = join(work, "no-ipxe");
    await mkdir(emptyIpxe, { recursive: true });
    const flags = ["--secrets-dir", noKeys, "--ipxe-dir", emptyIpxe, "--interface", "nosuch0"];
    const checked = await metal("check", ...flags);
    expect(checked.exitCode).toBe(2);
    const problems = failLines(checked.stdout);
    expect(problems.join("\n")).toMatch(/first stages .*no-ipxe: neither undionly.kpxe/);
    expect(problems.join("\n")).toMatch(/interface nosuch0 does not exist/);
    expect(problems.join("\n")).toMatch(/keys in .*no-keys: missing/);

    const installed = await metal("install", "--state", join(work, "state"), ...flags);
    expect(installed.exitCode).toBe(2);
    expect(installed.stderr).toMatch(/3 preflight problems, nothing was started/);
    expect(failLines(installed.stderr)).toEqual(problems);
  });

  it("reads the iPXE directory from METAL_IPXE_DIR, as the devShell sets it", async () => {
    const emptyIpxe = join(work, "env-ipxe");
    await mkdir(emptyIpxe, { recursive: true });
    const result = await server.run(
      "env",
      [
        `METAL_IPXE_DIR=${emptyIpxe}`,
        process.execPath,
        CLI,
        "check",
        "--inventory",
        inventory,
        "--installer",
        installerDir,
        "--secrets-dir",
        secretsDir,
      ],
      { reject: false },
    );
    expect(result.stdout).toContain(`FAIL  first stages ${emptyIpxe}: neither`);
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtualNetwork, type NetHost } from "metal-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_INVENTORY } from "../helpers.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;

/**
 * Runs the built `metal check` inside a throw-away namespace whose eth0 is on 10.77.0.0/24, as the
 * lab inventory expects; the port probes bind there, never on this machine's interfaces.
 */
describe("metal check in a network namespace", () => {
  let network: VirtualNetwork;
  let server: NetHost;
  let installerDir: string;
  beforeAll(async () => {
    network = await VirtualNetwork.create();
    server = await network.addHost("srv", 2);
    installerDir = await mkdtemp(join(tmpdir(), "metal-check-"));
    for (const name of ["bzImage", "initrd", "cmdline"])
      await writeFile(join(installerDir, name), "x");
  });
  afterAll(async () => {
    await network?.destroy();
    await rm(installerDir, { recursive: true, force: true });
  });

  const check = () =>
    server.run(
      process.execPath,
      [CLI, "check", "--inventory", LAB_INVENTORY, "--installer", installerDir],
      { reject: false },
    );

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
});

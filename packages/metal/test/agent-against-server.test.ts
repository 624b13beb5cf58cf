/**
 * The callback agent (nix/installer/metal-agent.sh) against the real callback API of `metal
 * install` on 127.0.0.1, with the kernel command line the real boot policy makes: the two halves
 * of docs/callback-protocol.md agree, under dash with curl and under busybox.
 */
import { execa } from "execa";
import Fastify, { type FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Mac } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { wiredPolicy } from "./helpers/pxe-boot.js";
import { CALLBACK_PATH, registerCallbackRoutes } from "../src/callback/routes.js";
import { mintFirstBootToken } from "../src/callback/tokens.js";
import { fixture, walkTo, type Fixture } from "./helpers.js";
import { agentEnv, fakeMachine, SHELLS, SSH_KEY } from "./helpers/fake-machine.js";

const NODE1_MAC = "52:54:00:77:00:01";
const EXIT_REJECTED = 1;

for (const shell of SHELLS) {
  const available = await shell.available();
  if (!available)
    console.warn(`agent-against-server.test.ts: skipped ${shell.name}: not installed`);

  describe.skipIf(!available)(`metal-agent.sh under ${shell.name} against metal`, () => {
    let f: Fixture;
    let app: FastifyInstance;
    let callback: string;
    let work: string;

    beforeEach(async () => {
      f = await fixture();
      work = await mkdtemp(join(tmpdir(), "metal-agent-server-"));
      app = Fastify();
      await registerCallbackRoutes(app, {
        inventory: f.inventory,
        store: f.store,
        clock: () => f.now,
        expectedHostKey: async () => SSH_KEY,
        serverAddress: "10.77.0.2",
      });
      await app.listen({ host: "127.0.0.1", port: 0 });
      callback = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${CALLBACK_PATH}`;
    });

    afterEach(async () => {
      await app.close();
      await f.cleanup();
      await rm(work, { recursive: true, force: true });
    });

    /** node1 PXE-boots: the kernel command line its iPXE script would carry. */
    async function node1Cmdline(): Promise<string> {
      const { policy, dhcpRequest } = await wiredPolicy({
        inventory: f.inventory,
        store: f.store,
        installerDir: f.installerDir,
        callbackBaseUrl: callback,
        clock: () => f.now,
      });
      // The agent calls back from 127.0.0.1, so that is where this machine PXE-booted.
      dhcpRequest(NODE1_MAC, "127.0.0.1");
      await policy({ mac: NODE1_MAC as Mac, stage: "dhcp" });
      const decision = await policy({
        mac: NODE1_MAC as Mac,
        stage: "script",
        address: "127.0.0.1",
      });
      if (decision.action !== "boot" || decision.spec.cmdline === undefined)
        throw new Error("expected node1 to get the installer");
      return decision.spec.cmdline;
    }

    interface AgentRun {
      /** The kernel command line (installer mode). */
      readonly cmdline?: string;
      /** The first-boot token `metal install` put into callback.env (first-boot mode). */
      readonly firstBootToken?: string;
    }

    async function runAgent(mode: "installer" | "first-boot", run: AgentRun) {
      const root = join(work, "root");
      await rm(root, { recursive: true, force: true });
      await fakeMachine(root, {
        callback,
        routeInterface: "lo",
        routeInterfaceMac: NODE1_MAC,
        ...(run.cmdline === undefined ? {} : { cmdline: run.cmdline }),
      });
      if (run.firstBootToken !== undefined)
        await writeFile(
          join(root, "var/lib/metal/callback.env"),
          `METAL_CALLBACK=${callback}\nMETAL_TOKEN=${run.firstBootToken}\n`,
        );
      const [file, args] = shell.argv(mode);
      return execa(file, args, {
        reject: false,
        timeout: 60_000,
        env: agentEnv(root, work, await shell.path(work)),
        extendEnv: false,
      });
    }

    it("is accepted by metal, which pins the reported host key and address", async () => {
      const result = await runAgent("installer", { cmdline: await node1Cmdline() });
      expect(result.exitCode, result.stderr).toBe(0);
      const host = f.store.host("node1");
      expect(host?.phase).toBe("installer");
      expect(host?.installer).toMatchObject({ sshHostKey: SSH_KEY, ip: "127.0.0.1" });
    });

    it("stops with the reason when metal refuses a replayed token", async () => {
      const cmdline = await node1Cmdline();
      expect((await runAgent("installer", { cmdline })).exitCode).toBe(0);
      const replay = await runAgent("installer", { cmdline });
      expect(replay.exitCode).toBe(EXIT_REJECTED);
      expect(replay.stderr).toContain("HTTP 401");
    });

    it("reports the first boot and moves the host to ready", async () => {
      expect((await runAgent("installer", { cmdline: await node1Cmdline() })).exitCode).toBe(0);
      await walkTo(f.store, "node1", "installing");
      const token = await mintFirstBootToken(f.store, "node1", () => f.now);
      await f.store.change("node1", { expect: "installing", to: "installed", step: "test" });
      const result = await runAgent("first-boot", { firstBootToken: token });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(f.store.host("node1")?.phase).toBe("ready");
    });
  });
}

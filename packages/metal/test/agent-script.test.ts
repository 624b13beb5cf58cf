/**
 * The callback agent (nix/installer/metal-agent.sh) against a small HTTP server on 127.0.0.1,
 * run by dash with curl (as in the NixOS installer) and by busybox sh with busybox wget only
 * (as in the virtual lab's stand-in initramfs), over a fake /proc, /sys and /dev tree. Checks
 * the request shape of docs/callback-protocol.md §2 and §3 and the answer table.
 */
import { execa } from "execa";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AGENT,
  agentEnv,
  BOOTIF_MAC,
  EXPECTED_DISKS,
  EXPECTED_MEMORY_BYTES,
  fakeMachine,
  ROUTE_INTERFACE_MAC,
  SHELLS,
  SSH_KEY,
  TOKEN,
} from "./helpers/fake-machine.js";
import { Output } from "./helpers/output.js";

const EXIT_REJECTED = 1;
const EXIT_NOTHING_TO_REPORT = 2;

interface Recorded {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** A "status" for startServer: take the request and never answer it. */
const NEVER_ANSWER = 0;

/** Answers each request with the next status of `statuses` (the last one repeats). */
async function startServer(statuses: readonly number[], port = 0) {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
      });
      const status = statuses[Math.min(requests.length, statuses.length) - 1] ?? 500;
      if (status === NEVER_ANSWER) return;
      const body =
        status === 200 ? { host: "node1", status: "accepted" } : { error: `answered ${status}` };
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: boundPort } = server.address() as AddressInfo;
  return {
    requests,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function freePort(): Promise<number> {
  const probe = await startServer([200]);
  await probe.close();
  return probe.port;
}

const EXPECTED_INSTALLER_FACTS = {
  agent: "metal-agent/1",
  mac: BOOTIF_MAC,
  ip: "127.0.0.1",
  hostname: "nixos",
  sshHostKey: SSH_KEY,
  firmware: "uefi",
  memoryBytes: EXPECTED_MEMORY_BYTES,
  disks: EXPECTED_DISKS,
};

const callbackOn = (port: number) => `http://127.0.0.1:${port}/callback/v1`;

for (const shell of SHELLS) {
  const available = await shell.available();
  if (!available)
    console.warn(
      `agent-script.test.ts: skipped ${shell.name}: not installed (scripts/bootstrap.sh)`,
    );

  describe.skipIf(!available)(`metal-agent.sh under ${shell.name}`, () => {
    let work: string;
    let root: string;
    let servers: { close: () => Promise<void> }[];

    beforeEach(async () => {
      work = await mkdtemp(join(tmpdir(), "metal-agent-"));
      root = join(work, "root");
      servers = [];
    });
    afterEach(async () => {
      await Promise.all(servers.map((server) => server.close()));
      await rm(work, { recursive: true, force: true });
    });

    async function serve(statuses: readonly number[], port?: number) {
      const server = await startServer(statuses, port);
      servers.push(server);
      return server;
    }

    /** Starts the agent; wrapped so that awaiting this does not wait for the agent to exit. */
    interface AgentRun {
      readonly extraEnv?: Record<string, string>;
      readonly cmdline?: string;
    }

    async function startAgent(mode: "installer" | "first-boot", port: number, run: AgentRun = {}) {
      await fakeMachine(root, {
        callback: callbackOn(port),
        routeInterface: "lo",
        ...(run.cmdline === undefined ? {} : { cmdline: run.cmdline }),
      });
      const [file, args] = shell.argv(mode);
      const agent = execa(file, args, {
        reject: false,
        timeout: 30_000,
        env: { ...agentEnv(root, work, await shell.path(work)), ...run.extraEnv },
        extendEnv: false,
      });
      return { agent, stderr: new Output(agent.stderr) };
    }

    async function runAgent(mode: "installer" | "first-boot", port: number, run: AgentRun = {}) {
      const { agent } = await startAgent(mode, port, run);
      return agent;
    }

    it("posts the installer facts with the bearer token as JSON and exits 0 on 200", async () => {
      const server = await serve([200]);
      const result = await runAgent("installer", server.port);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request?.method).toBe("POST");
      expect(request?.url).toBe("/callback/v1/installer");
      expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request?.headers["content-type"]).toBe("application/json");
      expect(request?.body).toEqual(EXPECTED_INSTALLER_FACTS);
    });

    it("backs off while the server answers 503 and posts again until it gets 200", async () => {
      const server = await serve([503, 503, 200]);
      const result = await runAgent("installer", server.port);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(server.requests).toHaveLength(3);
      expect(result.stderr.match(/HTTP 503 .*retrying in \d+ ms/g)).toHaveLength(2);
    });

    it("gives up on a request the server never answers and posts again", async () => {
      const server = await serve([NEVER_ANSWER, 200]);
      const result = await runAgent("installer", server.port, {
        extraEnv: { METAL_HTTP_TIMEOUT_SECONDS: "1" },
      });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(server.requests).toHaveLength(2);
      expect(result.stderr).toMatch(/attempt 1: no answer from .*retrying/);
    });

    it("waits for the SSH host key that sshd is still generating", async () => {
      const server = await serve([200]);
      const { agent, stderr } = await startAgent("installer", server.port, {
        extraEnv: { METAL_SSH_HOST_KEY: join(work, "not-yet.pub") },
      });
      await stderr.waitFor("no SSH host key yet");
      await writeFile(join(work, "not-yet.pub"), `${SSH_KEY}\n`);
      const result = await agent;
      expect(result.exitCode, result.stderr).toBe(0);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.body).toMatchObject({ sshHostKey: SSH_KEY });
    });

    it("keeps retrying while nothing listens and reports once the server comes up", async () => {
      const port = await freePort();
      const { agent, stderr } = await startAgent("installer", port);
      await stderr.waitFor("no answer");
      const server = await serve([200], port);
      const result = await agent;
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/no answer from .*retrying/);
      expect(server.requests).toHaveLength(1);
    });

    it.each([
      [401, /token is unknown, used or expired/],
      [409, /contradict the inventory/],
      [400, /does not understand/],
    ])("stops after one request on %i and says why", async (status, reason) => {
      const server = await serve([status]);
      const result = await runAgent("installer", server.port);
      expect(result.exitCode).toBe(EXIT_REJECTED);
      expect(server.requests).toHaveLength(1);
      expect(result.stderr).toContain(`HTTP ${status}`);
      expect(result.stderr).toMatch(reason);
    });

    it("reports nothing when the kernel command line has no metal.callback", async () => {
      const server = await serve([200]);
      const result = await runAgent("installer", server.port, {
        cmdline: "init=/nix/store/x-nixos/init loglevel=4",
      });
      expect(result.exitCode).toBe(EXIT_NOTHING_TO_REPORT);
      expect(result.stderr).toContain("not booted by metal install");
      expect(server.requests).toHaveLength(0);
    });

    it("reports the first boot from callback.env, then deletes the file", async () => {
      const server = await serve([503, 200]);
      const result = await runAgent("first-boot", server.port);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(server.requests).toHaveLength(2);
      const [request] = server.requests;
      expect(request?.url).toBe("/callback/v1/first-boot");
      expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request?.body).toEqual({
        agent: "metal-agent/1",
        mac: ROUTE_INTERFACE_MAC,
        ip: "127.0.0.1",
        sshHostKey: SSH_KEY,
      });
      await expect(access(join(root, "var/lib/metal/callback.env"))).rejects.toThrow();
    });

    it.each([
      [401, "deletes", false],
      [409, "keeps", true],
    ])("on a first-boot %i it %s callback.env", async (status, _verb, kept) => {
      const server = await serve([status]);
      const result = await runAgent("first-boot", server.port);
      expect(result.exitCode).toBe(EXIT_REJECTED);
      const stillThere = await access(join(root, "var/lib/metal/callback.env")).then(
        () => true,
        () => false,
      );
      expect(stillThere).toBe(kept);
    });
  });
}

const hasShellcheck = await execa("shellcheck", ["--version"]).then(
  () => true,
  () => false,
);
if (!hasShellcheck)
  console.warn("agent-script.test.ts: skipped shellcheck: not installed (scripts/bootstrap.sh)");

describe.skipIf(!hasShellcheck)("metal-agent.sh as a POSIX script", () => {
  it("passes shellcheck in POSIX sh mode, so dash and busybox sh both run it", async () => {
    const result = await execa("shellcheck", ["--shell=sh", "--severity=info", AGENT], {
      reject: false,
    });
    expect(result.stdout).toBe("");
    expect(result.exitCode).toBe(0);
  });
});

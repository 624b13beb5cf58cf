/**
 * Real iPXE runs our scripts: QEMU boots Debian's ipxe.lkrn (the 2019 build the lab uses), which
 * gets an address from QEMU's built-in DHCP and chains our boot script. The "kernel" it boots is
 * ipxe.lkrn again, whose initrd is an iPXE script that reports back over HTTP: a boot that
 * really happened. QEMU's user network is `restrict=on`: the guest reaches nothing but the one
 * forwarded address, which leads to our server on 127.0.0.1.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetbootEvents, type NetbootEvent } from "../../src/events.js";
import { createBootHttpServer, type BootHttpServer } from "../../src/http/server.js";
import type { FetchRetry } from "../../src/ipxe/script.js";
import type { BootDecision } from "../../src/policy.js";

const IPXE_KERNEL = "/boot/ipxe.lkrn";
const MAC = "52:54:00:12:34:56";
/** The address the guest uses for our server (forwarded by QEMU, see guestfwd below). */
const GUEST_SERVER = "http://10.0.2.100";
const QEMU_TIMEOUT_MS = 150_000;

let dir: string;
let reportScript: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "netboot-ipxe-"));
  reportScript = path.join(dir, "report.ipxe");
  await writeFile(reportScript, `#!ipxe\ndhcp\nchain ${GUEST_SERVER}/report/booted\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Run {
  readonly outcome: string;
  readonly events: NetbootEvent[];
  /** Request paths, in order, including the ones the failure injection answered. */
  readonly requests: string[];
}

/**
 * Boots one QEMU machine against a server with `decision`; `failRequest` may answer a request
 * with 503 (a transient server failure). Resolves with what the machine reported: "booted"
 * (from the booted kernel), "exited" (our script returned success to iPXE) or "failed".
 */
async function boot(
  decision: BootDecision,
  options: { retry?: FetchRetry; failRequest?: (url: string) => boolean } = {},
): Promise<Run> {
  const events = new NetbootEvents();
  const seen: NetbootEvent[] = [];
  events.on((event) => seen.push(event));
  const requests: string[] = [];
  const server: BootHttpServer = createBootHttpServer({
    policy: () => decision,
    events,
    baseUrl: GUEST_SERVER,
    retry: options.retry,
  });
  server.app.addHook("onRequest", async (request, reply) => {
    requests.push(request.url);
    if (options.failRequest?.(request.url)) return reply.code(503).send("try again\n");
  });
  let report: (outcome: string) => void = () => {};
  const reported = new Promise<string>((resolve) => (report = resolve));
  server.app.get<{ Params: { outcome: string } }>("/report/:outcome", async (request) => {
    report(request.params.outcome);
    return "ok\n";
  });
  const url = await server.listen({ host: "127.0.0.1", port: 0 });
  const port = new URL(url).port;
  const script = `${GUEST_SERVER}/boot/${MAC}.ipxe`;
  const qemu = execa(
    "qemu-system-x86_64",
    [
      ...["-accel", "tcg", "-m", "256", "-display", "none", "-vga", "none", "-monitor", "none"],
      ...["-no-reboot", "-kernel", IPXE_KERNEL],
      "-append",
      `dhcp && chain ${script} && chain ${GUEST_SERVER}/report/exited || chain ${GUEST_SERVER}/report/failed`,
      "-netdev",
      `user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 ${port}`,
      ...["-device", `virtio-net-pci,netdev=n0,mac=${MAC},romfile=`],
    ],
    { reject: false, timeout: QEMU_TIMEOUT_MS },
  );
  try {
    const outcome = await Promise.race([
      reported,
      qemu.then((result) => `qemu ended before reporting: ${result.stderr || result.exitCode}`),
    ]);
    return { outcome, events: seen, requests };
  } finally {
    qemu.kill("SIGKILL");
    await qemu;
    await server.close();
  }
}

const bootIpxeWithReport = (): BootDecision => ({
  action: "boot",
  spec: { kernel: IPXE_KERNEL, initrds: [reportScript] },
});

describe("iPXE running our scripts", () => {
  it("loads the kernel and initrd over HTTP and boots them, retrying a failed download", async () => {
    let failures = 0;
    const run = await boot(bootIpxeWithReport(), {
      retry: { attempts: 3, delaySeconds: 1 },
      failRequest: (url) => url.includes("/report.ipxe") && failures++ === 0,
    });
    expect(run.outcome).toBe("booted");
    const files = run.requests.filter((url) => url.startsWith("/files/"));
    expect(files.map((url) => path.basename(url.split("?")[0] ?? ""))).toEqual([
      "ipxe.lkrn",
      "report.ipxe",
      "ipxe.lkrn",
      "report.ipxe",
    ]);
    const ends = run.events.filter((e) => e.type === "http.file.end");
    expect(ends).toHaveLength(3);
    expect(ends.every((e) => e.type === "http.file.end" && e.complete && e.mac === MAC)).toBe(true);
  });

  it("gives up after the configured attempts and returns failure to the firmware", async () => {
    const run = await boot(bootIpxeWithReport(), {
      retry: { attempts: 2, delaySeconds: 1 },
      failRequest: (url) => url.startsWith("/files/"),
    });
    expect(run.outcome).toBe("failed");
    expect(run.requests.filter((url) => url.startsWith("/files/"))).toHaveLength(2);
  });

  it("leaves iPXE with success for a machine that boots from its local disk", async () => {
    const run = await boot({ action: "local" });
    expect(run.outcome).toBe("exited");
    expect(run.events).toMatchObject([{ type: "http.script", mac: MAC, action: "local" }]);
  });
});

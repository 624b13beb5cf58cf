/**
 * End to end on arm64: QEMU's `virt` machine with Debian's AAVMF firmware (under TCG: an x86
 * host has no KVM for arm64) PXE-boots from `netboot serve`. AAVMF sends option 93 = 11 and
 * loads GRUB's network image over TFTP (ADR 0190); GRUB reads `grub/grub.cfg` over TFTP, which
 * hands over to the machine's own `/boot/{mac}.grub` over HTTP; that loads Debian's arm64
 * kernel and a busybox:arm64 initramfs over HTTP, and the initramfs reports back over HTTP.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildInitramfs,
  fetchBusyboxArm64,
  buildGrubNetImageArm64,
  fetchKernel,
  GRUB_NET_IMAGE_ARM64,
  initPreamble,
  Lab,
  onLines,
  ReportListener,
} from "metal-lab";

const CLI = new URL("../dist/cli.js", import.meta.url).pathname;
/** Measured under TCG on 2 busy cores: about 90 s from power-on to the report. */
const BOOT_TIMEOUT_MS = Number(process.env.ARM64_BOOT_TIMEOUT_MS ?? 400_000);
const REPORT_PORT = 8081;
const ARM64_MAC = "52:54:00:77:40:0b";
const SERVER_OCTET = 2;
const REPORTER_OCTET = 3;
/** The arm64 kernel is an uncompressed 32 MiB Image; 512 MiB leaves the initramfs room. */
const MEMORY_MIB = 768;
const SERIAL_TAIL_CHARS = 4000;

interface LoggedEvent {
  readonly msg: string;
  readonly event?: { readonly type: string } & Record<string, unknown>;
}

describe("netboot serve boots an arm64 UEFI machine through GRUB's network image", () => {
  let work: string;
  let lab: Lab;
  let listener: ReportListener;
  let server: ResultPromise | undefined;
  const logged: LoggedEvent[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "netboot-e2e-arm64-"));
    const [kernel, busybox] = await Promise.all([
      fetchKernel({ arch: "arm64" }),
      fetchBusyboxArm64(),
    ]);
    const firstStageDir = join(work, "first-stage");
    await mkdir(firstStageDir);
    const initrd = await buildInitramfs(
      {
        script:
          initPreamble({ modules: kernel.modules.map((module) => module.name) }) +
          'mac=$(cat /sys/class/net/"$net_interface"/address)\n' +
          `wget -q -O /dev/null "$cmdline_report/booted?mac=$mac&address=$net_address&arch=$(uname -m)"\n` +
          "poweroff -f\n",
        modules: kernel.modules,
        busybox,
        appletLister: "/bin/busybox",
      },
      join(work, "initrd.gz"),
    );
    lab = await Lab.create({
      workDir: join(work, "lab"),
      namespacePrefix: "mtest",
      accelerator: "tcg",
      machines: [
        {
          name: "arm64",
          mac: ARM64_MAC,
          firmware: "uefi-arm64",
          nicBoot: "native",
          diskSizeMiB: 16,
          memoryMiB: MEMORY_MIB,
        },
      ],
    });
    const serverHost = await lab.addHost("server", SERVER_OCTET);
    await buildGrubNetImageArm64({
      serverAddress: `${lab.network.subnet}.${SERVER_OCTET}`,
      output: join(firstStageDir, GRUB_NET_IMAGE_ARM64),
    });
    listener = await ReportListener.start(
      await lab.addHost("reporter", REPORTER_OCTET),
      REPORT_PORT,
    );
    const [file, args] = serverHost.argv(process.execPath, [
      CLI,
      "serve",
      "--interface",
      "eth0",
      "--kernel",
      kernel.vmlinuz,
      "--initrd",
      initrd.path,
      "--cmdline",
      `console=ttyAMA0 report=${listener.url}`,
      "--ipxe-dir",
      firstStageDir,
      "--json",
    ]);
    server = execa(file, args, { reject: false, stdin: "ignore" });
    await waitForServing(server, logged);
  }, 300_000);

  afterAll(async () => {
    server?.kill("SIGTERM");
    await server;
    await listener?.stop();
    await lab?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it(
    "answers option 93 = 11 with grubnetaa64.efi, GRUB fetches its configs and the arm64 kernel reports back",
    async () => {
      const started = Date.now();
      for (const machine of lab.machines) await machine.powerOn();
      const report = await listener
        .waitFor(new RegExp(`mac=${ARM64_MAC}`), BOOT_TIMEOUT_MS)
        .catch(async (error: Error) => {
          const output = await lab.machines[0]!.serialOutput();
          // From GRUB on, without the firmware's screen drawing (escape sequences).
          const serial = output
            .slice(Math.max(0, output.indexOf("Welcome to GRUB")))
            // eslint-disable-next-line no-control-regex
            .replace(/\u001b\[[0-9;=?]*[A-Za-z]/g, "")
            .slice(0, SERIAL_TAIL_CHARS);
          const log = logged.map((line) => line.msg).join("\n");
          throw new Error(`${error.message}\nserver log:\n${log}\nserial console:\n${serial}`);
        });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`arm64 UEFI (AAVMF, TCG): power-on to callback in ${seconds} s`);
      const query = new URL(report.url, listener.url).searchParams;
      expect(query.get("arch")).toBe("aarch64");
      expect(query.get("address")).toMatch(/^10\.77\.0\.1\d\d$/);

      const events = logged.flatMap((line) => (line.event ? [line.event] : []));
      expect(events).toContainEqual(
        expect.objectContaining({
          type: "dhcp.reply",
          mac: ARM64_MAC,
          firmware: "uefi-arm64",
          bootFile: GRUB_NET_IMAGE_ARM64,
        }),
      );
      for (const file of [GRUB_NET_IMAGE_ARM64, "grub/grub.cfg"])
        expect(events).toContainEqual(
          expect.objectContaining({ type: "tftp.end", file: expect.stringContaining(file) }),
        );
      expect(events).toContainEqual(
        expect.objectContaining({ type: "http.script", mac: ARM64_MAC, action: "boot" }),
      );
      const downloads = events.filter((event) => event.type === "http.file.end" && event.complete);
      expect(downloads.length).toBeGreaterThanOrEqual(2); // kernel + initrd
    },
    BOOT_TIMEOUT_MS + 60_000,
  );
});

/** Collects the JSON log lines and resolves once the server says it is serving. */
function waitForServing(child: ResultPromise, into: LoggedEvent[]): Promise<void> {
  return new Promise((resolve, reject) => {
    onLines(child.stdout, (line) => {
      if (!line) return;
      const entry = JSON.parse(line) as LoggedEvent;
      into.push(entry);
      if (entry.msg.startsWith("serving on")) resolve();
    });
    void child.then((result) =>
      reject(new Error(`netboot serve exited early (${result.exitCode}): ${result.stderr}`)),
    );
  });
}

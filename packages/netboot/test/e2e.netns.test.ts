/**
 * End to end, with real firmware: a BIOS machine (SeaBIOS + QEMU's iPXE ROM), a UEFI machine
 * using OVMF's own PXE (NIC ROM off, as on real UEFI hardware: it fetches ipxe.efi over TFTP
 * first) and a UEFI machine whose only network boot is OVMF's HTTP boot (PXE off: HttpBootDxe
 * asks with vendor class HTTPClient, arch 16, and fetches ipxe.efi by the URL we offer) boot
 * from `netboot serve` next to a dnsmasq home router that hands out addresses.
 * Each boots Debian's kernel and a busybox initramfs over HTTP, which reports back over HTTP.
 * The machines sit on a second subnet behind a router running dnsmasq's DHCP relay (RFC 1542),
 * where every DHCP exchange crosses the relay and the rest is routed. The same three firmwares
 * on the server's own subnet boot through the same NetbootServer in metal's lab test
 * (packages/metal/test/lab.netns.test.ts: node1 UEFI PXE, node2 BIOS iPXE, node3 UEFI HTTP
 * boot), so this file no longer boots them a second time there (ADR 0350).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildInitramfs,
  fetchKernel,
  initPreamble,
  Lab,
  onLines,
  ReportListener,
  type LabKernel,
} from "metal-lab";

const CLI = new URL("../dist/cli.js", import.meta.url).pathname;
/**
 * Three TCG machines at once on a shared 2-core machine: the relay topology has finished in 185 s
 * at a load average near 20, and one machine has needed more than 300 s in such runs.
 */
const BOOT_TIMEOUT_MS = 600_000;
const REPORT_PORT = 8081;
const BIOS_MAC = "52:54:00:77:40:01";
const UEFI_MAC = "52:54:00:77:40:02";
const HTTP_MAC = "52:54:00:77:40:03";
const SERVER_OCTET = 2;
const REPORTER_OCTET = 3;

interface Topology {
  readonly name: string;
  /** First three octets of the subnet the machines get addresses in. */
  readonly machineSubnet: string;
  readonly relay?: { readonly subnet: string; readonly servers: readonly number[] };
}

const TOPOLOGIES: readonly Topology[] = [
  {
    name: "on a second subnet behind dnsmasq's DHCP relay",
    machineSubnet: "10.78.0",
    relay: { subnet: "10.78.0", servers: [SERVER_OCTET] },
  },
];

interface LoggedEvent {
  readonly msg: string;
  readonly event?: { readonly type: string } & Record<string, unknown>;
}

describe.each(TOPOLOGIES)("netboot serve boots real firmware $name", (topology) => {
  let work: string;
  let kernel: LabKernel;
  let lab: Lab;
  let listener: ReportListener;
  let server: ResultPromise | undefined;
  const logged: LoggedEvent[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "netboot-e2e-"));
    kernel = await fetchKernel();
    const initrd = await buildInitramfs(
      {
        script:
          initPreamble({ modules: kernel.modules.map((module) => module.name) }) +
          'mac=$(cat /sys/class/net/"$net_interface"/address)\n' +
          `wget -q -O /dev/null "$cmdline_report/booted?mac=$mac&address=$net_address"\n` +
          "poweroff -f\n",
        modules: kernel.modules,
      },
      join(work, "initrd.gz"),
    );
    lab = await Lab.create({
      workDir: join(work, "lab"),
      namespacePrefix: "mtest",
      machines: [
        { name: "bios", mac: BIOS_MAC, firmware: "bios", nicBoot: "ipxe", diskSizeMiB: 16 },
        { name: "uefi", mac: UEFI_MAC, firmware: "uefi", nicBoot: "native", diskSizeMiB: 16 },
        { name: "http", mac: HTTP_MAC, firmware: "uefi", nicBoot: "http", diskSizeMiB: 16 },
      ],
      ...(topology.relay ? { relay: topology.relay } : {}),
    });
    const serverHost = await lab.addHost("server", SERVER_OCTET);
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
      `console=ttyS0 report=${listener.url}`,
      "--json",
      // Debug level: the DHCP requests too (the HTTP boot client's HTTPClient DISCOVER).
      "--verbose",
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
    "gets a BIOS iPXE machine, a native UEFI PXE machine and a UEFI HTTP boot machine to the kernel, then stops on SIGTERM",
    async () => {
      for (const machine of lab.machines) await machine.powerOn();
      const reports = await Promise.all(
        [BIOS_MAC, UEFI_MAC, HTTP_MAC].map((mac) =>
          listener.waitFor(new RegExp(`mac=${mac}`), BOOT_TIMEOUT_MS),
        ),
      );
      // Both got their address from the router's pool (for their subnet), not from us.
      for (const report of reports) {
        const address = new URL(report.url, listener.url).searchParams.get("address") ?? "";
        expect(address).toMatch(
          new RegExp(`^${topology.machineSubnet.replaceAll(".", "\\.")}\\.1\\d\\d$`),
        );
      }

      const events = logged.flatMap((line) => (line.event ? [line.event] : []));
      const replies = events.filter((event) => event.type === "dhcp.reply");
      // Behind the relay, every OFFER went to the relay's port 67 (RFC 2131 §4.1).
      if (topology.relay)
        expect(replies.filter((event) => event.message === "OFFER")).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ to: `${topology.relay.subnet}.1:67` }),
          ]),
        );
      // The iPXE ROM is iPXE already: straight to its script. OVMF gets ipxe.efi first.
      expect(replies).toContainEqual(
        expect.objectContaining({
          mac: BIOS_MAC,
          bootFile: expect.stringMatching(/\/boot\/.*\.ipxe$/),
        }),
      );
      expect(replies).toContainEqual(
        expect.objectContaining({ mac: UEFI_MAC, firmware: "uefi-x64", bootFile: "ipxe.efi" }),
      );
      expect(events).toContainEqual(
        expect.objectContaining({ type: "tftp.end", file: "ipxe.efi" }),
      );
      // UEFI HTTP boot: HttpBootDxe asked as HTTPClient (arch 16) and got ipxe.efi by URL.
      expect(events).toContainEqual(
        expect.objectContaining({
          type: "dhcp.request",
          mac: HTTP_MAC,
          arch: 16,
          vendorClass: expect.stringMatching(/^HTTPClient:Arch:00016/),
        }),
      );
      expect(replies).toContainEqual(
        expect.objectContaining({
          mac: HTTP_MAC,
          bootFile: expect.stringMatching(/^http:\/\/10\.77\.0\.2:\d+\/ipxe\/ipxe\.efi$/),
        }),
      );

      const downloads = events.filter((event) => event.type === "http.file.end" && event.complete);
      expect(downloads.length).toBeGreaterThanOrEqual(7); // kernel + initrd per machine, ipxe.efi

      server?.kill("SIGTERM");
      const result = await server;
      expect(result?.exitCode).toBe(0);
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

import { execa } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LabConfigError } from "../src/errors.js";
import {
  bmcChassisControlScript,
  bmcFiles,
  bmcLanConf,
  bmcStartScript,
  type BmcSpec,
} from "../src/ipmi-bmc.js";
import { machineFiles, qemuArgv, type MachineSpec } from "../src/qemu.js";

const machine: MachineSpec = {
  name: "node1",
  firmware: "bios",
  mac: "52:54:00:77:00:01",
  workDir: "/lab/node1",
  network: { namespace: "mtest1x0lan", tap: "tap0" },
  disk: "/lab/node1/disk.img",
  accelerator: "tcg",
  bmc: { host: "127.0.0.1", port: 9002 },
};
const files = bmcFiles("/lab/node1");
const spec: BmcSpec = {
  name: "node1",
  address: "10.77.0.111",
  username: "admin",
  password: "Zm9vYmFyYmF6cXV4",
  serialPort: 9002,
  qemuArgv: qemuArgv(machine, machineFiles("/lab/node1")),
  networkBootArgv: qemuArgv({ ...machine, networkFirst: true }, machineFiles("/lab/node1")),
  workDir: "/lab/node1",
};

function optionAfter(argv: string[], flag: string): string[] {
  return argv.flatMap((value, index) => (argv[index - 1] === flag ? [value] : []));
}

describe("a machine powered by a simulated BMC", () => {
  it("runs at once (the BMC starts it), appends its serial log, and wires ipmi-bmc-extern to the BMC", () => {
    const argv = qemuArgv(machine, machineFiles("/lab/node1"));
    expect(argv).not.toContain("-S");
    expect(argv).not.toContain("-qmp");
    expect(argv).not.toContain("-no-shutdown");
    expect(argv).not.toContain("-no-reboot");
    expect(optionAfter(argv, "-chardev")).toEqual([
      "file,id=serial0,path=/lab/node1/serial.log,append=on",
      "socket,id=ipmi0,host=127.0.0.1,port=9002,reconnect=1",
    ]);
    expect(optionAfter(argv, "-device")).toEqual(
      expect.arrayContaining(["ipmi-bmc-extern,id=bmc0,chardev=ipmi0", "isa-ipmi-kcs,bmc=bmc0"]),
    );
  });

  it("puts the NIC before the disk in the boot order only in the argv a one-time PXE boot starts", () => {
    expect(optionAfter(spec.qemuArgv as string[], "-device")).toEqual(
      expect.arrayContaining([
        "virtio-blk-pci,drive=disk0,bootindex=1",
        "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:01,bootindex=2",
      ]),
    );
    expect(optionAfter(spec.networkBootArgv as string[], "-device")).toEqual(
      expect.arrayContaining([
        "virtio-blk-pci,drive=disk0,bootindex=2",
        "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:01,bootindex=1",
      ]),
    );
  });

  it("configures ipmi_sim: RMCP+ on the host's power address, the VM codec on loopback, a chassis program", () => {
    const conf = bmcLanConf(spec, files).split("\n");
    expect(conf).toEqual(
      expect.arrayContaining([
        'name "node1"',
        "    addr 10.77.0.111 623",
        expect.stringMatching(/^ {4}guid [0-9a-f]{32}$/),
        "  serial kcs 127.0.0.1 9002 codec VM",
        '  chassis_control "/lab/node1/bmc-chassis-control.sh 0x20"',
        '  user 2 true "admin" "Zm9vYmFyYmF6cXV4" admin 10 md5',
      ]),
    );
    expect(bmcLanConf(spec, files)).toBe(bmcLanConf(spec, files));
    expect(() => bmcLanConf({ ...spec, workDir: "/my lab" }, bmcFiles("/my lab"))).toThrow(
      /white space/,
    );
  });

  it('refuses credentials lan.conf cannot hold (it has no escapes inside "…")', () => {
    expect(() => bmcLanConf({ ...spec, password: 'a"b' }, files)).toThrow(LabConfigError);
    expect(() => bmcLanConf({ ...spec, username: "$HOME" }, files)).toThrow(/cannot hold/);
  });

  it("quotes every QEMU argument in the start script and records QEMU's pid", () => {
    const script = bmcStartScript(["-name", "it's", "-m", "512"], files);
    expect(script).toBe(
      "#!/bin/sh\necho $$ > '/lab/node1/qemu.pid'\nexec 'qemu-system-x86_64' '-name' 'it'\\''s' '-m' '512'\n",
    );
  });

  it("runs the chassis: power on starts the machine, a pxe boot flag picks the NIC-first start once, power off ends it", async () => {
    const work = await mkdtemp(join(tmpdir(), "metal-lab-bmc-"));
    const scratch = bmcFiles(work);
    // Stand-ins for QEMU: they record their pid as the real start script does, then wait.
    const standIn = (seconds: number) => `echo $$ > '${scratch.qemuPid}'\nexec sleep ${seconds}\n`;
    await writeFile(scratch.startScript, standIn(600));
    await writeFile(scratch.networkStartScript, standIn(601));
    await writeFile(scratch.chassisControl, bmcChassisControlScript(scratch), { mode: 0o700 });
    const chassis = (...args: string[]) =>
      execa(scratch.chassisControl, ["0x20", ...args], { reject: false });
    const started = async (): Promise<string> => {
      for (;;) {
        const pid = (await readFile(scratch.qemuPid, "utf8").catch(() => "")).trim();
        const command = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (command.startsWith("sleep")) return command.replaceAll("\0", " ").trim();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      expect((await chassis("get", "power", "boot")).stdout).toBe("power:0\nboot:none");
      expect((await chassis("set", "boot", "pxe")).exitCode).toBe(0);
      expect((await chassis("get", "boot")).stdout).toBe("boot:pxe");
      expect((await chassis("set", "power", "1")).exitCode).toBe(0);
      expect(await started()).toBe("sleep 601");
      expect((await chassis("get", "power", "boot")).stdout).toBe("power:1\nboot:none");
      expect((await chassis("set", "power", "0")).exitCode).toBe(0);
      expect((await chassis("get", "power")).stdout).toBe("power:0");
      await rm(scratch.qemuPid);
      expect((await chassis("set", "power", "1")).exitCode).toBe(0);
      expect(await started()).toBe("sleep 600");
      const unknown = await chassis("set", "identify", "1");
      expect([unknown.exitCode, unknown.stdout]).toEqual([1, "unsupported: identify"]);
    } finally {
      await chassis("set", "power", "0");
      await rm(work, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from "vitest";
import { LabConfigError } from "../src/errors.js";
import { bmcFiles, bmcLanConf, bmcStartScript, type BmcSpec } from "../src/ipmi-bmc.js";
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

  it("configures ipmi_sim: RMCP+ on the host's power address, the VM codec on loopback, QEMU as start command", () => {
    const conf = bmcLanConf(spec, files).split("\n");
    expect(conf).toEqual(
      expect.arrayContaining([
        'name "node1"',
        "    addr 10.77.0.111 623",
        expect.stringMatching(/^ {4}guid [0-9a-f]{32}$/),
        "  serial kcs 127.0.0.1 9002 codec VM",
        '  startcmd "/lab/node1/bmc-start-qemu.sh"',
        "  startnow false",
        "  poweroff_wait 2",
        '  user 2 true "admin" "Zm9vYmFyYmF6cXV4" admin 10 md5',
      ]),
    );
    expect(bmcLanConf(spec, files)).toBe(bmcLanConf(spec, files));
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
});

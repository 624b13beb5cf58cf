import { describe, expect, it } from "vitest";
import { LabConfigError } from "../src/errors.js";
import {
  FIRMWARE_FILES,
  machineFiles,
  qemuArgv,
  qemuBinary,
  type MachineSpec,
} from "../src/qemu.js";

const files = machineFiles("/lab/m1");
const base: MachineSpec = {
  name: "m1",
  firmware: "uefi",
  mac: "52:54:00:77:00:01",
  workDir: "/lab/m1",
  network: { namespace: "mtest1x0lan", tap: "tap0" },
  disk: "/lab/m1/disk.img",
  accelerator: "tcg",
};

function optionAfter(argv: string[], flag: string): string[] {
  return argv.flatMap((value, index) => (argv[index - 1] === flag ? [value] : []));
}

describe("qemuArgv", () => {
  it("starts every machine paused with a QMP socket and the serial console in a file", () => {
    const argv = qemuArgv(base, files);
    expect(argv).toContain("-S");
    expect(optionAfter(argv, "-qmp")).toEqual(["unix:/lab/m1/qmp.sock,server=on,wait=off"]);
    expect(optionAfter(argv, "-serial")).toEqual(["file:/lab/m1/serial.log"]);
    expect(optionAfter(argv, "-accel")).toEqual(["tcg"]);
  });

  it("boots the disk first and falls through to the NIC", () => {
    const devices = optionAfter(qemuArgv(base, files), "-device");
    expect(devices).toEqual([
      "virtio-blk-pci,drive=disk0,bootindex=1",
      "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:01,bootindex=2",
    ]);
  });

  it("gives UEFI machines q35, OVMF code read-only and their own variables copy", () => {
    const argv = qemuArgv(base, files);
    expect(optionAfter(argv, "-machine")).toEqual(["q35"]);
    expect(optionAfter(argv, "-drive")).toEqual([
      "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
      "if=pflash,format=raw,unit=1,file=/lab/m1/OVMF_VARS.fd",
      "file=/lab/m1/disk.img,format=raw,if=none,id=disk0",
    ]);
  });

  it("gives the machine the SMBIOS UUID it is told, which PXE firmware sends as option 97", () => {
    expect(optionAfter(qemuArgv(base, files), "-uuid")).toEqual([]);
    const uuid = "8f2b6c1e-4d3a-4b5c-9e7f-0a1b2c3d4e5f";
    expect(optionAfter(qemuArgv({ ...base, uuid }, files), "-uuid")).toEqual([uuid]);
  });

  it("turns the NIC's iPXE ROM off for native UEFI PXE", () => {
    const devices = optionAfter(qemuArgv({ ...base, nicBoot: "native" }, files), "-device");
    expect(devices.at(-1)).toMatch(/,romfile=$/);
  });

  it("leaves OVMF's HTTP boot as the only network boot for nicBoot http: no ROM, PXE off by fw_cfg", () => {
    const argv = qemuArgv({ ...base, nicBoot: "http" }, files);
    expect(optionAfter(argv, "-device").at(-1)).toMatch(/,romfile=$/);
    expect(optionAfter(argv, "-fw_cfg")).toEqual([
      "name=opt/org.tianocore/IPv4PXESupport,string=n",
      "name=opt/org.tianocore/IPv6PXESupport,string=n",
    ]);
    expect(() => qemuArgv({ ...base, firmware: "bios", nicBoot: "http" }, files)).toThrow(
      /SeaBIOS has no PXE or HTTP boot/,
    );
  });

  it("sends SeaBIOS output to the serial port on BIOS machines and boots the NIC alone without a disk", () => {
    const argv = qemuArgv({ ...base, firmware: "bios", disk: undefined }, files);
    expect(optionAfter(argv, "-fw_cfg")).toEqual(["name=etc/sercon-port,file=/lab/m1/sercon.bin"]);
    expect(optionAfter(argv, "-machine")).toEqual([]);
    expect(optionAfter(argv, "-device")).toEqual([
      "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:01,bootindex=1",
    ]);
  });

  it("refuses native PXE on BIOS, paths with commas and malformed MACs", () => {
    expect(() => qemuArgv({ ...base, firmware: "bios", nicBoot: "native" }, files)).toThrow(
      /SeaBIOS has no PXE/,
    );
    expect(() => qemuArgv({ ...base, disk: "/a,b/disk.img" }, files)).toThrow(LabConfigError);
    expect(() => qemuArgv({ ...base, mac: "52:54:00:77:00" }, files)).toThrow(/six hex octets/);
  });

  it("stays alive powered off after a guest poweroff unless asked to exit on reboot", () => {
    expect(qemuArgv(base, files)).toContain("-no-shutdown");
    expect(qemuArgv(base, files)).not.toContain("-no-reboot");
    const exiting = qemuArgv({ ...base, noReboot: true }, files);
    expect(exiting).toContain("-no-reboot");
    expect(exiting).not.toContain("-no-shutdown");
  });
});

describe("qemuArgv for arm64 UEFI machines", () => {
  const spec = {
    name: "arm",
    firmware: "uefi-arm64" as const,
    mac: "52:54:00:77:40:0b",
    workDir: "/tmp/arm",
    network: { namespace: "ns", tap: "tap0" },
    accelerator: "kvm" as const,
  };

  it("runs QEMU's virt machine with AAVMF, always under TCG, with the firmware's own PXE", () => {
    const argv = qemuArgv(spec, machineFiles(spec.workDir));
    expect(qemuBinary("uefi-arm64")).toBe("qemu-system-aarch64");
    expect(argv.join(" ")).toContain("-accel tcg");
    expect(argv.join(" ")).toContain("-machine virt -cpu cortex-a57");
    expect(argv.join(" ")).toContain(`file=${FIRMWARE_FILES.aavmfCode}`);
    expect(argv.find((arg) => arg.startsWith("virtio-net-pci"))).toMatch(/,romfile=$/);
  });

  it("refuses QEMU's x86 iPXE ROM on an arm64 machine", () => {
    expect(() => qemuArgv({ ...spec, nicBoot: "ipxe" }, machineFiles(spec.workDir))).toThrow(
      /iPXE ROMs are x86 code/,
    );
  });
});

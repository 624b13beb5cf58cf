import { describe, expect, it } from "vitest";
import { parseLddOutput } from "../src/initramfs.js";
import { initPreamble, PID1_WRAPPER, LAB_SCRIPT_PATH } from "../src/init-script.js";

describe("initramfs scripts", () => {
  it("runs the caller's script as a child so its failure cannot kill PID 1", () => {
    expect(PID1_WRAPPER).toContain(`/bin/sh ${LAB_SCRIPT_PATH}\n`);
    expect(PID1_WRAPPER).toContain("poweroff -f");
  });

  it("loads modules in the given order", () => {
    const preamble = initPreamble({
      modules: ["virtio_ring", "virtio", "virtio_net"],
      dhcp: false,
    });
    const positions = ["virtio_ring.ko", "virtio.ko", "virtio_net.ko"].map((name) =>
      preamble.indexOf(`/lib/modules/${name}`),
    );
    expect(positions.every((position) => position > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("only defines lab_start_sshd when asked", () => {
    expect(initPreamble({ dhcp: false })).not.toContain("lab_start_sshd");
    expect(initPreamble({ sshd: true })).toContain("lab_start_sshd()");
  });

  it("loads and mounts efivarfs only when asked, and only where the kernel made its mount point", () => {
    expect(initPreamble({ dhcp: false })).not.toContain("efivarfs");
    const lines = initPreamble({ dhcp: false, efivars: true }).split("\n");
    const guard = lines.indexOf("if [ -d /sys/firmware/efi/efivars ]; then");
    expect(guard).toBeGreaterThan(lines.indexOf("mount -t sysfs sysfs /sys"));
    expect(lines[guard + 1]).toMatch(
      /^ {2}insmod \/lib\/modules\/efivarfs\.ko && mount -t efivarfs efivarfs \/sys\/firmware\/efi\/efivars /,
    );
    expect(lines[guard + 2]).toBe("fi");
  });
});

describe("parseLddOutput", () => {
  it("lists resolved libraries and the loader, not the vDSO", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd4b1f2000)",
      "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f40a4995000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f40a4777000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f40a4af5000)",
    ].join("\n");
    expect(parseLddOutput(output)).toEqual([
      "/lib/x86_64-linux-gnu/libz.so.1",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });
});

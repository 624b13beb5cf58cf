/** The lab's installed-system kernel command line per architecture (ADR 0300). */
import { describe, expect, it } from "vitest";
import { installedCmdline } from "../../src/lab/images.js";

const NETWORK = { address: "10.77.0.21", prefixLength: 24, gateway: "10.77.0.1" };

describe("installedCmdline", () => {
  it("uses the virt board's PL011 console for aarch64 and COM1 without the IO-APIC timer test for x86_64", () => {
    expect(installedCmdline({ name: "arm1", arch: "aarch64", ...NETWORK })).toBe(
      "console=ttyAMA0 quiet metal.host=arm1 metal.address=10.77.0.21/24 metal.gateway=10.77.0.1",
    );
    expect(installedCmdline({ name: "node1", arch: "x86_64", ...NETWORK })).toBe(
      "console=ttyS0 no_timer_check quiet metal.host=node1 metal.address=10.77.0.21/24 metal.gateway=10.77.0.1",
    );
  });
});

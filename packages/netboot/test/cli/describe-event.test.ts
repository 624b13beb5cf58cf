import { describe, expect, it } from "vitest";
import { describeEvent } from "../../src/cli/describe-event.js";
import { parseMac } from "../../src/mac.js";

const mac = parseMac("52:54:00:77:00:01");

describe("describeEvent", () => {
  it("names the firmware and the boot file of a DHCP reply", () => {
    const line = describeEvent({
      type: "dhcp.reply",
      time: 0,
      mac,
      xid: 1,
      message: "OFFER",
      port: 68,
      to: "255.255.255.255",
      firmware: "uefi-x64",
      httpBoot: false,
      bootFile: "ipxe.efi",
      nextServer: "10.77.0.2",
    });
    expect(line).toEqual({
      level: "info",
      mac,
      message: "DHCP OFFER to 255.255.255.255:68: uefi-x64 boots ipxe.efi from 10.77.0.2",
    });
  });

  it("reports an aborted HTTP download as a warning with its size and rate", () => {
    const line = describeEvent({
      type: "http.file.end",
      time: 0,
      mac,
      peer: "10.77.0.100",
      path: "/files/abc/initrd",
      status: 200,
      bytes: 3 * 1024 * 1024,
      durationMs: 1000,
      complete: false,
    });
    expect(line.level).toBe("warn");
    expect(line.message).toBe(
      "HTTP 10.77.0.100 aborted /files/abc/initrd (200, 3.0 MiB in 1000 ms, 3.0 MiB/s)",
    );
  });

  it("keeps the reason of an ignored DHCP packet", () => {
    const line = describeEvent({
      type: "dhcp.ignored",
      time: 0,
      mac: undefined,
      xid: undefined,
      port: 67,
      from: "0.0.0.0",
      reason: "not a PXE client (no option 60)",
    });
    expect(line.message).toContain("not a PXE client (no option 60)");
  });
});

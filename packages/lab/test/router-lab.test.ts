import { describe, expect, it } from "vitest";
import { LabConfigError } from "../src/errors.js";
import { Lab } from "../src/lab.js";
import { parseLeaseFile } from "../src/router.js";

describe("parseLeaseFile", () => {
  it("reads MAC and address from dnsmasq's lease lines and skips the DUID line", () => {
    const content = [
      "1764040000 52:54:00:77:10:01 10.77.0.150 * 01:52:54:00:77:10:01",
      "duid 00:01:00:01:2c:aa:bb:cc:52:54:00:00:00:01",
      "1764040100 52:54:00:77:10:02 10.77.0.151 node2 *",
      "",
    ].join("\n");
    expect(parseLeaseFile(content)).toEqual([
      { mac: "52:54:00:77:10:01", address: "10.77.0.150" },
      { mac: "52:54:00:77:10:02", address: "10.77.0.151" },
    ]);
  });
});

describe("Lab.create", () => {
  it("refuses two machines with the same MAC before creating anything", async () => {
    await expect(
      Lab.create({
        workDir: "/nonexistent",
        accelerator: "tcg",
        machines: [
          { name: "a", mac: "52:54:00:77:00:01", firmware: "bios" },
          { name: "b", mac: "52:54:00:77:00:01", firmware: "uefi" },
        ],
      }),
    ).rejects.toThrow(LabConfigError);
  });
});

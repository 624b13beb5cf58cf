import { describe, expect, it } from "vitest";
import {
  deterministicUuid,
  planPartitions,
  sfdiskScript,
  stampPeImage,
  stubEnd,
} from "../src/disk-image.js";
import { LabConfigError } from "../src/errors.js";

const CEPH_OSD = "4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D";

describe("disk layout", () => {
  it("puts the ESP at 1 MiB and lets the last partition take the rest up to the backup GPT", () => {
    const partitions = planPartitions(
      256,
      64,
      [
        { name: "root", sizeMiB: 64, type: "linux" },
        { name: "ceph", sizeMiB: "rest", type: CEPH_OSD },
      ],
      "host1",
    );
    expect(
      partitions.map(({ name, startSector, sectors }) => [name, startSector, sectors]),
    ).toEqual([
      ["ESP", 2048, 131072],
      ["root", 133120, 131072],
      ["ceph", 264192, 256 * 2048 - 33 - 264192],
    ]);
    expect(partitions[2]!.typeGuid).toBe(CEPH_OSD);
  });

  it("refuses a layout that does not fit, a 'rest' before the end and unknown types", () => {
    expect(() => planPartitions(64, 64, [], "x")).toThrow(LabConfigError);
    expect(() =>
      planPartitions(
        256,
        64,
        [
          { name: "a", sizeMiB: "rest", type: "linux" },
          { name: "b", sizeMiB: 1, type: "linux" },
        ],
        "x",
      ),
    ).toThrow(/only the last partition/);
    expect(() => planPartitions(256, 64, [{ name: "a", sizeMiB: 1, type: "zfs" }], "x")).toThrow(
      /type GUID/,
    );
  });

  it("marks only the ESP LegacyBIOSBootable so gptmbr.bin boots syslinux from it", () => {
    const script = sfdiskScript(
      "11111111-2222-4333-8444-555555555555",
      planPartitions(128, 64, [{ name: "root", sizeMiB: "rest", type: "linux" }], "x"),
    );
    const lines = script.split("\n").filter((line) => line.startsWith("start="));
    expect(lines[0]).toContain('name="ESP", attrs="LegacyBIOSBootable"');
    expect(lines[1]).not.toContain("attrs");
    expect(script).toContain("label: gpt\nlabel-id: 11111111-2222-4333-8444-555555555555\n");
  });

  it("derives the same ids from the same identity and different ids otherwise", () => {
    expect(deterministicUuid("a", "disk")).toBe(deterministicUuid("a", "disk"));
    expect(deterministicUuid("a", "disk")).not.toBe(deterministicUuid("b", "disk"));
    expect(deterministicUuid("a", "disk")).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/,
    );
  });
});

describe("unified kernel image helpers", () => {
  it("finds the end of the stub's last section in objdump -h output", () => {
    const output = [
      "Idx Name          Size      VMA               LMA               File off  Algn",
      "  0 .text         0000bff0  0000000000004000  0000000000004000  00000400  2**4",
      "                  CONTENTS, ALLOC, LOAD, READONLY, CODE",
      "  7 .sdmagic      00000034  0000000000019100  0000000000019100  00011200  2**2",
    ].join("\n");
    expect(stubEnd(output)).toBe(0x19134);
  });

  it("sets the PE timestamp and a checksum that sums correctly", () => {
    const image = Buffer.alloc(512);
    image.writeUInt32LE(0x80, 0x3c);
    image.write("PE\0\0", 0x80, "latin1");
    stampPeImage(image, 315_532_800);
    expect(image.readUInt32LE(0x80 + 8)).toBe(315_532_800);
    const checksum = image.readUInt32LE(0x80 + 88);
    // Recompute independently: 16-bit sum with folded carries over all words but the checksum.
    let sum = 0;
    for (let offset = 0; offset < image.length; offset += 2) {
      if (offset === 0x80 + 88 || offset === 0x80 + 90) continue;
      sum += image.readUInt16LE(offset);
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    expect(checksum).toBe(sum + image.length);
  });
});

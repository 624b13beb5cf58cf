import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { encodeCpio, orderEntries } from "../src/cpio.js";
import { LabConfigError } from "../src/errors.js";

describe("cpio newc writer", () => {
  it("orders entries by path with every parent directory before its children", () => {
    const ordered = orderEntries([
      { path: "/usr/bin/wget", type: "symlink", target: "/bin/busybox" },
      { path: "/init", type: "file", data: Buffer.from("x") },
      { path: "/bin-extra", type: "directory" },
      { path: "/bin/sh", type: "symlink", target: "busybox" },
    ]);
    expect(ordered.map((entry) => entry.path)).toEqual([
      "bin",
      "bin-extra",
      "bin/sh",
      "init",
      "usr",
      "usr/bin",
      "usr/bin/wget",
    ]);
  });

  it("lets a later entry for the same path replace an earlier one", () => {
    const ordered = orderEntries([
      { path: "/root", type: "directory" },
      { path: "/root/", type: "directory", mode: 0o700 },
    ]);
    expect(ordered).toEqual([{ path: "root", type: "directory", mode: 0o700 }]);
  });

  it("refuses paths with . or .. segments", () => {
    expect(() => orderEntries([{ path: "/etc/../x", type: "directory" }])).toThrow(LabConfigError);
  });

  it("writes an archive GNU cpio lists with the right names, types, modes and sizes", async () => {
    const archive = encodeCpio(
      [
        { path: "/init", type: "file", data: Buffer.from("#!/bin/sh\n"), mode: 0o755 },
        { path: "/bin/sh", type: "symlink", target: "busybox" },
        { path: "/dev/console", type: "char-device", major: 5, minor: 1 },
      ],
      1_700_000_000,
    );
    expect(archive.length % 4).toBe(0);
    const { stdout } = await execa("cpio", ["-itv", "--quiet"], { input: archive });
    const lines = stdout.split("\n").map((line) => line.replace(/\s+/g, " "));
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^drwxr-xr-x 2 root root 0 .* bin$/);
    expect(lines[1]).toMatch(/^lrwxrwxrwx 1 root root 7 .* bin\/sh -> busybox$/);
    expect(lines[2]).toMatch(/^drwxr-xr-x 2 root root 0 .* dev$/);
    expect(lines[3]).toMatch(/^crw------- 1 root root 5, 1 .* dev\/console$/);
    expect(lines[4]).toMatch(/^-rwxr-xr-x 1 root root 10 .* init$/);
  });

  it("gives the same bytes for the same entries in any input order", () => {
    const a = { path: "/a", type: "file", data: Buffer.from("a") } as const;
    const b = { path: "/b/c", type: "symlink", target: "/a" } as const;
    expect(encodeCpio([a, b], 0).equals(encodeCpio([b, a], 0))).toBe(true);
  });
});

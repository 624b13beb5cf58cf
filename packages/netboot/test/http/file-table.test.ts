import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { BootFileTable, bootFileUrlPath } from "../../src/http/file-table.js";

describe("BootFileTable", () => {
  it("gives a path one stable opaque id and a URL-safe name", () => {
    const table = new BootFileTable();
    const file = table.register("/srv/boot/../boot/initrd image+1.gz");
    expect(file.path).toBe("/srv/boot/initrd image+1.gz");
    expect(file.id).toMatch(/^[0-9a-f]{16}$/);
    expect(file.name).toBe("initrd_image+1.gz");
    expect(table.register("/srv/boot/initrd image+1.gz")).toBe(file);
    expect(table.get(file.id)).toBe(file);
    expect(bootFileUrlPath(file)).toBe(`/files/${file.id}/initrd_image+1.gz`);
  });

  it("gives different paths different ids and knows nothing it was not given", () => {
    const table = new BootFileTable();
    const a = table.register("/srv/a/vmlinuz");
    const b = table.register("/srv/b/vmlinuz");
    expect(a.id).not.toBe(b.id);
    expect(a.name).toBe(b.name);
    expect(table.get("0000000000000000")).toBeUndefined();
  });

  it("refuses a relative path", () => {
    expect(() => new BootFileTable().register("boot/vmlinuz")).toThrow(ConfigError);
  });
});

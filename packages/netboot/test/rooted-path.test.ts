import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PathRefusedError } from "../src/errors.js";
import { resolveUnderRoot } from "../src/rooted-path.js";

let base: string;
let root: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "rooted-path-"));
  root = path.join(base, "root");
  await mkdir(path.join(root, "efi", "boot"), { recursive: true });
  await writeFile(path.join(root, "ipxe.efi"), "ipxe");
  await writeFile(path.join(root, "efi", "boot", "bootx64.efi"), "shim");
  await writeFile(path.join(base, "secret"), "outside");
  await symlink(path.join(base, "secret"), path.join(root, "escape"));
  await symlink("/etc", path.join(root, "etc-link"));
  await symlink("ipxe.efi", path.join(root, "alias.efi"));
  await symlink("efi/boot", path.join(root, "bootdir"));
  execFileSync("mkfifo", [path.join(root, "fifo")]);
});

afterAll(() => rm(base, { recursive: true, force: true }));

async function refusal(requested: string): Promise<PathRefusedError> {
  const error = await resolveUnderRoot(root, requested).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(PathRefusedError);
  return error as PathRefusedError;
}

describe("resolveUnderRoot", () => {
  it("resolves a plain file, with or without a leading slash or ./ segments", async () => {
    const expected = { path: path.join(root, "ipxe.efi"), size: 4 };
    expect(await resolveUnderRoot(root, "ipxe.efi")).toEqual(expected);
    expect(await resolveUnderRoot(root, "/ipxe.efi")).toEqual(expected);
    expect(await resolveUnderRoot(root, "./ipxe.efi")).toEqual(expected);
    expect(await resolveUnderRoot(root, "efi//boot/./bootx64.efi")).toMatchObject({ size: 4 });
  });

  it("takes an absolute path that already names a file inside the root", async () => {
    const absolute = path.join(root, "efi", "boot", "bootx64.efi");
    expect(await resolveUnderRoot(root, absolute)).toEqual({ path: absolute, size: 4 });
  });

  it("keeps an absolute path outside the root inside it (and so finds nothing)", async () => {
    const error = await refusal(path.join(base, "secret"));
    expect(error.notFound).toBe(true);
    expect((await refusal("/etc/passwd")).notFound).toBe(true);
  });

  it.each(["..", "../secret", "efi/../../secret", "/../secret", "efi/boot/../../../secret"])(
    "refuses the .. path %s without looking at the disk",
    async (requested) => {
      const error = await refusal(requested);
      expect(error.reason).toBe("contains a .. segment");
      expect(error.notFound).toBe(false);
    },
  );

  it("refuses a symlink that leads out of the root", async () => {
    expect((await refusal("escape")).reason).toBe("resolves outside the served root");
    expect((await refusal("etc-link/passwd")).reason).toBe("resolves outside the served root");
  });

  it("follows symlinks that stay inside the root", async () => {
    expect(await resolveUnderRoot(root, "alias.efi")).toEqual({
      path: path.join(root, "ipxe.efi"),
      size: 4,
    });
    expect(await resolveUnderRoot(root, "bootdir/bootx64.efi")).toMatchObject({
      path: path.join(root, "efi", "boot", "bootx64.efi"),
    });
  });

  it("refuses NUL bytes and backslashes", async () => {
    expect((await refusal("ipxe.efi\0.png")).reason).toBe("contains a NUL byte");
    expect((await refusal("..\\secret")).reason).toBe("contains a backslash");
    expect((await refusal("efi\\boot\\bootx64.efi")).reason).toBe("contains a backslash");
  });

  it("refuses directories, FIFOs, the root itself and the empty path", async () => {
    expect((await refusal("efi")).reason).toBe("not a regular file");
    expect((await refusal("fifo")).reason).toBe("not a regular file");
    expect((await refusal("/")).reason).toBe("names the root itself");
    expect((await refusal(root)).reason).toBe("names the root itself");
    expect((await refusal("")).reason).toBe("empty path");
  });

  it("reports a missing file as not found", async () => {
    const error = await refusal("missing.efi");
    expect(error).toMatchObject({ reason: "no such file", notFound: true });
  });

  it("works when the root itself is reached through a symlink", async () => {
    const linkedRoot = path.join(base, "root-link");
    await symlink(root, linkedRoot);
    expect(await resolveUnderRoot(linkedRoot, "ipxe.efi")).toMatchObject({ size: 4 });
    expect((await resolveUnderRoot(linkedRoot, path.join(linkedRoot, "ipxe.efi"))).size).toBe(4);
    expect((await refusal("escape")).reason).toBe("resolves outside the served root");
  });
});

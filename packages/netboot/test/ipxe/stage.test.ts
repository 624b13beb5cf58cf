import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { stageFirstStages } from "../../src/ipxe/stage.js";

let base: string;
let source: string;
let root: string;
let secret: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "netboot-stage-"));
  source = path.join(base, "ipxe");
  root = path.join(base, "staged");
  secret = path.join(base, "secret");
  await mkdir(source);
  await writeFile(secret, "not for clients");
  await writeFile(path.join(source, "undionly.kpxe"), "bios first stage");
});
afterEach(() => rm(base, { recursive: true, force: true }));

describe("stageFirstStages", () => {
  it("copies only the named first stages, never other files or links of the directory", async () => {
    await writeFile(path.join(source, "notes.txt"), "operator notes");
    await symlink(secret, path.join(source, "secret.efi"));
    const staged = await stageFirstStages(source, root, ["undionly.kpxe", "ipxe.efi"]);
    expect(staged).toEqual(["undionly.kpxe"]);
    expect(await readdir(root)).toEqual(["undionly.kpxe"]);
    expect(await readFile(path.join(root, "undionly.kpxe"), "utf8")).toBe("bios first stage");
    expect((await stat(root)).mode & 0o777).toBe(0o700);
  });

  it("refuses a named first stage that links out of the directory, leaving nothing behind", async () => {
    await symlink(secret, path.join(source, "ipxe.efi"));
    const staging = stageFirstStages(source, root, ["undionly.kpxe", "ipxe.efi"]);
    await expect(staging).rejects.toThrow(ConfigError);
    await expect(staging).rejects.toThrow(`is a link to ${secret}, outside ${source}`);
    await expect(stat(root)).rejects.toThrow();
  });

  it("refuses a link through a directory that leaves, and a relative link climbing out", async () => {
    await mkdir(path.join(base, "elsewhere"));
    await writeFile(path.join(base, "elsewhere", "snp.efi"), "outside");
    await symlink(path.join(base, "elsewhere"), path.join(source, "arm64"));
    await expect(stageFirstStages(source, root, ["arm64/snp.efi"])).rejects.toThrow(/outside/);
    await symlink("../secret", path.join(source, "snponly.efi"));
    await expect(stageFirstStages(source, root, ["snponly.efi"])).rejects.toThrow(/outside/);
  });

  it("follows links that stay inside the directory and links to a packaged location", async () => {
    await symlink("undionly.kpxe", path.join(source, "undionly-link.kpxe"));
    const packaged = path.join(base, "boot", "ipxe.efi");
    await mkdir(path.dirname(packaged));
    await writeFile(packaged, "uefi first stage");
    // Debian's layout: /usr/lib/ipxe/ipxe.efi → /boot/ipxe.efi (an allowed packaged target).
    await symlink(packaged, path.join(source, "ipxe.efi"));
    const staged = await stageFirstStages(
      source,
      root,
      ["undionly-link.kpxe", "ipxe.efi"],
      [packaged],
    );
    expect(staged).toEqual(["ipxe.efi", "undionly-link.kpxe"]);
    expect(await readFile(path.join(root, "ipxe.efi"), "utf8")).toBe("uefi first stage");
    expect(await readFile(path.join(root, "undionly-link.kpxe"), "utf8")).toBe("bios first stage");
  });

  it("stages a first stage in a subdirectory", async () => {
    await mkdir(path.join(source, "arm64"));
    await writeFile(path.join(source, "arm64", "snp.efi"), "arm64 first stage");
    expect(await stageFirstStages(source, root, ["arm64/snp.efi"])).toEqual(["arm64/snp.efi"]);
    expect(await readFile(path.join(root, "arm64", "snp.efi"), "utf8")).toBe("arm64 first stage");
  });

  it.each(["../secret", "/etc/passwd", "a/../../secret", "", "a\\b"])(
    "refuses the name %j",
    async (name) => {
      await expect(stageFirstStages(source, root, [name])).rejects.toThrow(ConfigError);
    },
  );

  it("refuses a named first stage that is not a regular file", async () => {
    await mkdir(path.join(source, "ipxe.efi"));
    await execa("mkfifo", [path.join(source, "snponly.efi")]);
    await expect(stageFirstStages(source, root, ["ipxe.efi"])).rejects.toThrow(
      /not a regular file/,
    );
    // A FIFO would block a plain open: O_NOFOLLOW + fstat must refuse it without hanging.
    await expect(stageFirstStages(source, root, ["snponly.efi"])).rejects.toThrow(
      /not a regular file/,
    );
  });

  it("names the directory when it cannot be read", async () => {
    await expect(stageFirstStages(path.join(base, "missing"), root, ["ipxe.efi"])).rejects.toThrow(
      /first-stage directory .*missing cannot be read/,
    );
  });
});

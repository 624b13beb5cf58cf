/**
 * The README's API example, run as it stands: the ```ts block under "The API in twenty lines"
 * is written to a scratch directory where `netboot` resolves to this package (its built
 * exports, as an npm user would import it), and run in a namespace whose host has the example's
 * address. A second host talks to it the way machines and callers do.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onLines, VirtualNetwork, type NetHost } from "metal-lab";

const PACKAGE_DIR = new URL("..", import.meta.url).pathname;
const REPO_ROOT = path.resolve(PACKAGE_DIR, "../..");
const EXAMPLE_HEADING = "## The API in twenty lines";
const START_TIMEOUT_MS = 30_000;

/** The first ```ts block after the heading. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(PACKAGE_DIR, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(EXAMPLE_HEADING));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error(`README.md has no \`\`\`ts block under "${EXAMPLE_HEADING}"`);
  return match[1];
}

describe("the README's API example", () => {
  let work: string;
  let network: VirtualNetwork;
  let caller: NetHost;
  let example: ResultPromise;
  const output: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), "netboot-readme-"));
    await mkdir(path.join(work, "node_modules"));
    await symlink(PACKAGE_DIR, path.join(work, "node_modules", "netboot"));
    // .mts: ESM, as the example (top-level await) and the package are.
    const file = path.join(work, "example.mts");
    await writeFile(file, await readmeExample());
    network = await VirtualNetwork.create({ subnet: "192.168.1" });
    const serverHost = await network.addHost("server", 10);
    caller = await network.addHost("caller", 20);
    // tsx from the repository (cwd); `netboot` from the scratch directory's node_modules.
    const [command, args] = serverHost.argv(process.execPath, ["--import", "tsx", file]);
    example = execa(command, args, { cwd: REPO_ROOT, reject: false, all: true });
    await new Promise<void>((resolve, reject) => {
      onLines(example.all, (line) => {
        output.push(line);
        if (line.startsWith("serving on")) resolve();
      });
      void example.then((result) =>
        reject(new Error(`the example exited (${result.exitCode}):\n${output.join("\n")}`)),
      );
      setTimeout(() => reject(new Error("the example did not start")), START_TIMEOUT_MS);
    });
  }, START_TIMEOUT_MS * 2);

  afterAll(async () => {
    example?.kill("SIGKILL");
    await example;
    await network?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  const curl = (...args: string[]) =>
    caller.run("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", ...args], { reject: false });

  it("serves on 192.168.1.10:8080, asks its policy per MAC, and takes the extra route", async () => {
    expect(output).toContain("serving on http://192.168.1.10:8080");
    const unknown = await curl("http://192.168.1.10:8080/boot/52:54:00:00:00:01.ipxe");
    expect(unknown.stdout).toContain("is not booted by this server: unknown machine");
    expect(unknown.stdout).toMatch(/\n404$/);
    // The known machine is booted: the policy's kernel is looked up (the README's /srv/vmlinuz
    // does not exist here), and the answer says so without naming a file of the server (ADR 0162).
    const known = await curl("http://192.168.1.10:8080/boot/52:54:00:12:34:56.ipxe");
    expect(known.stdout).toContain(
      "cannot boot 52:54:00:12:34:56: the server's boot files are unusable",
    );
    expect(known.stdout).not.toContain("/srv/vmlinuz");
    expect(known.stdout).toMatch(/\n500$/);
    const callback = await curl(
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-d",
      '{"mac":"52:54:00:12:34:56"}',
      "http://192.168.1.10:8080/callback",
    );
    expect(String(callback.stdout).split("\n")).toEqual([
      '{"received":{"mac":"52:54:00:12:34:56"}}',
      "200",
    ]);
  });

  it("stops on SIGINT and exits 0", async () => {
    example.kill("SIGINT");
    const result = await example;
    expect(result.exitCode).toBe(0);
  });
});

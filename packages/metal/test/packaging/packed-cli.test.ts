/**
 * The non-Nix install story, end to end: pack the CLI the way docs/install.md says, install the
 * tarball into an EMPTY prefix with npm's registry out of reach (--offline), and run it from
 * there, with no checkout beside it. Slow (npm extracts a few thousand files), so one pack and
 * one install serve every test here.
 */
import { execa } from "execa";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = new URL("../../../../", import.meta.url).pathname;
const PACKAGE_JSON = new URL("../../package.json", import.meta.url);
const PACK_AND_INSTALL_TIMEOUT_MS = 15 * 60 * 1000;
/** Each test starts the installed CLI or its dashboard; a busy machine needs time. */
const RUN_TIMEOUT_MS = 60_000;

let work: string;
let prefix: string;
let installed: string;
/** Neither the repository nor the test's working directory: the installed CLI is on its own. */
let elsewhere: string;

const metal = (...args: string[]) =>
  execa(join(prefix, "bin", "metal"), args, { cwd: elsewhere, reject: false });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "metal-pack-"));
  prefix = join(work, "prefix");
  elsewhere = join(work, "elsewhere");
  await execa("mkdir", ["-p", elsewhere]);
  await execa("sh", [join(REPO, "scripts/pack-cli.sh"), work], { cwd: REPO });
  const tarball = (await readdir(work)).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error(`scripts/pack-cli.sh left no tarball in ${work}`);
  await execa(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--offline",
      "--no-audit",
      "--no-fund",
      join(work, tarball),
    ],
    { cwd: elsewhere },
  );
  installed = join(prefix, "lib", "node_modules", "metal-homelab");
}, PACK_AND_INSTALL_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the packed metal CLI installed into an empty prefix", { timeout: RUN_TIMEOUT_MS }, () => {
  it("prints the package's version with --version", async () => {
    const { version } = JSON.parse(await readFile(PACKAGE_JSON, "utf8")) as { version: string };
    const result = await metal("--version");
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it("runs metal lab --help, whose command loads the bundled metal-lab package", async () => {
    const result = await metal("lab", "--help");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/Usage: metal lab/);
  });

  it("serves the dashboard page and its script from the installed package, for the packed lab inventory", async () => {
    // The dashboard lives only as long as an install or deploy; start it through the installed
    // package's own API with the lab inventory it carries in share/.
    const script = `
      import { loadInventory, startDashboard } from ${JSON.stringify(join(installed, "dist/index.js"))};
      const inventory = await loadInventory(${JSON.stringify(join(installed, "share/examples/lab.toml"))});
      const dashboard = await startDashboard({ inventory, port: 0 });
      const page = await (await fetch(dashboard.url)).text();
      const code = await fetch(new URL("dashboard.js", dashboard.url));
      await dashboard.close();
      process.stdout.write(JSON.stringify({ page, codeStatus: code.status, codeType: code.headers.get("content-type") }));
    `;
    const result = await execa(process.execPath, ["--input-type=module", "-e", script], {
      cwd: elsewhere,
    });
    const { page, codeStatus, codeType } = JSON.parse(result.stdout) as {
      page: string;
      codeStatus: number;
      codeType: string;
    };
    expect(page).toMatch(/<html/i);
    expect(page).toMatch(/dashboard\.js/);
    expect(codeStatus).toBe(200);
    expect(codeType).toMatch(/javascript/);
  });

  it("carries the callback agent the lab's stand-in installer runs", async () => {
    const agent = await readFile(join(installed, "share/nix/installer/metal-agent.sh"), "utf8");
    expect(agent).toBe(await readFile(join(REPO, "nix/installer/metal-agent.sh"), "utf8"));
  });
});

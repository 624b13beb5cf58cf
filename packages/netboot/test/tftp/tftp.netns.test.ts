/**
 * Interop against TFTP clients nobody here wrote: atftp 0.8 (blksize, tsize, windowsize),
 * tftp-hpa's tftp (plain RFC 1350) and curl (blksize), with our server on port 69 in its own
 * namespace and the clients in another. Received bytes are compared by sha256.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onLines } from "../../../lab/src/lines.js";
import { VirtualNetwork, type NetHost } from "../../../lab/src/netns.js";
import type { NetbootEvent } from "../../src/events.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = path.resolve(here, "../../../../node_modules/.bin/tsx");
const ENTRY = path.join(here, "serve.entry.ts");
const CLIENT_TIMEOUT_MS = 120_000;
/** Past 65535 blocks of 512 bytes: the block number must roll over. */
const ROLLOVER_SIZE = 33 * 1024 * 1024 + 777;
const SECRET = "outside-the-root";
const CURLE_TFTP_PERM = 69;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let network: VirtualNetwork;
let serverHost: NetHost;
let client: NetHost;
let base: string;
let root: string;
let out: string;
let server: ResultPromise | undefined;
const events: NetbootEvent[] = [];
const files = new Map<string, string>();

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "tftp-netns-"));
  root = path.join(base, "root");
  out = path.join(base, "out");
  await mkdir(path.join(root, "efi"), { recursive: true });
  await mkdir(out);
  for (const [name, size] of [
    ["ipxe.efi", 1024 * 1024 + 123],
    ["efi/exact.bin", 512 * 100],
    ["big.img", ROLLOVER_SIZE],
  ] as const) {
    const bytes = randomBytes(size);
    await writeFile(path.join(root, name), bytes);
    files.set(name, sha256(bytes));
  }
  await writeFile(path.join(base, "secret.txt"), SECRET);
  await symlink(path.join(base, "secret.txt"), path.join(root, "escape"));

  network = await VirtualNetwork.create({ subnet: "10.78.3" });
  serverHost = await network.addHost("srv", 1);
  client = await network.addHost("cli", 2);
  const [file, args] = serverHost.argv(TSX, [ENTRY, root, "0.0.0.0", "69"]);
  server = execa(file, args, { buffer: false, reject: false });
  const listening = new Promise<void>((resolve, reject) => {
    onLines(server?.stdout, (line) => {
      if (line.startsWith("listening")) resolve();
      else if (line.startsWith("{")) events.push(JSON.parse(line) as NetbootEvent);
    });
    void server?.then((result) => reject(new Error(`server exited: ${String(result.stderr)}`)));
  });
  await listening;
}, 120_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await server;
  await network?.destroy();
  await rm(base, { recursive: true, force: true });
});

async function fetched(name: string): Promise<string> {
  return sha256(await readFile(path.join(out, name)));
}

function lastStart(file: string) {
  return events.filter((event) => event.type === "tftp.start" && event.file === file).at(-1);
}

describe("TFTP interop in network namespaces", () => {
  it("serves atftp with blksize and tsize", async () => {
    const result = await client.run(
      "atftp",
      [
        "-g",
        "-r",
        "ipxe.efi",
        "-l",
        path.join(out, "atftp.efi"),
        "--option",
        "blksize 1468",
      ].concat(["--option", "tsize 0", serverHost.address, "69"]),
      { timeout: CLIENT_TIMEOUT_MS },
    );
    expect(result.exitCode).toBe(0);
    expect(await fetched("atftp.efi")).toBe(files.get("ipxe.efi"));
    expect(lastStart("ipxe.efi")).toMatchObject({ blksize: 1468, windowsize: 1 });
  });

  it("serves atftp with windowsize 8 (RFC 7440)", async () => {
    const result = await client.run(
      "atftp",
      [
        "-g",
        "-r",
        "/ipxe.efi",
        "-l",
        path.join(out, "window.efi"),
        "--option",
        "blksize 1468",
      ].concat(["--option", "windowsize 8", serverHost.address, "69"]),
      { timeout: CLIENT_TIMEOUT_MS },
    );
    expect(result.exitCode).toBe(0);
    expect(await fetched("window.efi")).toBe(files.get("ipxe.efi"));
    expect(lastStart("/ipxe.efi")).toMatchObject({ blksize: 1468, windowsize: 8 });
  });

  it("serves tftp-hpa's client in binary mode, including a file of whole blocks", async () => {
    for (const [remote, local] of [
      ["ipxe.efi", "hpa.efi"],
      ["efi/exact.bin", "hpa-exact.bin"],
    ] as const) {
      const result = await client.run(
        "tftp",
        ["-m", "binary", serverHost.address, "-c", "get", remote, path.join(out, local)],
        { timeout: CLIENT_TIMEOUT_MS },
      );
      expect(result.stderr).toBe("");
      expect(await fetched(local)).toBe(files.get(remote));
    }
  });

  it("serves curl with --tftp-blksize", async () => {
    const result = await client.run(
      "curl",
      ["-sS", "--tftp-blksize", "1024", "-o", path.join(out, "curl.efi")].concat(
        `tftp://${serverHost.address}/ipxe.efi`,
      ),
      { timeout: CLIENT_TIMEOUT_MS },
    );
    expect(result.exitCode).toBe(0);
    expect(await fetched("curl.efi")).toBe(files.get("ipxe.efi"));
    expect(lastStart("ipxe.efi")).toMatchObject({ blksize: 1024 });
  });

  it("serves a file above 32 MiB at blksize 512 across the block-number rollover", async () => {
    const result = await client.run(
      "atftp",
      ["-g", "-r", "big.img", "-l", path.join(out, "big.img"), serverHost.address, "69"],
      { timeout: CLIENT_TIMEOUT_MS },
    );
    expect(result.exitCode).toBe(0);
    expect(await fetched("big.img")).toBe(files.get("big.img"));
    expect(lastStart("big.img")).toMatchObject({ blksize: 512, size: ROLLOVER_SIZE });
  });

  it.each([
    ["../secret.txt", "contains a .. segment"],
    ["efi/../../secret.txt", "contains a .. segment"],
    ["escape", "resolves outside the served root"],
    ["..\\secret.txt", "contains a backslash"],
    ["/../../etc/passwd", "contains a .. segment"],
  ])("refuses %s over the wire with an ERROR packet", async (remote, reason) => {
    const local = path.join(out, "refused");
    const result = await client.run(
      "atftp",
      ["-g", "-r", remote, "-l", local].concat([serverHost.address, "69"]),
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    expect(result.exitCode).not.toBe(0);
    // atftp prints the server's ERROR message: the refusal reached the client on the wire, with
    // a fixed text; the reason is the operator's, in the event.
    expect(`${String(result.stdout)}${String(result.stderr)}`).toContain("access violation");
    const content = await readFile(local, "utf8").catch(() => "");
    expect(content).not.toContain(SECRET);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "tftp.error",
        file: remote,
        reason: expect.stringContaining(reason),
      }),
    );
  });

  it("refuses a traversal curl sends as it is written", async () => {
    const local = path.join(out, "curl-refused");
    const result = await client.run(
      "curl",
      ["-sS", "--path-as-is", "-o", local, `tftp://${serverHost.address}/../secret.txt`],
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    // curl maps ERROR 2 (access violation) to CURLE_TFTP_PERM.
    expect(result.exitCode).toBe(CURLE_TFTP_PERM);
    expect(await readFile(local, "utf8").catch(() => "")).not.toContain(SECRET);
  });

  it("answers a write request from tftp-hpa with an access violation", async () => {
    const upload = path.join(out, "upload.txt");
    await writeFile(upload, "data");
    const result = await client.run(
      "tftp",
      ["-m", "binary", serverHost.address, "-c", "put", upload, "upload.txt"],
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    expect(`${String(result.stdout)}${String(result.stderr)}`).toMatch(/read-only/);
    await expect(readFile(path.join(root, "upload.txt"))).rejects.toThrow();
  });
});

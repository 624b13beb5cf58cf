/**
 * The installed-host probe for real: OpenSSH's client against dropbear playing an installed host
 * that answers with the host key `metal secrets` pre-generated for it, one playing a stranger
 * (another key, as an installer or another machine would have), and nothing at all. Needs root:
 * dropbear logs root in with /root/.ssh/authorized_keys, so it runs in a private mount namespace
 * with a temp directory mounted over /root; the machine's own /root is never touched.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinnedSshProbe } from "../../src/install/installed-probe.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { loopbackHost, startLoopbackDropbear } from "../helpers/loopback-target.js";

/**
 * Apart from ssh-tunnel's 42 000–42 999 and rollback's 43 000–43 999: the netns group runs two
 * files at once.
 */
const BASE_PORT = 45_000 + (process.pid % 1000) * 2;
const INSTALLED_PORT = BASE_PORT;
const STRANGER_PORT = BASE_PORT + 1;

describe.skipIf(process.getuid?.() !== 0)(
  "is this host installed? (SSH with its pinned key)",
  () => {
    let dir: string;
    let secretsDir: string;
    const servers: ResultPromise[] = [];

    async function startDropbear(hostKey: string, port: number, home: string): Promise<void> {
      const { dropbear } = await startLoopbackDropbear({
        port,
        hostKey,
        mounts: [`mount --bind "${home}" /root`],
        pidFile: join(dir, `dropbear-${port}.pid`),
      });
      servers.push(dropbear);
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "metal-probe-test-"));
      secretsDir = join(dir, "secrets");
      const paths = privatePaths(secretsDir);
      // The keys as `metal secrets init` lays them out: OpenSSH ed25519, admin and node1's host key.
      for (const file of [paths.adminSshKey, paths.hostKey("node1")]) {
        await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
        await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
      }
      const home = join(dir, "root-home");
      await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
      await chmod(home, 0o700);
      await writeFile(
        join(home, ".ssh", "authorized_keys"),
        await readFile(`${paths.adminSshKey}.pub`),
        { mode: 0o600 },
      );
      // The installed system: node1's pre-generated key (what --extra-files put on its disk).
      const installedKey = join(dir, "installed_host_key");
      await execa("dropbearconvert", ["openssh", "dropbear", paths.hostKey("node1"), installedKey]);
      await startDropbear(installedKey, INSTALLED_PORT, home);
      // A stranger at the same address: the admin key logs in, but the host key is another.
      const strangerKey = join(dir, "stranger_host_key");
      await execa("dropbearkey", ["-t", "ed25519", "-f", strangerKey]);
      await startDropbear(strangerKey, STRANGER_PORT, home);
    }, 60_000);

    afterAll(async () => {
      for (const server of servers) server.kill("SIGTERM");
      await Promise.all(servers);
      await rm(dir, { recursive: true, force: true });
    });

    it("says installed when the host answers with its pinned host key", async () => {
      expect(
        await pinnedSshProbe({ secretsDir, port: INSTALLED_PORT })(loopbackHost("node1")),
      ).toBe(true);
    });

    it("says not installed when another key answers on the host's address", async () => {
      expect(await pinnedSshProbe({ secretsDir, port: STRANGER_PORT })(loopbackHost("node1"))).toBe(
        false,
      );
    });

    it("says not installed when nothing answers, or when no key was pinned for the host", async () => {
      const closedPort = BASE_PORT + 2_000;
      expect(await pinnedSshProbe({ secretsDir, port: closedPort })(loopbackHost("node1"))).toBe(
        false,
      );
      expect(
        await pinnedSshProbe({ secretsDir, port: INSTALLED_PORT })(loopbackHost("node2")),
      ).toBe(false);
    });
  },
);

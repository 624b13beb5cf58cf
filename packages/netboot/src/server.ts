/**
 * The three servers a network boot needs, started and stopped as one: HTTP (iPXE scripts,
 * kernels, initrds, first stages for UEFI HTTP boot), TFTP (first stages for PXE firmware) and
 * proxyDHCP (67 + 4011). DHCP starts last and stops first, so no machine is ever steered to a
 * server that is not listening yet or any more.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chainload } from "./chainload/index.js";
import { SCRIPT_DIRECTORY } from "./boot-urls.js";
import { ProxyDhcpServer } from "./dhcp/server.js";
import { GRUB_PREFIX_CONFIG_PATH, renderGrubPrefixConfig } from "./grub/config.js";
import { ConfigError } from "./errors.js";
import { stageFirstStages } from "./ipxe/stage.js";
import { NetbootEvents } from "./events.js";
import { createBootHttpServer, type BootHttpServer, type HttpLimits } from "./http/server.js";
import {
  DEBIAN_FIRST_STAGE_FILES,
  DEBIAN_IPXE_DIR,
  DEFAULT_FIRST_STAGES,
  type FirstStageBinaries,
} from "./ipxe/first-stage.js";
import type { BootPolicy } from "./policy.js";
import { TftpServer, type TftpLimits } from "./tftp/server.js";

export const DEFAULT_HTTP_PORT = 8080;

let instances = 0;

export interface NetbootServerOptions {
  /** The IPv4 address machines reach this server at (on the interface facing them). */
  readonly serverAddress: string;
  readonly policy: BootPolicy;
  readonly events?: NetbootEvents;
  /** Default DEFAULT_HTTP_PORT; 0 picks a free port. */
  readonly httpPort?: number;
  /**
   * Address the HTTP server binds. Default: `serverAddress`, so the boot files are not offered
   * on the admin machine's other networks.
   */
  readonly httpHost?: string;
  /**
   * Directory of first-stage binaries, served over TFTP and `/ipxe/`. Default Debian's. The
   * first stages named by `firstStages` and `firstStageFiles` are copied from it into a private
   * directory at start (see ipxe/stage.ts); nothing else in it is ever served.
   */
  readonly firstStageDir?: string;
  readonly firstStages?: FirstStageBinaries;
  /**
   * Further first stages the policy may name as a per-machine override (`firstStage`), staged
   * next to those of `firstStages`. Default DEBIAN_FIRST_STAGE_FILES (`snponly.efi` and the
   * defaults).
   */
  readonly firstStageFiles?: readonly string[];
  /** TFTP limits (slots, per-address cap, deadline…). Default: TftpServer's defaults. */
  readonly tftpLimits?: TftpLimits;
  /** HTTP time, size and connection limits. Default: DEFAULT_HTTP_LIMITS. */
  readonly httpLimits?: Partial<HttpLimits>;
  /** Overrides for tests and unusual setups; production uses the well-known ports. */
  readonly ports?: { readonly dhcp?: number; readonly pxe?: number; readonly tftp?: number };
  /** Where proxyDHCP broadcasts go (see ProxyDhcpServerOptions.broadcastAddress). */
  readonly broadcastAddress?: string;
}

export class NetbootServer {
  readonly events: NetbootEvents;
  /** The HTTP server: add routes to `http.app` before `start()`. */
  readonly http: BootHttpServer;
  readonly #options: NetbootServerOptions;
  /** Private copy of the first stages (ipxe/stage.ts), filled by start(). */
  readonly #stageRoot: string;
  #tftp: TftpServer | undefined;
  #dhcp: ProxyDhcpServer | undefined;
  #httpUrl: string | undefined;

  constructor(options: NetbootServerOptions) {
    this.#options = options;
    this.events = options.events ?? new NetbootEvents();
    this.#stageRoot = path.join(tmpdir(), `netboot-first-stage-${process.pid}-${instances++}`);
    this.http = createBootHttpServer({
      policy: options.policy,
      events: this.events,
      firstStageDir: this.#stageRoot,
      ...(options.httpLimits ? { limits: options.httpLimits } : {}),
    });
  }

  /** The URL machines use for HTTP (known once started). */
  get httpUrl(): string {
    if (this.#httpUrl === undefined) throw new Error("NetbootServer: not started");
    return this.#httpUrl;
  }

  /** Starts HTTP, then TFTP, then proxyDHCP; on any failure, stops what started and rethrows. */
  async start(): Promise<void> {
    const options = this.#options;
    const wanted = options.firstStages ?? DEFAULT_FIRST_STAGES;
    try {
      const sourceDir = options.firstStageDir ?? DEBIAN_IPXE_DIR;
      const configured = Object.values(wanted);
      const staged = await stageFirstStages(sourceDir, this.#stageRoot, [
        ...configured,
        ...(options.firstStageFiles ?? DEBIAN_FIRST_STAGE_FILES),
      ]);
      if (!configured.some((name) => staged.includes(name))) {
        throw new ConfigError(
          `first-stage directory ${sourceDir} has none of ${configured.join(", ")} ` +
            `(install Debian's ipxe package, or point it at your iPXE binaries)`,
        );
      }
      // A family whose first stage is not in the directory is left out of the table, so its
      // machines are ignored with that reason (a dhcp.ignored event) instead of being sent to
      // a TFTP path that does not exist.
      const firstStages = Object.fromEntries(
        Object.entries(wanted).filter(([, name]) => staged.includes(name)),
      ) as FirstStageBinaries;
      this.#httpUrl = await this.http.listen({
        host: options.httpHost ?? options.serverAddress,
        port: options.httpPort ?? DEFAULT_HTTP_PORT,
      });
      // GRUB's network image reads $prefix/grub.cfg from the TFTP server it came from.
      const grubConfig = path.join(this.#stageRoot, GRUB_PREFIX_CONFIG_PATH);
      await mkdir(path.dirname(grubConfig), { recursive: true, mode: 0o700 });
      await writeFile(grubConfig, renderGrubPrefixConfig(this.#httpUrl, SCRIPT_DIRECTORY));
      this.#tftp = new TftpServer({
        ...options.tftpLimits,
        root: this.#stageRoot,
        // Clients unicast to the address the DHCP reply named; unlike DHCP (which must bind
        // 0.0.0.0 to see broadcasts), TFTP needs nothing else, and its replies then leave from
        // that same address.
        address: options.serverAddress,
        events: this.events,
        ...(options.ports?.tftp === undefined ? {} : { port: options.ports.tftp }),
      });
      await this.#tftp.start();
      this.#dhcp = new ProxyDhcpServer({
        serverAddress: options.serverAddress,
        bootFiles: chainload({ policy: options.policy, httpBaseUrl: this.#httpUrl, firstStages }),
        events: this.events,
        ...(options.ports ? { ports: options.ports } : {}),
        ...(options.broadcastAddress ? { broadcastAddress: options.broadcastAddress } : {}),
      });
      await this.#dhcp.start();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Stops proxyDHCP first, then TFTP (aborting transfers), then HTTP. */
  async close(): Promise<void> {
    await this.#dhcp?.close();
    this.#dhcp = undefined;
    await this.#tftp?.close();
    this.#tftp = undefined;
    await this.http.close();
    await rm(this.#stageRoot, { recursive: true, force: true });
  }
}

/**
 * The HTTP side of network boot: per-machine iPXE scripts, the kernel and initrds those scripts
 * name, and the first-stage binaries for UEFI HTTP boot clients. One fastify instance; the
 * caller may add its own routes to `server.app` (callback API, dashboard, /metrics) before
 * `listen`.
 *
 * Routes:
 * - `GET /boot/:mac.ipxe` asks the boot policy (stage "script") and answers a boot script, a
 *   local-disk script, or 404 with the reason the policy gave for ignoring the machine.
 *   `GET /boot/:mac.grub` is the same route and the same policy question for GRUB's network
 *   image (the arm64 first stage, ADR 0190): only the language of the answer differs, so the
 *   kernel, initrds and command line (with the installer token) come from one place.
 * - `GET /grub/grub.cfg`: GRUB's prefix config, for GRUB loaded by UEFI HTTP boot (arch 19).
 * - `GET|HEAD /files/:id/:name` streams a file some boot script named (ids are opaque, see
 *   file-table.ts); nothing else is reachable there.
 * - `GET|HEAD /ipxe/:name` streams a first-stage binary from the first-stage directory, through
 *   the library's one path resolver.
 *
 * It does not log: everything that happens is an event on `events`. Error bodies are fixed
 * texts that name no path of this machine; the details go into events. Time, size and
 * connection limits (limits.ts) hold for every route on the instance.
 */
import { stat } from "node:fs/promises";
import { STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { ConfigError, PathRefusedError } from "../errors.js";
import type { NetbootEvents } from "../events.js";
import {
  BOOT_ROUTES,
  GRUB_CONFIG_SUFFIX,
  SCRIPT_DIRECTORY,
  SCRIPT_SUFFIX,
  scriptPath,
  withoutTrailingSlashes,
} from "../boot-urls.js";
import {
  grubHttpDevice,
  renderGrubBootConfig,
  renderGrubLocalBootConfig,
  renderGrubPrefixConfig,
} from "../grub/config.js";
import { DEBIAN_IPXE_DIR } from "../ipxe/first-stage.js";
import {
  renderBootScript,
  renderLocalBootScript,
  type FetchRetry,
  type ScriptInitrd,
} from "../ipxe/script.js";
import { isMac, parseMac, type Mac } from "../mac.js";
import type { BootDecision, BootPolicy, BootSpec } from "../policy.js";
import { resolveUnderRoot, type RootedFile } from "../rooted-path.js";
import { ChunkBudget } from "./chunk-budget.js";
import { BootFileTable, bootFileUrlPath, type BootFile } from "./file-table.js";
import {
  capConnections,
  DEFAULT_HTTP_LIMITS,
  fastifyLimitOptions,
  type HttpLimits,
} from "./limits.js";
import { sendFile } from "./send-file.js";

export { DEFAULT_HTTP_LIMITS, type HttpLimits } from "./limits.js";

export interface BootHttpServerOptions {
  /** Decides, per MAC, what a script request gets. */
  readonly policy: BootPolicy;
  readonly events: NetbootEvents;
  /** Where `/ipxe/:name` serves first-stage binaries from. Default: Debian's `/usr/lib/ipxe`. */
  readonly firstStageDir?: string;
  /**
   * The URL clients use to reach this server (`http://192.168.1.10:8080`), put into rendered
   * scripts. Default: the URL `listen` bound, which is only right when that address is one the
   * clients can reach; listening on a wildcard address without it is refused.
   */
  readonly baseUrl?: string;
  /** Retries of the rendered boot scripts. Default: DEFAULT_FETCH_RETRY (5 × 5 s). */
  readonly retry?: FetchRetry;
  /**
   * Bytes per disk read and socket write of a file response, fixed. Default: each response's
   * size comes from the responses in progress when it starts (DEFAULT_CHUNK_BUDGET, ADR 0360:
   * 1 MiB for up to 8 at once, then 512, 256, 128 KiB for later starters, 64 KiB at the least).
   */
  readonly chunkBytes?: number;
  /** A pino logger for fastify's own request logs. Default: none (the library emits events). */
  readonly logger?: FastifyBaseLogger;
  /** Time, size and connection limits. Default: DEFAULT_HTTP_LIMITS. */
  readonly limits?: Partial<HttpLimits>;
}

/** What a boot decision names, before it is written in a script language. */
interface BootFiles {
  readonly title: string;
  readonly baseUrl: string;
  /** URL paths (with query) on baseUrl. */
  readonly kernelPath: string;
  readonly initrds: readonly { readonly name: string; readonly path: string }[];
  readonly cmdline: string | undefined;
}

/** A language the per-machine boot file is written in, by the suffix the machine asks for. */
interface ScriptLanguage {
  readonly suffix: string;
  readonly boot: (files: BootFiles) => string;
  readonly local: (title: string) => string;
  readonly send: (reply: FastifyReply, body: string) => FastifyReply;
}

export interface BootHttpServer {
  /** The fastify instance: register more routes or plugins on it before `listen`. */
  readonly app: FastifyInstance;
  /** Starts listening; resolves to the bound URL, e.g. `http://127.0.0.1:8080`. */
  listen(address: { readonly host: string; readonly port: number }): Promise<string>;
  close(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";
const EXAMPLE_MAC = "52:54:00:12:34:56";
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", ""]);

export function createBootHttpServer(options: BootHttpServerOptions): BootHttpServer {
  const firstStageDir = options.firstStageDir ?? DEBIAN_IPXE_DIR;
  const chunks =
    options.chunkBytes === undefined ? new ChunkBudget() : ChunkBudget.fixed(options.chunkBytes);
  const { events, policy } = options;
  const files = new BootFileTable();
  let baseUrl = options.baseUrl === undefined ? undefined : withoutTrailingSlashes(options.baseUrl);

  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const app = Fastify({
    ...fastifyLimitOptions(limits),
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
  });
  capConnections(app.server, limits, events);
  const { writeTimeoutMs } = limits;
  app.addHook("onError", async (_request, _reply, error) => {
    events.emit({ type: "server.error", server: "http", error: error.message });
  });
  // fastify's default bodies repeat error messages (which may name files of this machine) and the
  // requested URL; ours say only what kind of failure it was.
  app.setErrorHandler((error: { statusCode?: number }, _request, reply) => {
    const status =
      error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    return sendText(reply, status, STATUS_CODES[status] ?? "error");
  });
  app.setNotFoundHandler((_request, reply) => sendText(reply, 404, "not found"));

  app.get<{ Params: { script: string } }>(BOOT_ROUTES.script, async (request, reply) => {
    const { script } = request.params;
    const language = SCRIPT_LANGUAGES.find(({ suffix }) => script.endsWith(suffix));
    const macText = language ? script.slice(0, -language.suffix.length) : "";
    if (!language || !isMac(macText)) {
      return sendText(
        reply,
        400,
        `${script} is not <MAC>${SCRIPT_SUFFIX} or <MAC>${GRUB_CONFIG_SUFFIX}, e.g. ${scriptPath(EXAMPLE_MAC)}`,
      );
    }
    const mac = parseMac(macText);
    let decision: BootDecision;
    try {
      decision = await policy({ mac, stage: "script", address: request.ip });
    } catch (error) {
      const message = errorMessage(error);
      events.emit({ type: "policy.error", mac, stage: "script", error: message });
      return sendText(reply, 500, `the boot policy failed for ${mac}`);
    }
    events.emit({ type: "http.script", mac, peer: request.ip, action: decision.action });
    switch (decision.action) {
      case "ignore":
        return sendText(reply, 404, `${mac} is not booted by this server: ${decision.reason}`);
      case "local":
        return language.send(reply, language.local(`${mac}: boot from the local disk`));
      case "boot":
        try {
          return language.send(reply, language.boot(await bootFilesFor(mac, decision.spec)));
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          events.emit({ type: "policy.error", mac, stage: "script", error: error.message });
          return sendText(reply, 500, `cannot boot ${mac}: the server's boot files are unusable`);
        }
    }
  });

  /** The boot files a decision names, registered for download, in both script languages' terms. */
  async function bootFilesFor(mac: Mac, spec: BootSpec): Promise<BootFiles> {
    if (baseUrl === undefined) {
      throw new ConfigError("no baseUrl: pass one, or listen on an address clients can reach");
    }
    const kernel = await registerExisting(spec.kernel, "kernel");
    const initrds = await Promise.all(spec.initrds.map((p) => registerExisting(p, "initrd")));
    const query = `?mac=${mac}`;
    return {
      title: `${mac}: boot ${kernel.path}`,
      baseUrl,
      kernelPath: `${bootFileUrlPath(kernel)}${query}`,
      initrds: initrds.map((file) => ({
        name: file.name,
        path: `${bootFileUrlPath(file)}${query}`,
      })),
      cmdline: spec.cmdline,
    };
  }

  function renderIpxe(files: BootFiles): string {
    const used = new Set<string>();
    const scriptInitrds = files.initrds.map((file, index): ScriptInitrd => {
      // Two initrds with one file name (two directories) still need distinct iPXE image names.
      const name = used.has(file.name) ? `${index}-${file.name}` : file.name;
      used.add(name);
      return { name, url: `${files.baseUrl}${file.path}` };
    });
    return renderBootScript({
      title: files.title,
      kernelUrl: `${files.baseUrl}${files.kernelPath}`,
      initrds: scriptInitrds,
      cmdline: files.cmdline,
      retry: options.retry,
    });
  }

  function renderGrub(files: BootFiles): string {
    return renderGrubBootConfig({
      title: files.title,
      device: grubHttpDevice(files.baseUrl),
      kernelPath: files.kernelPath,
      initrdPaths: files.initrds.map((file) => file.path),
      cmdline: files.cmdline,
    });
  }

  const SCRIPT_LANGUAGES: readonly ScriptLanguage[] = [
    { suffix: SCRIPT_SUFFIX, boot: renderIpxe, local: renderLocalBootScript, send: sendScript },
    {
      suffix: GRUB_CONFIG_SUFFIX,
      boot: renderGrub,
      local: renderGrubLocalBootConfig,
      send: sendGrubConfig,
    },
  ];

  app.get(BOOT_ROUTES.grubPrefixConfig, async (_request, reply) => {
    if (baseUrl === undefined)
      return sendText(reply, 500, "no baseUrl: the server is not listening");
    return sendGrubConfig(reply, renderGrubPrefixConfig(baseUrl, SCRIPT_DIRECTORY));
  });

  async function registerExisting(filePath: string, role: string): Promise<BootFile> {
    const info = await stat(filePath).catch(() => undefined);
    if (!info?.isFile()) {
      throw new ConfigError(`the boot spec's ${role} ${filePath} is not a readable file`);
    }
    // Registered only once it exists: a failed render leaves nothing servable behind.
    return files.register(filePath);
  }

  app.route<{ Params: { id: string; name: string }; Querystring: { mac?: string } }>({
    method: ["GET", "HEAD"],
    url: BOOT_ROUTES.bootFile,
    handler: async (request, reply) => {
      const file = files.get(request.params.id);
      if (!file || file.name !== request.params.name) {
        return sendText(
          reply,
          404,
          "no such boot file: only files named by a boot script are served",
        );
      }
      const macText = request.query.mac;
      const mac = macText !== undefined && isMac(macText) ? parseMac(macText) : undefined;
      return sendFile(request, reply, file.path, { events, chunks, writeTimeoutMs, mac });
    },
  });

  app.route<{ Params: { name: string } }>({
    method: ["GET", "HEAD"],
    url: BOOT_ROUTES.firstStage,
    handler: async (request, reply) => {
      let file: RootedFile;
      try {
        file = await resolveUnderRoot(firstStageDir, request.params.name);
      } catch (error) {
        if (error instanceof PathRefusedError) return sendText(reply, 404, "no such first stage");
        const message = `first-stage directory ${firstStageDir} is unusable: ${errorMessage(error)}`;
        events.emit({ type: "server.error", server: "http", error: message });
        return sendText(reply, 500, "first stages are unavailable");
      }
      return sendFile(request, reply, file.path, {
        events,
        chunks,
        writeTimeoutMs,
        mac: undefined,
      });
    },
  });

  return {
    app,
    async listen({ host, port }) {
      if (baseUrl === undefined && WILDCARD_HOSTS.has(host)) {
        throw new ConfigError(
          `listening on ${host || "all addresses"} needs a baseUrl: the address clients use ` +
            `to reach this server, e.g. http://192.168.1.10:${port}`,
        );
      }
      await app.listen({ host, port });
      const address = app.server.address() as AddressInfo;
      const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
      const bound = `http://${hostPart}:${address.port}`;
      baseUrl ??= bound;
      return bound;
    },
    async close() {
      await app.close();
    },
  };
}

function sendText(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type(TEXT).send(`${body}\n`);
}

function sendScript(reply: FastifyReply, body: string): FastifyReply {
  // A script is a decision for this boot attempt; a cached one could reinstall a machine.
  return reply.code(200).type(TEXT).header("cache-control", "no-store").send(body);
}

/**
 * A GRUB config, with its headers spelled as GRUB's HTTP client matches them: it compares
 * `Content-Length: ` byte for byte (grub-core/net/http.c, parse_line), although RFC 9110 §5.1
 * makes field names case-insensitive. fastify writes them in lower case, and without a length it
 * sees, GRUB waits for the end of a keep-alive connection that never comes (measured: the
 * config never loads). So this one response goes out through Node's response with the names
 * written as given.
 */
function sendGrubConfig(reply: FastifyReply, body: string): FastifyReply {
  reply.hijack();
  reply.raw.writeHead(200, {
    "Content-Type": TEXT,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  reply.raw.end(body);
  return reply;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

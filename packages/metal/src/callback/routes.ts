/**
 * The callback API on the provisioner's HTTP server, exactly as docs/callback-protocol.md
 * describes it: the installer posts its facts, the installed system reports its first boot.
 * Every answer is JSON; 401 for token problems, 400 for bodies that do not follow the protocol,
 * 409 for facts that contradict the inventory, 503 when the client should simply retry.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Inventory } from "../inventory/types.js";
import { PhaseConflictError } from "../state/errors.js";
import type { Clock } from "../state/file-store.js";
import type { StateStore } from "../state/store.js";
import type { HostRecord, TokenPurpose } from "../state/types.js";
import {
  describeBodyError,
  factsMismatch,
  firstBootFactsSchema,
  installerFactsSchema,
  sameSshKey,
} from "./facts.js";
import { checkToken } from "./tokens.js";

export const CALLBACK_PATH = "/callback/v1";
/** Facts of a machine with many disks stay far below this. */
const BODY_LIMIT_BYTES = 256 * 1024;
/** Seconds a first-boot caller waits before asking again while the install is still finishing. */
const RETRY_AFTER_SECONDS = 5;

export interface CallbackDeps {
  readonly inventory: Inventory;
  readonly store: StateStore;
  readonly clock?: Clock;
  /**
   * The SSH host key pre-generated for a host (`metal secrets`), when one exists: the first-boot
   * callback must present exactly that key.
   */
  readonly expectedHostKey?: (host: string) => Promise<string | undefined>;
}

/** A refusal with its HTTP status; the message goes to the agent, which shows it on the console. */
class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 409 | 503,
    message: string,
  ) {
    super(message);
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
  return match?.[1];
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new Refusal(
      400,
      `body does not follow the callback protocol: ${describeBodyError(result.error)}`,
    );
  return result.data;
}

export async function registerCallbackRoutes(
  app: FastifyInstance,
  deps: CallbackDeps,
): Promise<void> {
  const clock = deps.clock ?? Date.now;
  const hostsByName = new Map(deps.inventory.hosts.map((host) => [host.name, host]));
  const hostsByMac = new Map(deps.inventory.hosts.map((host) => [host.mac, host]));

  function authenticate(request: FastifyRequest, purpose: TokenPurpose): HostRecord {
    const check = checkToken(
      Object.values(deps.store.snapshot().hosts),
      bearerToken(request),
      purpose,
      clock(),
    );
    if (!check.ok) throw new Refusal(401, check.reason);
    return check.host;
  }

  /** The MAC must be the token's host's; another known host's MAC means a borrowed token. */
  function checkMac(record: HostRecord, mac: string): void {
    const host = hostsByName.get(record.name);
    if (!host)
      throw new Refusal(401, `token of host "${record.name}", which is no longer in the inventory`);
    if (host.mac === mac) return;
    const owner = hostsByMac.get(mac);
    if (owner)
      throw new Refusal(
        401,
        `token belongs to host "${host.name}", but MAC ${mac} is host "${owner.name}"'s`,
      );
    throw new Refusal(
      409,
      `host "${host.name}": MAC ${mac} booted, but the inventory says ${host.mac}. Fix hosts.mac in the inventory`,
    );
  }

  /** Applies the accepting change, failing with 401 if the token was replaced or used meanwhile. */
  async function accept(
    record: HostRecord,
    purpose: TokenPurpose,
    change: Parameters<StateStore["change"]>[1],
  ) {
    const presented = record.tokens[purpose]?.sha256;
    try {
      await deps.store.change(record.name, {
        ...change,
        update: (current) => {
          const stored = current.tokens[purpose];
          if (!stored || stored.sha256 !== presented || stored.usedAt !== undefined) {
            throw new Refusal(401, `token of host "${record.name}" was replaced or used meanwhile`);
          }
          return {
            ...change.update?.(current),
            tokens: { ...current.tokens, [purpose]: { ...stored, usedAt: clock() } },
          };
        },
      });
    } catch (error) {
      if (error instanceof PhaseConflictError) {
        throw new Refusal(
          401,
          `token of host "${record.name}" is no longer valid: the host is in phase ${error.actual}`,
        );
      }
      throw error;
    }
  }

  /** Keeps the reason a callback was refused as the host's last step, for `metal status`. */
  async function noteRefusal(record: HostRecord, refusal: Refusal): Promise<void> {
    await deps.store
      .change(record.name, { expect: record.phase, step: `callback refused: ${refusal.message}` })
      .catch(() => undefined);
  }

  async function installer(request: FastifyRequest): Promise<{ host: string; status: "accepted" }> {
    const record = authenticate(request, "installer");
    const facts = parseBody(installerFactsSchema, request.body);
    checkMac(record, facts.mac);
    const mismatch = factsMismatch(hostsByName.get(record.name)!, facts);
    if (mismatch) {
      const refusal = new Refusal(409, mismatch);
      await noteRefusal(record, refusal);
      throw refusal;
    }
    await accept(record, "installer", {
      expect: "pxe",
      to: "installer",
      step: `installer called back from ${facts.ip}; SSH host key pinned`,
      update: () => ({ installer: { sshHostKey: facts.sshHostKey.trim(), ip: facts.ip, facts } }),
    });
    return { host: record.name, status: "accepted" };
  }

  async function firstBoot(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ host: string; status: "accepted" }> {
    const record = authenticate(request, "first-boot");
    const facts = parseBody(firstBootFactsSchema, request.body);
    checkMac(record, facts.mac);
    if (record.phase === "installing") {
      void reply.header("retry-after", String(RETRY_AFTER_SECONDS));
      throw new Refusal(503, `host "${record.name}" is still finishing its install; retry`);
    }
    const expected = await deps.expectedHostKey?.(record.name);
    if (expected !== undefined && !sameSshKey(expected, facts.sshHostKey)) {
      const refusal = new Refusal(
        409,
        `host "${record.name}": the running system's SSH host key is not the one metal generated for it ` +
          `(the install did not place the host key, or another machine answers on this token)`,
      );
      await noteRefusal(record, refusal);
      throw refusal;
    }
    await accept(record, "first-boot", {
      expect: "installed",
      to: "ready",
      step: `first boot called back from ${facts.ip}`,
    });
    return { host: record.name, status: "accepted" };
  }

  await app.register(
    async (scope) => {
      scope.setErrorHandler((error: FastifyError | Refusal, _request, reply) => {
        if (error instanceof Refusal)
          return reply.code(error.status).send({ error: error.message });
        const status = error.statusCode ?? 500;
        // Body parser failures (not JSON, wrong content type, too large) are bad bodies to the agent.
        if (status >= 400 && status < 500)
          return reply.code(400).send({ error: `bad request body: ${error.message}` });
        scope.log.error(error);
        return reply.code(500).send({ error: "internal error; the agent retries" });
      });
      scope.post("/installer", { bodyLimit: BODY_LIMIT_BYTES }, installer);
      scope.post("/first-boot", { bodyLimit: BODY_LIMIT_BYTES }, firstBoot);
    },
    { prefix: CALLBACK_PATH },
  );
}

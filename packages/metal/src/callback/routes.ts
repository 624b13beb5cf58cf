/**
 * The callback API on the provisioner's HTTP server, exactly as docs/callback-protocol.md
 * describes it: the installer posts its facts, the installed system reports its first boot.
 * Every answer is JSON; 401 for token problems, 400 for bodies that do not follow the protocol,
 * 403 for a callback from an address its facts do not name or that the install must never
 * target, 409 for facts that contradict the inventory, 503 when the client should simply retry.
 * Refusals are counted per host and reason kind; only the first of each kind becomes a host
 * step, in words of bounded size (never the body's own strings), so a flood of refused
 * callbacks cannot grow the event log (docs/security.md).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Inventory } from "../inventory/types.js";
import { PhaseConflictError } from "../state/errors.js";
import type { Clock } from "../state/file-store.js";
import { move, stay, type MoveName } from "../state/lifecycle.js";
import type { HostFieldUpdate, StateStore } from "../state/store.js";
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
  /** The admin machine's address on the PXE network (where metal serves): never a target. */
  readonly serverAddress: string;
}

/** Why a callback was refused, in kinds: the counter's key and the host step's words. */
export type RefusalKind =
  "token" | "body" | "wrong-source" | "forbidden-target" | "mac" | "disk" | "host-key" | "busy";

/** A refusal with its HTTP status; the message goes to the agent, which shows it on the console. */
class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 409 | 503,
    message: string,
    readonly kind: RefusalKind = "token",
  ) {
    super(message);
  }
}

/** `::ffff:10.0.0.5` (a dual-stack listener's view of an IPv4 peer) is 10.0.0.5. */
function peerAddress(request: FastifyRequest): string {
  return request.ip.replace(/^::ffff:/i, "");
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
      "body",
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
  const { network } = deps.inventory;
  /** Addresses no install may target: the cluster's VIP, the router, the admin machine. */
  const reserved = new Map([
    [network.vip, "the cluster's VIP"],
    [network.gateway, "the gateway"],
    [deps.serverAddress, "the admin machine running metal"],
  ]);
  const refusals = new Map<string, number>();

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
      "mac",
    );
  }

  /**
   * The install connects to `facts.ip`, so it must be the caller's own address (a TCP peer
   * cannot fake its source and still get the answer), and never one the install must not touch:
   * another inventory host, the VIP, the gateway or the admin machine.
   */
  function checkSource(record: HostRecord, request: FastifyRequest, ip: string): void {
    const source = peerAddress(request);
    if (source !== ip) {
      throw new Refusal(
        403,
        `host "${record.name}": the facts name ${ip}, but the callback came from ${source}; ` +
          `the installer must call back from the address the install connects to`,
        "wrong-source",
      );
    }
    const other = deps.inventory.hosts.find(
      (host) => host.address === ip && host.name !== record.name,
    );
    const forbidden = other ? `host "${other.name}"'s address` : reserved.get(ip);
    if (forbidden !== undefined) {
      throw new Refusal(
        403,
        `host "${record.name}": ${ip} is ${forbidden}; an install never targets it`,
        "forbidden-target",
      );
    }
  }

  /** Makes the accepting move, failing with 401 if the token was replaced or used meanwhile. */
  async function accept(
    record: HostRecord,
    purpose: TokenPurpose,
    name: Extract<MoveName, "installerAccepted" | "firstBoot">,
    step: string,
    update: (current: HostRecord) => HostFieldUpdate = () => ({}),
  ) {
    const presented = record.tokens[purpose]?.sha256;
    try {
      await deps.store.change(
        record.name,
        move(name, step, {
          update: (current) => {
            const stored = current.tokens[purpose];
            if (!stored || stored.sha256 !== presented || stored.usedAt !== undefined) {
              throw new Refusal(
                401,
                `token of host "${record.name}" was replaced or used meanwhile`,
              );
            }
            return {
              ...update(current),
              tokens: { ...current.tokens, [purpose]: { ...stored, usedAt: clock() } },
            };
          },
        }),
      );
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

  /**
   * Counts a refusal; the first of its kind per host and attempt becomes the host's last step,
   * for `metal status`. Its words are ours (bounded); the body's strings never reach the log.
   */
  async function noteRefusal(record: HostRecord, refusal: Refusal, step: string): Promise<void> {
    const key = `${record.name}\u0000${record.attempt}\u0000${refusal.kind}`;
    const count = (refusals.get(key) ?? 0) + 1;
    refusals.set(key, count);
    if (count > 1) return;
    await deps.store
      .change(record.name, stay(record.phase, `callback refused: ${step}`))
      .catch(() => undefined);
  }

  /** Runs the checks after authentication; a refusal is counted and noted, then answered. */
  async function refusingNoted<T>(record: HostRecord, checks: () => T): Promise<T> {
    try {
      return checks();
    } catch (error) {
      if (error instanceof Refusal) await noteRefusal(record, error, error.message);
      throw error;
    }
  }

  async function installer(request: FastifyRequest): Promise<{ host: string; status: "accepted" }> {
    const record = authenticate(request, "installer");
    const facts = await refusingNoted(record, () => {
      const parsed = parseBody(installerFactsSchema, request.body);
      checkMac(record, parsed.mac);
      checkSource(record, request, parsed.ip);
      return parsed;
    });
    const mismatch = factsMismatch(hostsByName.get(record.name)!, facts);
    if (mismatch) {
      // The agent learns the kind of mismatch only; the inventory's disk stays on the admin side.
      const refusal = new Refusal(
        409,
        `host "${record.name}": ${mismatch.kind}; see metal status on the admin machine`,
        "disk",
      );
      await noteRefusal(record, refusal, mismatch.detail);
      throw refusal;
    }
    await accept(
      record,
      "installer",
      "installerAccepted",
      `installer called back from ${facts.ip}; SSH host key pinned`,
      () => ({ installer: { sshHostKey: facts.sshHostKey.trim(), ip: facts.ip, facts } }),
    );
    return { host: record.name, status: "accepted" };
  }

  async function firstBoot(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ host: string; status: "accepted" }> {
    const record = authenticate(request, "first-boot");
    const facts = await refusingNoted(record, () => {
      const parsed = parseBody(firstBootFactsSchema, request.body);
      checkMac(record, parsed.mac);
      return parsed;
    });
    if (record.phase === "installing") {
      void reply.header("retry-after", String(RETRY_AFTER_SECONDS));
      throw new Refusal(503, `host "${record.name}" is still finishing its install; retry`, "busy");
    }
    const expected = await deps.expectedHostKey?.(record.name);
    if (expected !== undefined && !sameSshKey(expected, facts.sshHostKey)) {
      const refusal = new Refusal(
        409,
        `host "${record.name}": the running system's SSH host key is not the one metal generated for it ` +
          `(the install did not place the host key, or another machine answers on this token)`,
        "host-key",
      );
      await noteRefusal(record, refusal, refusal.message);
      throw refusal;
    }
    await accept(record, "first-boot", "firstBoot", `first boot called back from ${facts.ip}`);
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

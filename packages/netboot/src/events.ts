/**
 * Everything that happens, as typed events. The library never logs by itself: callers subscribe
 * and decide how to show events (terminal lines, JSON logs, a dashboard, metrics).
 */
import { EventEmitter } from "node:events";
import type { Firmware } from "./arch.js";
import type { Mac } from "./mac.js";

interface Base {
  /** Milliseconds since the epoch. */
  readonly time: number;
}

export type DhcpMessageName =
  "DISCOVER" | "OFFER" | "REQUEST" | "DECLINE" | "ACK" | "NAK" | "RELEASE" | "INFORM" | "UNKNOWN";

export interface DhcpRequestEvent extends Base {
  readonly type: "dhcp.request";
  readonly mac: Mac;
  readonly xid: number;
  readonly message: DhcpMessageName;
  /** 67 for the broadcast exchange, 4011 for the PXE boot server REQUEST. */
  readonly port: number;
  readonly from: string;
  readonly arch: number | undefined;
  readonly vendorClass: string | undefined;
  readonly userClass: string | undefined;
  readonly isIpxe: boolean;
  readonly relay: string | undefined;
  /** Option 50 (RFC 2132 §9.1): the address a REQUEST asks the home router for. */
  readonly requestedAddress: string | undefined;
  /** `ciaddr` (RFC 2131 §2) when not 0.0.0.0: the address the client already holds. */
  readonly clientAddress: string | undefined;
}

export interface DhcpReplyEvent extends Base {
  readonly type: "dhcp.reply";
  readonly mac: Mac;
  readonly xid: number;
  readonly message: "OFFER" | "ACK";
  readonly port: number;
  readonly to: string;
  readonly firmware: Firmware;
  /** A UEFI HTTP boot client: its boot file is a URL, and it never asks on 4011 or by TFTP. */
  readonly httpBoot: boolean;
  readonly bootFile: string;
  readonly nextServer: string;
}

export interface DhcpIgnoredEvent extends Base {
  readonly type: "dhcp.ignored";
  readonly mac: Mac | undefined;
  readonly xid: number | undefined;
  readonly port: number;
  readonly from: string;
  readonly reason: string;
}

export interface TftpStartEvent extends Base {
  readonly type: "tftp.start";
  readonly peer: string;
  readonly file: string;
  readonly size: number;
  readonly blksize: number;
  readonly windowsize: number;
}

export interface TftpEndEvent extends Base {
  readonly type: "tftp.end";
  readonly peer: string;
  readonly file: string;
  readonly bytes: number;
  readonly durationMs: number;
}

export interface TftpErrorEvent extends Base {
  readonly type: "tftp.error";
  readonly peer: string;
  readonly file: string | undefined;
  readonly reason: string;
}

export interface HttpScriptEvent extends Base {
  readonly type: "http.script";
  readonly mac: Mac;
  readonly peer: string;
  readonly action: "boot" | "local" | "ignore";
}

export interface HttpFileStartEvent extends Base {
  readonly type: "http.file.start";
  readonly mac: Mac | undefined;
  readonly peer: string;
  readonly path: string;
  /** Bytes this response will carry (a Range response carries less than the file). */
  readonly bytes: number;
  readonly size: number;
}

export interface HttpFileEndEvent extends Base {
  readonly type: "http.file.end";
  readonly mac: Mac | undefined;
  readonly peer: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** False when the client went away before the last byte. */
  readonly complete: boolean;
}

export interface WolSentEvent extends Base {
  readonly type: "wol.sent";
  readonly mac: Mac;
  readonly address: string;
  readonly port: number;
}

export interface PolicyErrorEvent extends Base {
  readonly type: "policy.error";
  readonly mac: Mac;
  readonly stage: "dhcp" | "script";
  readonly error: string;
}

export interface ServerErrorEvent extends Base {
  readonly type: "server.error";
  readonly server: "dhcp" | "tftp" | "http";
  readonly error: string;
}

export type NetbootEvent =
  | DhcpRequestEvent
  | DhcpReplyEvent
  | DhcpIgnoredEvent
  | TftpStartEvent
  | TftpEndEvent
  | TftpErrorEvent
  | HttpScriptEvent
  | HttpFileStartEvent
  | HttpFileEndEvent
  | WolSentEvent
  | PolicyErrorEvent
  | ServerErrorEvent;

export type NetbootEventType = NetbootEvent["type"];

/** Distributive Omit, so each member of the union keeps its own fields. */
type WithoutTime<E> = E extends NetbootEvent ? Omit<E, "time"> : never;
export type NetbootEventInput = WithoutTime<NetbootEvent>;

/**
 * The event bus every server of the library publishes to. `emit` stamps the time; subscribers
 * get every event on "event". A throwing subscriber never breaks a server.
 */
export class NetbootEvents {
  readonly #emitter = new EventEmitter();

  /** True when someone listens: servers skip building events nobody would read. */
  get hasListeners(): boolean {
    return this.#emitter.listenerCount("event") > 0;
  }

  emit(event: NetbootEventInput): void {
    if (!this.hasListeners) return;
    const stamped = { ...event, time: Date.now() } as NetbootEvent;
    for (const listener of this.#emitter.listeners("event") as Array<(e: NetbootEvent) => void>) {
      try {
        listener(stamped);
      } catch {
        // Subscribers are observers: their failures must not stop a boot in progress.
      }
    }
  }

  on(listener: (event: NetbootEvent) => void): () => void {
    this.#emitter.on("event", listener);
    return () => this.#emitter.off("event", listener);
  }
}

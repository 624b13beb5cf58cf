/**
 * Logging for the CLI: pino, JSON lines when the output is not a terminal (or with --json),
 * readable lines on a terminal. Every event becomes one line carrying its MAC and type, plus
 * whatever the caller's `context` adds (metal adds the inventory host and its install phase).
 */
import { pino, type Logger } from "pino";
import pinoPretty from "pino-pretty";
import type { NetbootEvent } from "../events.js";
import { describeEvent } from "./describe-event.js";

/** Keys added to an event's line; `host`, `mac` and `phase` also lead the readable line. */
export type EventContext = Readonly<Record<string, string | undefined>>;

export interface EventLogger {
  readonly log: (event: NetbootEvent) => void;
  readonly info: (message: string) => void;
  readonly error: (message: string) => void;
  readonly pino: Logger;
}

export interface EventLoggerOptions {
  readonly json: boolean;
  /** Also log debug-level events (every DHCP request, every ignored packet). */
  readonly verbose: boolean;
  /** Default: standard output. */
  readonly destination?: NodeJS.WritableStream;
  /**
   * Extra keys for an event's line, given the event and the MAC describeEvent found in it (TFTP
   * events carry none: a context that knows the peer's MAC may supply `mac`).
   */
  readonly context?: (event: NetbootEvent, mac: string | undefined) => EventContext;
}

export function createEventLogger(options: EventLoggerOptions): EventLogger {
  const destination = options.destination ?? process.stdout;
  const readable = !options.json && "isTTY" in destination && destination.isTTY === true;
  const stream = readable
    ? pinoPretty({
        destination,
        sync: true,
        translateTime: "HH:MM:ss",
        ignore: "pid,hostname,event,host,mac,phase",
        messageFormat: "{if host}{host} {end}{if mac}{mac} {end}{if phase}[{phase}] {end}{msg}",
      })
    : destination;
  const logger = pino(
    {
      level: options.verbose ? "debug" : "info",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
  return {
    pino: logger,
    log(event) {
      const { level, mac, message } = describeEvent(event);
      logger[level]({ mac, ...options.context?.(event, mac), event }, message);
    },
    info: (message) => logger.info(message),
    error: (message) => logger.error(message),
  };
}

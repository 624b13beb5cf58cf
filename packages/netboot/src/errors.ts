/**
 * Every error the library throws on purpose. Each carries what a user needs to fix the cause;
 * decoders throw only their own typed error, whatever the input.
 */
export class NetbootError extends Error {
  /** The thrown class's own name (`TftpDecodeError`, …), so no subclass repeats it as a string. */
  override name = this.constructor.name;
}

export class InvalidMacError extends NetbootError {
  constructor(readonly value: string) {
    super(`"${value}" is not a valid MAC address (expected 6 hex octets, e.g. 52:54:00:12:34:56)`);
  }
}

/** A DHCP packet that cannot be decoded; `offset` is where decoding gave up. */
export class DhcpDecodeError extends NetbootError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`malformed DHCP packet at byte ${offset}: ${message}`);
  }
}

/** A DHCP packet or option value that cannot be encoded (a caller's mistake, not the network's). */
export class DhcpEncodeError extends NetbootError {}

/** A TFTP packet that cannot be decoded. */
export class TftpDecodeError extends NetbootError {
  constructor(message: string) {
    super(`malformed TFTP packet: ${message}`);
  }
}

/** A TFTP packet the caller asked to frame that cannot exist on the wire (a programming error). */
export class TftpEncodeError extends NetbootError {
  constructor(message: string) {
    super(`cannot encode TFTP packet: ${message}`);
  }
}

/**
 * A requested path that resolves outside the served root, or is not a plain file inside it.
 * `notFound` tells "nothing there" (TFTP error 1, HTTP 404) from "not allowed" (error 2, 403).
 */
export class PathRefusedError extends NetbootError {
  constructor(
    readonly requested: string,
    readonly reason: string,
    readonly notFound = false,
  ) {
    super(`refused path ${JSON.stringify(requested)}: ${reason}`);
  }
}

/** Configuration the caller gave that cannot work, e.g. a missing kernel file. */
export class ConfigError extends NetbootError {}

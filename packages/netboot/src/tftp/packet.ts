/**
 * TFTP packet shapes and the IANA-style tables they use (RFC 1350 §5, RFC 2347 §2). Pure data:
 * the parser lives in decode.ts, the framer in encode.ts.
 */

/** Opcodes, RFC 1350 §5 and RFC 2347 (OACK). */
export const TftpOpcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type TftpPacketType = keyof typeof TftpOpcode;

/** Error codes with their meaning and the RFC that defines them. */
export const TFTP_ERROR_CODES = [
  { code: 0, name: "NotDefined", meaning: "not defined, see error message", rfc: "RFC 1350" },
  { code: 1, name: "FileNotFound", meaning: "file not found", rfc: "RFC 1350" },
  { code: 2, name: "AccessViolation", meaning: "access violation", rfc: "RFC 1350" },
  { code: 3, name: "DiskFull", meaning: "disk full or allocation exceeded", rfc: "RFC 1350" },
  { code: 4, name: "IllegalOperation", meaning: "illegal TFTP operation", rfc: "RFC 1350" },
  { code: 5, name: "UnknownTransferId", meaning: "unknown transfer ID", rfc: "RFC 1350" },
  { code: 6, name: "FileExists", meaning: "file already exists", rfc: "RFC 1350" },
  { code: 7, name: "NoSuchUser", meaning: "no such user", rfc: "RFC 1350" },
  { code: 8, name: "OptionsRefused", meaning: "option negotiation refused", rfc: "RFC 2347" },
] as const;

type ErrorEntry = (typeof TFTP_ERROR_CODES)[number];
export type TftpErrorName = ErrorEntry["name"];

/** `TftpErrorCode.FileNotFound === 1`, derived from the table so the two cannot drift apart. */
export const TftpErrorCode = Object.fromEntries(
  TFTP_ERROR_CODES.map((entry) => [entry.name, entry.code]),
) as { readonly [E in ErrorEntry as E["name"]]: E["code"] };

/**
 * Every text an ERROR packet of ours carries: short and fixed, never an echo of what the client
 * sent nor a path of this machine. Echoing the requested name made a 1409-byte request draw an
 * 8434-byte reply (a reflection amplifier); the details go into the server's events instead.
 */
export const TftpErrorText = {
  notFound: "file not found",
  accessViolation: "access violation",
  readOnly: "server is read-only",
  octetOnly: "only octet mode is served",
  illegalOperation: "illegal TFTP operation",
  busy: "server busy, try again later",
  unknownTransferId: "unknown transfer ID",
  serverError: "server error",
  timedOut: "timed out",
  deadlinePassed: "transfer took too long",
  shuttingDown: "server shutting down",
} as const;
export type TftpErrorTextValue = (typeof TftpErrorText)[keyof typeof TftpErrorText];

/** Option names and values exactly as they travel (RFC 2347: NUL-terminated ASCII strings). */
export interface TftpOption {
  readonly name: string;
  readonly value: string;
}

export interface TftpRequestPacket {
  readonly type: "RRQ" | "WRQ";
  readonly filename: string;
  /** As sent; RFC 1350 names "netascii", "octet" and "mail", compared case-insensitively. */
  readonly mode: string;
  readonly options: readonly TftpOption[];
}

export interface TftpDataPacket {
  readonly type: "DATA";
  /** The 16-bit block number on the wire (it rolls over past 65535). */
  readonly block: number;
  readonly data: Uint8Array;
}

export interface TftpAckPacket {
  readonly type: "ACK";
  readonly block: number;
}

export interface TftpErrorPacket {
  readonly type: "ERROR";
  readonly code: number;
  readonly message: string;
}

export interface TftpOackPacket {
  readonly type: "OACK";
  readonly options: readonly TftpOption[];
}

export type TftpPacket =
  TftpRequestPacket | TftpDataPacket | TftpAckPacket | TftpErrorPacket | TftpOackPacket;

/** Bytes of opcode + block number in DATA and ACK packets. */
export const TFTP_HEADER_LENGTH = 4;
/** Largest 16-bit field value: block numbers and error codes. */
export const MAX_UINT16 = 0xffff;

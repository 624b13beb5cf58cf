/**
 * TFTP (RFC 1350 with RFC 2347/2348/2349/7440 options), read-only. Pure codec (decode.ts,
 * encode.ts), pure negotiation (options.ts), a socket-free transfer engine (transfer.ts) and the
 * dgram server at the edge (server.ts). It deliberately does not write files, translate
 * netascii, or serve anything a `resolveUnderRoot` call has not approved.
 */
export * from "./decode.js";
export * from "./encode.js";
export * from "./file-source.js";
export * from "./options.js";
export * from "./packet.js";
export * from "./server.js";
export * from "./transfer.js";

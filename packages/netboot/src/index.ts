export * from "./arch.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./ipxe/first-stage.js";
export * from "./mac.js";
export * from "./policy.js";
export * from "./rooted-path.js";
export * from "./http/server.js";
export * from "./ipxe/script.js";
export * from "./interfaces.js";
export * from "./wol/magic-packet.js";
export * from "./wol/send.js";
export * from "./dhcp/index.js";
export * from "./chainload/index.js";
export * from "./server.js";
export * from "./cli/describe-event.js";
export * from "./cli/event-logger.js";
// TFTP as a namespace (tftp.decodeTftp, tftp.MAX_RETRANSMITS…) so its constants never collide
// with other protocols' names; the server itself also at the top level.
export * as tftp from "./tftp/index.js";
export {
  TftpServer,
  type TftpLimits,
  type TftpServerAddress,
  type TftpServerOptions,
} from "./tftp/server.js";
export * from "./boot-urls.js";

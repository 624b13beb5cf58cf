export * from "./arch.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./ipxe/first-stage.js";
export * from "./mac.js";
export * from "./policy.js";
export * from "./rooted-path.js";
export * from "./http/file-table.js";
export * from "./http/server.js";
export * from "./ipxe/script.js";
export * from "./interfaces.js";
export * from "./wol/magic-packet.js";
export * from "./wol/send.js";
export * from "./dhcp/index.js";
// The TFTP codec shares names with the DHCP one (encodingLength, …): reach it as tftp.*.
export * as tftp from "./tftp/index.js";
export { TftpServer, type TftpServerOptions } from "./tftp/server.js";
export * from "./server.js";
export { describeEvent, type DescribedEvent, type EventLevel } from "./cli/describe-event.js";

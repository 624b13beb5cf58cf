export * from "./arch.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./ipxe/first-stage.js";
export * from "./mac.js";
export * from "./policy.js";
export * from "./rooted-path.js";
export * from "./tftp/index.js";

export * from "./arch.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./mac.js";
export * from "./policy.js";

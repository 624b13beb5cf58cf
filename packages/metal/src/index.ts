export * from "./inventory/index.js";
export * from "./state/index.js";
export * from "./boot/index.js";
export * from "./callback/index.js";
export * from "./deploy/index.js";

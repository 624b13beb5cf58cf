export * from "./inventory/index.js";
export * from "./state/index.js";
export * from "./boot/index.js";
export * from "./callback/index.js";
export * from "./check/checks.js";
export * from "./check/ports.js";
export * from "./status/report.js";
export * from "./secrets/index.js";

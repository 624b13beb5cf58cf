export * from "./inventory/index.js";
export * from "./state/index.js";

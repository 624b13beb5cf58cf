export * from "./errors.js";
export * from "./installer-artifacts.js";
export * from "./policy.js";

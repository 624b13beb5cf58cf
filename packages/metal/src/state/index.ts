export * from "./errors.js";
export * from "./file-store.js";
export * from "./reinstall.js";
export * from "./store.js";
export * from "./lifecycle.js";
export * from "./types.js";
export * from "./location.js";
export * from "./lock.js";

export * from "./errors.js";
export * from "./host-settings.js";
export * from "./load.js";
export * from "./partitions.js";
export * from "./size.js";
export * from "./types.js";

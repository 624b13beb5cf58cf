export * from "./credentials.js";
export * from "./driver.js";
export * from "./drivers.js";
export * from "./errors.js";
export * from "./ipmi.js";
export * from "./wol.js";

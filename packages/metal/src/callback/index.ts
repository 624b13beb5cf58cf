export * from "./facts.js";
export * from "./routes.js";
export * from "./tokens.js";

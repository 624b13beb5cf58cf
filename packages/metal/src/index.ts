export * from "./nix/index.js";

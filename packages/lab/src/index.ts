export * from "./netns.js";

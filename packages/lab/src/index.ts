export * from "./netns.js";
export * from "./udp-relay.js";

export * from "./dashboard.js";
export * from "./dashboard-model.js";
export * from "./deploy-view.js";
export * from "./event-feed.js";
export * from "./hints.js";
export * from "./metrics.js";
export * from "./peer-directory.js";
export * from "./host-log.js";

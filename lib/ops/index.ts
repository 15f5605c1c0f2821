export * from "./checks.js";
export * from "./clusters.js";
export * from "./compute.js";
export * from "./deps.js";
export * from "./failover.js";
export * from "./health.js";
export * from "./history.js";
export * from "./topology-changes.js";

export * from "./cluster.js";
export * from "./health.js";
export * from "./invariants.js";
export * from "./names.js";
export * from "./state.js";
export * from "./tasks.js";
export * from "./zones.js";

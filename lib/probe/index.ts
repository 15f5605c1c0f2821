export * from "./counters.js";
export * from "./migration-step.js";
export * from "./migrations.js";
export * from "./observe.js";
export * from "./ownership.js";
export * from "./round.js";
export * from "./run.js";

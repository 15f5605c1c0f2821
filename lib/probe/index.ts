export * from "./counters.js";
export * from "./observe.js";
export * from "./ownership.js";
export * from "./quorum.js";
export * from "./round.js";
export * from "./run.js";

export * from "./client.js";
export * from "./errors.js";
export * from "./parse.js";
export * from "./pool.js";
export * from "./server-info.js";

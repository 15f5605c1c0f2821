export * from "./push.js";
export * from "./render.js";
export * from "./view.js";

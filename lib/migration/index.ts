// The migration engine: what to do next with each task (step.ts, pure) and doing it
// (engine.ts). The probe rounds and the HTTP routes both drive it through this module.
export * from "./engine.js";
export * from "./step.js";

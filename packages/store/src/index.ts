export * from "./control-plane.js";
export * from "./events-record.js";
export * from "./halts.js";
export * from "./ideas.js";
export * from "./keys.js";
export * from "./secrets.js";
export * from "./stream-log.js";

export * from "./control-plane.js";
export * from "./keys.js";
export * from "./stream-log.js";

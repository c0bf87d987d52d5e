export * from "./containers.js";
export * from "./free-port.js";
export * from "./nats-server.js";
export * from "./paced-loop.js";
export * from "./process.js";
export * from "./redis-server.js";
export * from "./services.js";
export * from "./wait-for.js";

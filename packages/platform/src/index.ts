export * from "./config.js";
export * from "./http.js";
export * from "./jetstream-publisher.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./nats.js";
export * from "./redis.js";
export * from "./shutdown.js";

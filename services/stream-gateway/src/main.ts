import { loadConfig, runService } from "@heliograph/platform";
import { buildApp } from "./app.js";
import { StreamGatewayEnv } from "./config.js";

await runService({
  name: "stream-gateway",
  loadConfig: (env) => loadConfig(StreamGatewayEnv, env),
  start: ({ config, log, metrics, nc, redis }) => buildApp({ log, nc, redis, config, metrics, ownConnections: true }),
});

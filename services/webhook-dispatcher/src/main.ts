import { loadConfig, runService } from "@heliograph/platform";
import { buildApp } from "./app.js";
import { WebhookDispatcherEnv } from "./config.js";

await runService({
  name: "webhook-dispatcher",
  loadConfig: (env) => loadConfig(WebhookDispatcherEnv, env),
  start: ({ config, log, metrics, nc, redis }) => buildApp({ log, nc, redis, config, metrics, ownConnections: true }),
});

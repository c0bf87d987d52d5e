import { loadConfig, runService } from "@heliograph/platform";
import { buildApp } from "./app.js";
import { IngestEnv } from "./config.js";

await runService({
  name: "ingest-gateway",
  loadConfig: (env) => loadConfig(IngestEnv, env),
  start: ({ config, log, metrics, nc, redis }) => buildApp({ log, nc, redis, config, metrics, ownConnections: true }),
});

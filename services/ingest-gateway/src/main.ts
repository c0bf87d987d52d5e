import { loadConfig, runService } from "@heliograph/platform";
import { assertPartitionCount } from "@heliograph/store";
import { buildApp } from "./app.js";
import { IngestEnv } from "./config.js";

await runService({
  name: "ingest-gateway",
  loadConfig: (env) => loadConfig(IngestEnv, env),
  start: async ({ config, log, metrics, nc, redis }) => {
    // Publishing under another layout than the sequencers number would reorder streams.
    await assertPartitionCount(redis, config.PARTITIONS);
    const { app, admin } = await buildApp({ log, nc, redis, config, metrics, ownConnections: true });
    return { app, side: [{ name: "admin", app: admin, host: config.ADMIN_HOST, port: config.ADMIN_PORT }] };
  },
});

import { runService } from "@heliograph/platform";
import { buildApp } from "./app.js";
import { loadSequencerConfig } from "./config.js";
import { createSequencer } from "./sequencer.js";

await runService({
  name: "sequencer",
  loadConfig: loadSequencerConfig,
  connectionName: (config) => `sequencer-${config.SEQUENCER_ID}`,
  async start({ config, log, metrics, nc, redis }) {
    const sequencer = createSequencer({ nc, redis, log, metrics, config });
    const app = await buildApp({ log, metrics, nc, redis, workers: sequencer, ownConnections: true });
    await sequencer.start();
    return app;
  },
});

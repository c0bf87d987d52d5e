import type { Logger, Registry } from "@heliograph/platform";
import fp from "fastify-plugin";
import { type HubOptions, StreamHub } from "./hub.js";

export interface HubPluginOptions {
  log: Logger;
  metrics: Registry;
  maxWaiters: number;
  maxWaitersPerSubscriber?: number;
  onRecorded?: HubOptions["onRecorded"];
}

/**
 * The process's waiter hub as the app's `hub`: its JetStream consumer exists once the plugin is
 * registered (needs `heliograph-nats` first); closing the app answers held polls before the server
 * waits for in-flight requests (preClose), then stops the consumer before NATS is drained.
 */
export const hubPlugin = fp<HubPluginOptions>(
  async (app, options) => {
    // One consumer per process: a second hub would double every wakeup and the consumer count.
    if (app.hasDecorator("hub")) throw new Error("heliograph-stream-hub has already been registered");
    const hub = new StreamHub({ nc: app.nats, ...options });
    await hub.start();
    app.decorate("hub", hub);
    app.addHook("preClose", async () => hub.drain());
    app.addHook("onClose", async () => hub.stop());
  },
  { name: "heliograph-stream-hub", fastify: "5.x", dependencies: ["heliograph-nats"] },
);

import {
  Counter,
  createHttpApp,
  createMetricsRegistry,
  Gauge,
  Histogram,
  type HttpApp,
  type Logger,
  type NatsConnection,
  natsPlugin,
  type Redis,
  type Registry,
  redisPlugin,
} from "@heliograph/platform";
import { ControlPlane, openControlBucket } from "@heliograph/store";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { WebhookDispatcherConfig, WebhookSettings } from "./config.js";
import { Dispatcher } from "./dispatcher.js";
import { readEventTexts } from "./event-texts.js";

export interface WebhookDispatcherDeps {
  log: Logger;
  nc: NatsConnection;
  redis: Redis;
  config: WebhookSettings & Partial<Pick<WebhookDispatcherConfig, "JETSTREAM_REPLICAS">>;
  metrics?: Registry;
  /** The app drains NATS and quits Redis when it closes (a service process); tests sharing them leave it off. */
  ownConnections?: boolean;
}

export type WebhookDispatcherApp = HttpApp & { readonly dispatcher: Dispatcher };

/**
 * The webhook dispatcher: no API, only /healthz, /readyz and /metrics; starts delivering at once
 * and never listens. Closing the app stops the workers after their deliveries in flight and
 * releases their leases, then the connections.
 */
export async function buildApp(deps: WebhookDispatcherDeps): Promise<WebhookDispatcherApp> {
  const metrics = deps.metrics ?? createMetricsRegistry("webhook-dispatcher");
  let dispatcher: Dispatcher | undefined;
  const app = await createHttpApp({
    logger: deps.log,
    service: "webhook-dispatcher",
    description: "Signed push delivery of stream events to subscribers' webhook endpoints",
    metrics,
    readiness: [
      { name: "nats", check: () => deps.nc.rtt() },
      { name: "redis", check: () => deps.redis.ping() },
      {
        name: "endpoints",
        check: async () => {
          if (!dispatcher?.scanned) throw new Error("the endpoint list has not been read yet");
        },
      },
    ],
  });
  try {
    await app.register(redisPlugin, { client: deps.redis, close: deps.ownConnections });
    await app.register(natsPlugin, { client: deps.nc, close: deps.ownConnections });
    const kv = await openControlBucket(deps.nc, { replicas: deps.config.JETSTREAM_REPLICAS ?? 1 });
    const js = jetstream(deps.nc);
    let jsm: Promise<JetStreamManager> | undefined;
    const manager = () => {
      if (!jsm) {
        jsm = jetstreamManager(deps.nc);
        jsm.catch(() => {
          jsm = undefined;
        });
      }
      return jsm;
    };
    const attempts = new Counter({
      name: "heliograph_webhook_attempts_total",
      help: "Webhook delivery attempts by outcome: delivered (2xx), refused (another status), no_answer",
      labelNames: ["outcome"] as const,
      registers: [metrics],
    });
    const latency = new Histogram({
      name: "heliograph_webhook_attempt_seconds",
      help: "Time from sending a webhook to its receiver's status (or to giving up on it)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [metrics],
    });
    dispatcher = new Dispatcher({
      nc: deps.nc,
      kv,
      redis: deps.redis,
      controlPlane: new ControlPlane(kv),
      readEvents: (streamId, after, count) =>
        readEventTexts({ redis: deps.redis, js, jsm: manager }, streamId, after, count),
      config: deps.config,
      log: deps.log.child({ component: "dispatcher" }),
      attempts,
      latency,
    });
    const held = dispatcher;
    new Gauge({
      name: "heliograph_webhook_endpoints_held",
      help: "Webhook endpoints this instance delivers to",
      registers: [metrics],
      collect() {
        this.set(held.held.length);
      },
    });
    new Gauge({
      name: "heliograph_webhook_endpoints",
      help: "Webhook endpoints by status (active, paused) at the last scan, of all instances: take max across them",
      labelNames: ["status"] as const,
      registers: [metrics],
      collect() {
        const counts = held.endpointCounts;
        if (!counts) return;
        this.set({ status: "active" }, counts.active);
        this.set({ status: "paused" }, counts.paused);
      },
    });
    app.decorate("dispatcher", dispatcher);
    // Registered after the connection plugins, so it runs before they close.
    app.addHook("onClose", async () => held.stop());
    await dispatcher.start();
    return app as WebhookDispatcherApp;
  } catch (err) {
    await dispatcher?.stop();
    await app.close();
    throw err;
  }
}

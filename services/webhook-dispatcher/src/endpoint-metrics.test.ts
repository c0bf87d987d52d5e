import {
  connectNats,
  connectRedis,
  createLogger,
  ensureStreams,
  loadConfig,
  type NatsConnection,
  type Redis,
} from "@heliograph/platform";
import { ControlPlane, openControlBucket } from "@heliograph/store";
import { type Servers, startServers, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type WebhookDispatcherApp } from "./app.js";
import { WebhookDispatcherEnv } from "./config.js";

const log = createLogger({ name: "webhook-endpoint-metrics-test", level: "silent" });
let servers: Servers;
let nc: NatsConnection;
let redis: Redis;
let app: WebhookDispatcherApp;

beforeAll(async () => {
  // Servers of its own: the gauge counts every endpoint of the control plane.
  servers = await startServers({ nats: { reuseEnv: false }, redis: { reuseEnv: false } });
  nc = await connectNats(servers.nats, log, "webhook-endpoint-metrics-test");
  await ensureStreams(nc, { replicas: 1 });
  redis = await connectRedis(servers.redis.url, log, "webhook-endpoint-metrics-test");
  const config = loadConfig(WebhookDispatcherEnv, {
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    WEBHOOK_SCAN_MS: "100",
    WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
  });
  app = await buildApp({ log, nc, redis, config });
});
afterAll(async () => {
  await app?.close();
  await nc?.close();
  redis?.disconnect();
  await servers?.stop();
});

async function endpointsGauge(): Promise<string[]> {
  const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
  return text
    .split("\n")
    .filter((line) => line.startsWith("heliograph_webhook_endpoints{"))
    .map((line) => line.replace(/,?service="webhook-dispatcher"/, ""))
    .sort();
}

describe("heliograph_webhook_endpoints", () => {
  it("counts the control plane's endpoints by status, a paused one included, from the dispatcher's scans", async () => {
    const controlPlane = new ControlPlane(await openControlBucket(nc, { replicas: 1 }));
    const subscriber = await controlPlane.createSubscriber({ name: "metrics", streams: ["algorithm-5"] });
    for (const id of ["wh-a", "wh-b", "wh-c"])
      await controlPlane.createWebhookEndpoint(
        { id, subscriber_id: subscriber.id, stream_id: "algorithm-5", url: "http://127.0.0.1:9/hook" },
        -1,
      );
    await controlPlane.setWebhookStatus("wh-b", "paused", "retries ran out");

    const expected = [
      'heliograph_webhook_endpoints{status="active"} 2',
      'heliograph_webhook_endpoints{status="paused"} 1',
    ];
    await waitFor(async () => JSON.stringify(await endpointsGauge()) === JSON.stringify(expected), {
      what: "a scan to count two active endpoints and one paused",
    });
    expect(await endpointsGauge()).toEqual(expected);

    await controlPlane.setWebhookStatus("wh-b", "active");
    await waitFor(async () => (await endpointsGauge()).includes('heliograph_webhook_endpoints{status="paused"} 0'), {
      what: "the resumed endpoint to leave the paused count",
    });
  });
});

import { connectNats, connectRedis, createLogger, createMetricsRegistry } from "@heliograph/platform";
import { type Servers, startServers, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";

let servers: Servers;
beforeAll(async () => {
  // Servers of its own: this test stops NATS.
  servers = await startServers({ nats: { reuseEnv: false }, redis: { reuseEnv: false } });
});
afterAll(async () => {
  await servers?.stop();
});

describe("the sequencer's readiness", () => {
  it("is 503 while its NATS connection is down and reconnecting, and 200 again once it is back", async () => {
    const log = createLogger({ name: "sequencer-app-test", level: "silent" });
    const nc = await connectNats(servers.nats, log, "sequencer-app-test");
    const redis = await connectRedis(servers.redis.url, log, "sequencer-app-test");
    const app = await buildApp({ log, metrics: createMetricsRegistry("sequencer"), nc, redis, ownConnections: true });
    try {
      const ready = async () => (await app.inject({ method: "GET", url: "/readyz" })).statusCode;
      expect(await ready()).toBe(200);

      await servers.nats.stop();
      // The client is reconnecting, not closed: readiness must still say no.
      expect(nc.isClosed()).toBe(false);
      await waitFor(async () => (await ready()) === 503, { timeoutMs: 10_000, what: "readiness to fail" });
      const body = (await app.inject({ method: "GET", url: "/readyz" })).json() as { checks: { nats: string } };
      expect(body.checks.nats).not.toBe("ok");

      await servers.nats.restart();
      await waitFor(async () => (await ready()) === 200, { timeoutMs: 15_000, what: "readiness after the reconnect" });
    } finally {
      await app.close();
    }
  });
});

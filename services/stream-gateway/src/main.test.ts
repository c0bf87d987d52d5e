import { connectNats, createLogger, type NatsConnection } from "@heliograph/platform";
import { ControlPlane, openControlBucket } from "@heliograph/store";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  type ServiceHandle,
  startServers,
  startService,
  waitFor,
} from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let nats: NatsServerHandle;
let redisServer: RedisServerHandle;
let nc: NatsConnection;
let service: ServiceHandle | undefined;

beforeAll(async () => {
  ({ nats, redis: redisServer } = await startServers());
  nc = await connectNats(nats, createLogger({ name: "main-test", level: "silent" }), "main-test");
});
afterAll(async () => {
  await service?.kill();
  await nc?.close();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

describe("main.ts", () => {
  it("on SIGTERM answers a held long poll with [] long before its bound, then exits 0 (no SIGKILL needed)", async () => {
    service = await startService("stream-gateway", {
      ...nats.serviceEnv("stream-gateway"),
      REDIS_URL: redisServer.url,
    });
    const controlPlane = new ControlPlane(await openControlBucket(nc, { replicas: 1 }));
    const { token } = await controlPlane.createSubscriber({ name: "main", streams: ["ideas-main"] });
    const held = fetch(`${service.url}/api/v1/stream/ideas-main/-1/10`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "60" },
    });
    const metrics = async () => (await fetch(`${service?.url}/metrics`)).text();
    await waitFor(async () => /^heliograph_stream_waiters\{[^}]*\} 1$/m.test(await metrics()), {
      what: "the long poll held",
    });
    const t0 = performance.now();
    await service.stop(30_000);
    const res = await held;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("[]");
    // Released by the shutdown, far inside its 60 s bound.
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(await service.exited()).toBe(0);
    expect(service.output()).toMatch(/shutdown step done/);
  });
});

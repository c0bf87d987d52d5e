import { connectNats, connectRedis, createLogger, natsPlugin, Registry, redisPlugin } from "@heliograph/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";
import { buildApp, type StreamGatewayApp } from "./app.js";
import { hubPlugin } from "./hub-plugin.js";

let fx: GatewayFixture;
const STREAM = "ideas-openapi";
const log = createLogger({ name: "stream-gateway-app-test", level: "silent" });
const config = { MAX_WAITERS: 10, CONTROL_PLANE_CACHE_MS: 0 };

beforeAll(async () => {
  fx = await startGatewayFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe("the app's shared resources are named plugins", () => {
  const again: [string, (app: StreamGatewayApp) => PromiseLike<unknown>][] = [
    ["heliograph-redis", (app) => app.register(redisPlugin, { client: fx.redis })],
    ["heliograph-nats", (app) => app.register(natsPlugin, { client: fx.nc })],
    ["heliograph-stream-hub", (app) => app.register(hubPlugin, { log, metrics: new Registry(), maxWaiters: 1 })],
  ];
  it.each(again)("registering %s a second time fails loudly", async (name, register) => {
    const app = await buildApp({ log, nc: fx.nc, redis: fx.redis, config });
    await expect(register(app)).rejects.toThrow(`${name} has already been registered`);
    await app.close().catch(() => undefined);
    // The first registration's hub was stopped with the app: nothing left consuming.
    expect(app.hub.stats().consumers).toBe(0);
  });

  it("an app that owns its connections closes them after the hub's consumer, in reverse order of start", async () => {
    const nc = await connectNats(fx.nats, log, "owned");
    const redis = await connectRedis(fx.redisServer.url, log, "owned");
    const app = await buildApp({ log, nc, redis, config, ownConnections: true });
    expect(app.hub.stats().consumers).toBe(1);
    const closed: string[] = [];
    void nc.closed().then(() => closed.push("nats"));
    redis.once("end", () => closed.push("redis"));
    await app.close();
    expect(app.hub.stats().consumers).toBe(0);
    expect(nc.isClosed()).toBe(true);
    expect(redis.status).toBe("end");
    expect(closed).toEqual(["nats", "redis"]);
    // A shared one is left open (the fixture's app and this test's use it after).
    expect(fx.nc.isClosed()).toBe(false);
    expect(fx.redis.status).toBe("ready");
  });
});

describe("the read routes declare their events for the OpenAPI document, and still send them as stored", () => {
  it("/openapi.json shows the event body of both read routes", async () => {
    const doc = (await (await fetch(`${fx.url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } }>;
    };
    for (const path of ["/api/v1/stream/{stream_id}/{event_number}/{batch_size}", "/api/v1/stream/{stream_id}/"]) {
      const schema = doc.paths[path]?.get.responses["200"]?.content["application/json"]?.schema as {
        type: string;
        items: { properties: Record<string, { properties?: Record<string, unknown> }>; required: string[] };
      };
      expect(schema?.type, path).toBe("array");
      expect(Object.keys(schema.items.properties).sort()).toEqual(["data", "event_number", "event_type"]);
      expect(Object.keys(schema.items.properties.data?.properties ?? {})).toEqual(
        expect.arrayContaining(["id", "timestamp", "published_at"]),
      );
    }
  });

  it("a read answers the stored texts byte for byte (no second serialisation through the schema)", async () => {
    const token = await fx.tokenFor([STREAM]);
    // Keys a schema-driven serialiser would reorder or drop (published_at last, a key the schema lacks).
    for (let i = 0; i < 3; i++) await fx.sequencer.append(STREAM, { zeta: "ω\u2028", alpha: [1.5, null] });
    const stored = (await fx.redis.xrange(`hg:{${STREAM}}:log`, "-", "+")).map(([, fields]) => fields[1]);
    expect(stored[0]).toMatch(/"published_at":"[^"]+"\}\}$/);
    for (const path of [`/api/v1/stream/${STREAM}/-1/10`, `/api/v1/stream/${STREAM}/`]) {
      const res = await fetch(`${fx.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(await res.text()).toBe(`[${stored.join(",")}]`);
    }
  });
});

import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { adminRequest } from "@heliograph/admin-client";
import { newAdminToken } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import {
  type NatsServerHandle,
  REPO_ROOT,
  type RedisServerHandle,
  type ServiceHandle,
  startProcess,
  startServers,
  startService,
} from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MAIN = join(REPO_ROOT, "services/ingest-gateway/src/main.ts");
let nats: NatsServerHandle;
let redis: RedisServerHandle;
let service: ServiceHandle | undefined;
const adminToken = newAdminToken();

beforeAll(async () => {
  ({ nats, redis } = await startServers());
});
afterAll(async () => {
  await service?.kill();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("main.ts", () => {
  it("refuses to start with a bad configuration, naming the variable", async () => {
    const env = {
      ...process.env,
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      ADMIN_TOKEN: "replace-with-a-long-random-token",
    };
    const proc = startProcess("ingest-gateway", join(REPO_ROOT, "node_modules/.bin/tsx"), [MAIN], { env });
    expect(await proc.exited()).toBe(1);
    expect(proc.output()).toMatch(/ADMIN_TOKEN: must be a generated token/);
  });

  it("starts, creates the streams, serves the publisher API and (on its own listener) the admin API, and exits 0 on SIGTERM", async () => {
    service = await startService("ingest-gateway", {
      ...nats.serviceEnv("ingest-gateway"),
      REDIS_URL: redis.url,
      ADMIN_TOKEN: adminToken,
      // The public API on every interface, as deployed; the admin listener keeps its loopback default.
      HOST: "0.0.0.0",
    });
    const admin = <T>(path: string, body: unknown) =>
      adminRequest<T>({ url: service?.adminUrl as string, token: adminToken }, "POST", path, body);
    const publisher = await admin<{ id: string; api_key: string; api_secret: string }>("/publishers", {
      name: "Process test",
    });
    expect(publisher.status).toBe(201);
    const creds = publisher.body;
    expect((await admin("/algorithms", { publisher_id: creds.id, name: "A", id: 1 })).status).toBe(201);

    const res = await fetch(`${service.url}/api/v1/create_trading_signal`, {
      method: "POST",
      headers: { "API-KEY": creds.api_key, "API-SECRET": creds.api_secret, "content-type": "application/json" },
      body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
    });
    expect(res.status).toBe(202);
    expect(service.output()).not.toContain(creds.api_secret);
    // The admin API is not on the public port, whatever the token.
    const onPublic = await fetch(`${service.url}/admin/v1/publishers`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(onPublic.status).toBe(404);
    // Nor reachable from another machine: on this machine's own non-loopback address, the public
    // port answers and the admin port refuses the connection.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (external) {
      const adminPort = new URL(service.adminUrl as string).port;
      expect((await fetch(`http://${external}:${service.port}/healthz`)).status).toBe(200);
      await expect(fetch(`http://${external}:${adminPort}/healthz`)).rejects.toThrow();
    }

    await service.stop();
    expect(await service.exited()).toBe(0);
    expect(service.output()).toMatch(/shutdown step done/);
  });
});

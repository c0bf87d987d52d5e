import { EVENTS_STREAM, INGEST_STREAM } from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection } from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// ensureStreams lives in packages/platform, which has no testkit; every service calls it at start.
const log = createLogger({ name: "test", level: "error" });

describe("ensureStreams", () => {
  let server: NatsServerHandle;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const nc of connections) await nc.drain().catch(() => {});
    await server?.stop();
  });

  it("succeeds for services starting at once, from separate connections, and leaves one of each stream", async () => {
    connections.push(...(await Promise.all(["a", "b", "c"].map((name) => connectNats(server, log, `ensure-${name}`)))));
    const managers = await Promise.all(connections.map((nc) => ensureStreams(nc, { replicas: 1, log })));
    const names: string[] = [];
    for await (const info of managers[0]!.streams.list()) names.push(info.config.name);
    expect(names.sort()).toEqual([EVENTS_STREAM, INGEST_STREAM].sort());
    // And again, now that they exist: an update with the same settings.
    await Promise.all(connections.map((nc) => ensureStreams(nc, { replicas: 1, log })));
    expect((await managers[1]!.streams.info(INGEST_STREAM)).config.num_replicas).toBe(1);
  });
});

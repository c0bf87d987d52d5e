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

  it("applies EVENTS' retention settings, and takes them off again (0: keep everything)", async () => {
    const nc = await connectNats(server, log, "ensure-retention");
    connections.push(nc);
    const capped = await ensureStreams(nc, {
      replicas: 1,
      log,
      eventsMaxAgeSeconds: 3_600,
      eventsMaxMsgsPerSubject: 5_000,
    });
    const config = (await capped.streams.info(EVENTS_STREAM)).config;
    expect(config.max_age).toBe(3_600 * 1_000_000_000);
    expect(config.max_msgs_per_subject).toBe(5_000);
    const open = (await (await ensureStreams(nc, { replicas: 1, log })).streams.info(EVENTS_STREAM)).config;
    expect(open.max_age).toBe(0);
    expect(open.max_msgs_per_subject).toBe(-1);
  });
});

import { EVENTS_STREAM, INGEST_STREAM } from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection } from "@heliograph/platform";
import { openControlBucket } from "@heliograph/store";
import { type NatsCluster, type NatsServerHandle, startNatsCluster, startNatsServer } from "@heliograph/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
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

describe("ensureStreams on a 3-node cluster whose third node is still starting", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection | undefined;
  afterAll(async () => {
    await nc?.drain().catch(() => {});
    await cluster?.stop();
  });

  // What CI met once: the services started as the cluster's meta leader was elected but before
  // every peer had reported in, and R3 placement answered "no suitable peers for placement" (a
  // 400, err_code 10005), which failed the service at start instead of being waited out.
  it("waits for the R3 placement of INGEST, EVENTS and the control bucket instead of failing the service", async () => {
    cluster = await startNatsCluster(3, { startNodes: 2 });
    nc = await connectNats({ url: cluster.url, credentials: cluster.roles.admin }, log, "ensure-forming");
    let settled: "pending" | "resolved" | "rejected" = "pending";
    const connection = nc;
    const ensuring = Promise.all([
      ensureStreams(connection, { replicas: 3, log, retryForMs: 30_000 }),
      openControlBucket(connection, { replicas: 3, retryForMs: 30_000 }),
    ]).then(
      (jsm) => {
        settled = "resolved";
        return jsm;
      },
      (err) => {
        settled = "rejected";
        throw err;
      },
    );
    // Marked handled here; awaited below, where a rejection fails the test.
    ensuring.catch(() => {});
    // The fault has its effect: with two of three peers, an R3 stream cannot be placed, so the
    // call is still waiting (a service failing here would already be "rejected").
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.add({ name: "PROBE", subjects: ["probe.>"], num_replicas: 3 })).rejects.toThrow(
      /no suitable peers/,
    );
    expect(settled).toBe("pending");
    await cluster.node("n3").start();
    const [manager, bucket] = await ensuring;
    expect((await manager.streams.info(INGEST_STREAM)).config.num_replicas).toBe(3);
    expect((await manager.streams.info(EVENTS_STREAM)).config.num_replicas).toBe(3);
    expect((await bucket.status()).replicas).toBe(3);
  }, 60_000);
});

import { EVENTS_STREAM, INGEST_STREAM } from "@heliograph/contracts";
import { type NatsCluster, startNatsCluster, streamLeader, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { waitForReady } from "./probe.js";

// Promise 1 on the production shape: a 3-node JetStream cluster with R3 streams. The node leading
// INGEST is killed (kill -9) under load, then brought back.
let cluster: NatsCluster;
let stack: FaultStack;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
  stack = await startFaultStack({
    nats: cluster,
    algorithms: 2,
    env: { JETSTREAM_REPLICAS: "3", LOG_LEVEL: process.env.HG_FAULT_LOG_LEVEL ?? "warn" },
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
});

describe("a 3-node NATS cluster with R3 streams loses a node under publish load", () => {
  // Each wait below is bounded; together at most about 105 s (reads included), inside the 120 s.
  it("kill -9 of INGEST's leader, then its return: leadership moves, nothing accepted is lost or doubled", async () => {
    const before = {
      ingest: await streamLeader(cluster, INGEST_STREAM),
      events: await streamLeader(cluster, EVENTS_STREAM),
    };
    expect(before.ingest.replicas).toBe(3);
    expect(before.events.replicas).toBe(3);
    const loads = stack.startLoads(30);
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(30, 15_000)));

    const victim = cluster.node(before.ingest.leader);
    await victim.kill("SIGKILL");
    // The fault took effect: the two others elected another INGEST leader (and another EVENTS
    // leader, when the victim led EVENTS too).
    const after = await waitFor(
      async () => {
        const ingest = await streamLeader(cluster, INGEST_STREAM);
        const events = await streamLeader(cluster, EVENTS_STREAM);
        return ingest.leader !== "" && events.leader !== "" ? { ingest, events } : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: "INGEST and EVENTS to have leaders after the kill" },
    );
    expect(after.ingest.leader).not.toBe(victim.name);
    expect(after.events.leader).not.toBe(victim.name);
    // Publishing goes on on the two others.
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(30, 15_000)));
    await victim.start();
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(30, 15_000)));
    await waitForReady(stack.services, 10_000);

    const { http, events, feeds } = await stack.finish(loads, { drainTimeoutMs: 20_000 });
    expect(http.violations, http.describe()).toEqual([]);
    expect(events.violations, `EVENTS feed:\n${events.describe()}`).toEqual([]);
    expect(feeds.differences, `HTTP against EVENTS:\n${feeds.describe()}`).toEqual([]);
    expect((await streamLeader(cluster, INGEST_STREAM)).leader).not.toBe("");
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 120_000);
});

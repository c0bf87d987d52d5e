import { algorithmStreamId } from "@heliograph/contracts";
import { streamKeys } from "@heliograph/store";
import { type RedisClusterHandle, startRedisCluster } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultWindow } from "../ledger/fault-window.js";
import { faultSeen } from "../ledger/fault-window.js";
import { expectEventsRecordInOrder, expectFollowersCaughtUp, expectRecordIntact, followLoads } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { waitForReady } from "./probe.js";

// Promise 1 on a Redis Cluster (3 masters, 3 replicas): kill -9 of the master serving a loaded
// stream's slot, under publish load from retrying clients, with a long-polling follower per
// stream. Its replica is promoted (replication is asynchronous: a write the master acknowledged
// may be missing there; the sequencer's head check and the repair from EVENTS cover that), the
// services find the new master, and nothing is lost, doubled or renumbered.
let cluster: RedisClusterHandle;
let stack: FaultStack;
beforeAll(async () => {
  cluster = await startRedisCluster();
  stack = await startFaultStack({ redis: { url: cluster.url }, algorithms: 3, sequencers: 2 });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
});

describe("kill -9 of a Redis Cluster master under publish load", () => {
  it("promotes its replica; loses, doubles and renumbers nothing; a long-polling follower sees each number once", async () => {
    const loads = stack.startLoads(40, [1, 2, 3]);
    const followers = followLoads(stack, loads, { longPollSeconds: 1 });
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 15_000)));

    const victimStream = algorithmStreamId(1);
    const master = await cluster.masterOf(streamKeys(victimStream).head);
    const from = loads.map((l) => l.clock());
    await master.kill("SIGKILL");
    await cluster.waitHealthy(30_000);
    const promoted = await cluster.masterOf(streamKeys(victimStream).head);
    // The fault had its effect: another node serves the stream's slot now.
    expect(promoted.port).not.toBe(master.port);
    // Every stream numbers again through the new master.
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 20_000)));
    const windows: FaultWindow[] = loads.map((l, i) => ({ from: from[i] as number, to: l.clock() }));
    await waitForReady(stack.services, 10_000);

    const readBack = await stack.finish(loads, { drainTimeoutMs: 30_000 });
    expectRecordIntact(readBack);
    // The clients ran into the failover: some attempt in its window failed and was retried.
    const felt = loads.reduce((n, l, i) => n + faultSeen(l.records, windows[i] as FaultWindow).failedAttempts, 0);
    expect(felt, "attempts that failed during the failover").toBeGreaterThan(0);
    await expectFollowersCaughtUp(followers, loads, readBack, 15_000);
    for (const follower of followers) for (const failure of follower.failures) expect(failure).not.toMatch(/^5(?!03)/);
    await expectEventsRecordInOrder(stack);
  }, 180_000);
});

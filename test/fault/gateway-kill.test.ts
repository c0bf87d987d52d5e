import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultWindow } from "../ledger/fault-window.js";
import {
  expectEventsRecordInOrder,
  expectEveryFaultFelt,
  expectFollowersCaughtUp,
  expectRecordIntact,
  followLoads,
} from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";

// Promises 1, 3 and 7 under a kill -9 of both gateways: publishers retry with the same key until
// the ingest gateway is back; a subscriber following with long polls resumes from its last number.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 2 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("kill -9 of the ingest gateway and the stream gateway under publish load", () => {
  it("loses nothing, and a long-polling subscriber resumes from its last number and misses nothing", async () => {
    const loads = stack.startLoads(40);
    const followers = followLoads(stack, loads, { longPollSeconds: 2, batchSize: 7 });
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));

    // Per load, per round: from the kill until the gateways are back, on the load's own clock.
    const outages: FaultWindow[][] = loads.map(() => []);
    for (let round = 0; round < 2; round++) {
      const from = loads.map((l) => l.clock());
      await Promise.all([stack.killHard("ingest-gateway"), stack.killHard("stream-gateway")]);
      await Promise.all([stack.restart("ingest-gateway"), stack.restart("stream-gateway")]);
      for (const [i, l] of loads.entries()) outages[i]?.push({ from: from[i] as number, to: l.clock() });
      await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));
    }

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    // Every publishing client ran into each outage (refused connections, retried with the same key).
    expectEveryFaultFelt(loads, outages);
    // The followers reach the end and hold exactly what a fresh read holds.
    await expectFollowersCaughtUp(followers, loads, readBack, 15_000);
    // Each really went through the outage.
    for (const follower of followers) expect(follower.failures.length).toBeGreaterThan(0);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";

// Promise 1 and 2 under a kill -9 of the sequencer: the restarted one takes the partitions over
// (after the 1.5 s lease) and numbers what was left, skipping what was already applied.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 2 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("kill -9 of the sequencer under publish load", () => {
  it("loses, doubles and reorders nothing, twice over", async () => {
    const loads = stack.startLoads(40);
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));

    for (let round = 0; round < 2; round++) {
      await stack.killHard("sequencer");
      // Publishes go on being accepted while nothing numbers them.
      await Promise.all(loads.map((l) => l.waitForMoreAccepted(20)));
      await stack.restart("sequencer");
      await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));
    }

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    const { http } = readBack;
    expect(http.summary.accepted).toBeGreaterThan(200);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 60_000);
});

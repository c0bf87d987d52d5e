import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

    const { http, events, feeds } = await stack.finish(loads);
    expect(http.violations, http.describe()).toEqual([]);
    expect(events.violations, `EVENTS feed:\n${events.describe()}`).toEqual([]);
    expect(feeds.differences, `HTTP against EVENTS:\n${feeds.describe()}`).toEqual([]);
    expect(http.summary.accepted).toBeGreaterThan(200);
  }, 60_000);
});

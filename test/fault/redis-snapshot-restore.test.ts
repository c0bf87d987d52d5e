import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { headsInSnapshot, REDIS_FAULT_ROUNDS, runRedisForgetsUnderLoad } from "./redis-behind-load.js";

// Promise 1 when Redis comes back behind under publish load: redis-server killed (-9) and started
// from a snapshot taken a moment earlier (a failover to a lagging replica, a restore), while
// retrying clients publish and followers long-poll. EVENTS is the record: Redis is rebuilt from it,
// nothing accepted is lost, no number is handed out twice.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 2 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("Redis restarted from an older snapshot under publish load", () => {
  it(`${REDIS_FAULT_ROUNDS} round(s): every 2xx publish once, numbers 0..n-1, followers never see a number change its event`, async () => {
    const streamIds = ["algorithm-1", "algorithm-2"];
    let snapshot = "";
    await runRedisForgetsUnderLoad(stack, {
      async before() {
        snapshot = await stack.redis.snapshot();
      },
      async strike() {
        // Redis really goes back: what it is restarted from is behind what it acknowledged. On a
        // loaded machine numbering can lag the 202s, so wait until both streams moved past it.
        const restored = await headsInSnapshot(snapshot, streamIds);
        const live = await waitFor(
          async () => {
            const heads = await Promise.all(streamIds.map((id) => stack.redis.streamHead(id)));
            return heads.every((head, i) => head > (restored[i] as number)) ? heads : undefined;
          },
          { timeoutMs: 30_000, what: `both streams numbered past the snapshot's heads ${restored}` },
        );
        for (const [i, id] of streamIds.entries())
          expect(restored[i], `${id}: head ${live[i]} live, ${restored[i]} in the snapshot`).toBeLessThan(
            live[i] as number,
          );
        await stack.redis.restartFrom(snapshot);
      },
    });
  }, 110_000);
});

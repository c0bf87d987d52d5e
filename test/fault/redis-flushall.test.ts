import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { REDIS_FAULT_ROUNDS, runRedisForgetsUnderLoad } from "./redis-behind-load.js";

// Promise 1 when Redis loses everything without restarting (FLUSHALL: an operator's mistake, a
// replica resynced from an empty master) under publish load. EVENTS is the record: Redis is rebuilt
// from it, nothing accepted is lost, no number is handed out twice, and tenants (in NATS KV) still
// authenticate.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 2 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("FLUSHALL of Redis under publish load", () => {
  it(`${REDIS_FAULT_ROUNDS} round(s): every 2xx publish once, numbers 0..n-1, followers never see a number change its event`, async () => {
    await runRedisForgetsUnderLoad(stack, {
      async strike() {
        // Atomic with the flush: Redis held nothing right after it.
        const answers = await stack.redis.cli(["MULTI"], ["FLUSHALL"], ["DBSIZE"], ["EXEC"]);
        expect(answers, "MULTI FLUSHALL DBSIZE EXEC").toEqual(["OK", "QUEUED", "QUEUED", "OK", "0"]);
      },
    });
  }, 110_000);
});

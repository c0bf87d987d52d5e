import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { isClear503, probePublish, REDIS_OUTAGE_ANSWER_MS, waitForReady } from "./probe.js";

// Promise 1 when redis-server (AOF, fsync every second) stops and restarts under load. A graceful
// stop here; redis-kill.test.ts kills it with -9.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 3 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("redis-server stops and restarts under publish load", () => {
  it("nothing accepted is lost or doubled, and the services recover by themselves", async () => {
    const loads = stack.startLoads(40, [1, 2]);
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));

    await stack.redis.stop();
    // While Redis is down, a publish is answered with a clear 503 in bounded time (algorithm 3
    // is not part of the ledger).
    const probe = await probePublish(stack.services["ingest-gateway"].url, stack.publisher, 3, "probe-redis-down");
    expect(isClear503(probe), JSON.stringify(probe)).toBe(true);
    // Fails fast (README: within about 1.5 s), not after the client's own timeout.
    expect(probe.ms, JSON.stringify(probe)).toBeLessThan(REDIS_OUTAGE_ANSWER_MS);
    await waitFor(() => loads.every((l) => (l.records.at(-1)?.attempts.length ?? 0) >= 2), { timeoutMs: 5_000 });
    await stack.redis.restart();
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 30_000)));
    await waitForReady(stack.services, 15_000);

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    const { http } = readBack;
    // The clients saw the outage (503s or timeouts) and retried through it.
    expect(http.summary.attempts, http.describe()).toBeGreaterThan(http.summary.publishes);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 60_000);
});

import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWholeStream } from "../ledger/read-stream.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { probePublish } from "./probe.js";
import { REDIS_FAULT_ROUNDS, runRedisForgetsUnderLoad } from "./redis-behind-load.js";

// Promises 1 and 3 when the whole Redis is lost under publish load: redis-server killed (-9), its
// data folder emptied, restarted empty. EVENTS is the record: Redis is rebuilt from it, nothing
// accepted is lost or numbered twice; tenants (in NATS KV) still authenticate; and a key retried
// after the loss, once JetStream's duplicate window (short here) has passed, still makes no second
// event: the applied records rebuilt from EVENTS catch it.
const WINDOW_MS = 1_000;
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 3, env: { JETSTREAM_DUPLICATE_WINDOW_MS: String(WINDOW_MS) } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("the whole Redis lost (killed, emptied, restarted empty) under publish load", () => {
  it(`${REDIS_FAULT_ROUNDS} round(s): every 2xx publish once, numbers 0..n-1, tenants authenticate, a retried key makes one event`, async () => {
    const ingestUrl = () => stack.services["ingest-gateway"].url;
    // Publishes to algorithm 3 (not in the loads' ledger) with a key retried across each loss.
    const firstAnswers: { key: string; id: unknown; at: number }[] = [];
    await runRedisForgetsUnderLoad(stack, {
      async before(round) {
        const key = `kept-across-loss-${round}`;
        const answer = await probePublish(ingestUrl(), stack.publisher, 3, key);
        expect(answer.status, JSON.stringify(answer)).toBe(202);
        firstAnswers[round] = { key, id: (answer.body as { id?: unknown }).id, at: performance.now() };
      },
      async strike() {
        await stack.redis.restartFrom("empty");
      },
      async after(round) {
        // Tenants survive: the same publisher's key and secret still publish.
        const fresh = await probePublish(ingestUrl(), stack.publisher, 3, `after-loss-${round}`);
        expect(fresh.status, `a publish after the loss: ${JSON.stringify(fresh)}`).toBe(202);
        // The key retried once INGEST's duplicate window is over: JetStream no longer drops it.
        const first = firstAnswers[round] as { key: string; id: unknown; at: number };
        await waitFor(() => performance.now() - first.at > 2 * WINDOW_MS, { timeoutMs: 5_000, intervalMs: 50 });
        const retried = await probePublish(ingestUrl(), stack.publisher, 3, first.key);
        expect(retried.status, JSON.stringify(retried)).toBe(202);
        expect((retried.body as { id?: unknown }).id, "the retry's answer names the first publish").toBe(first.id);
      },
    });
    // Each key retried across a loss is one event.
    const probes = await readWholeStream(stack.services["stream-gateway"].url, stack.subscriber.token, "algorithm-3");
    for (const { key } of firstAnswers) {
      const copies = probes.events.filter((e) => e.data.ticker_symbol === key.slice(0, 32));
      expect(
        copies.map((e) => e.event_number),
        `events of key ${key}`,
      ).toHaveLength(1);
    }
  }, 110_000);
});

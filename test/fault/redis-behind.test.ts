import { isDeepStrictEqual } from "node:util";
import { openRedisSnapshot } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SignalLoad } from "../ledger/load.js";
import { followStream } from "../ledger/read-stream.js";
import { describeLastAnswers, expectEventsRecordInOrder } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { waitForReady } from "./probe.js";

// Promise 1 when Redis comes back behind what it acknowledged, as on a failover to a lagging
// replica, a restore, or a machine crash with fsync once a second: issue 9's scenario, run as
// written. One of every service on one NATS and one Redis (AOF everysec). 200 signals published
// and numbered; a snapshot of Redis; 100 more, read by a long-polling follower (200–299);
// redis-server killed (-9) and started from the snapshot; 100 more. EVENTS is the record: nothing
// accepted may be lost, and no number may be handed out twice.
const STREAM = "algorithm-1";
/** Numbers as read, consecutive runs joined: `[0,1,2,5,1]` → `"0..2, 5, 1"`. */
function runs(numbers: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === (numbers[j] as number) + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}..${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 1 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("Redis restarted from an older snapshot (issue 9's scenario)", () => {
  it("ends with every accepted publish once, numbered 0..399, and the follower saw each number once with the same content", async () => {
    // One clock for the three phases, so the ledger orders their publishes as one client's.
    const origin = performance.now();
    const publish = async (tag: string, count: number): Promise<SignalLoad> => {
      const [load] = stack.startLoads(100, [1], { tag, limit: count, clockOrigin: origin }) as [SignalLoad];
      await load.done();
      expect(load.accepted(), describeLastAnswers([load])).toBe(count);
      return load;
    };
    const follower = followStream({
      streamUrl: stack.services["stream-gateway"].url,
      token: stack.subscriber.token,
      streamId: STREAM,
      longPollSeconds: 2,
    });

    // 200 published and numbered, then the snapshot.
    const first = await publish("p1", 200);
    await follower.waitForEvent(199, 30_000);
    const snapshot = await stack.redis.snapshot();

    // 100 more, read by the follower as 200–299.
    const second = await publish("p2", 100);
    await follower.waitForEvent(299, 30_000);

    // The fault is real: Redis acknowledged 299, and what it is restarted from ends at 199.
    expect(await stack.redis.streamHead(STREAM)).toBe(299);
    const copy = await openRedisSnapshot(snapshot);
    try {
      expect(await copy.streamHead(STREAM)).toBe(199);
    } finally {
      await copy.stop();
    }
    await stack.redis.restartFrom(snapshot);
    await waitForReady(stack.services, 20_000);

    // 100 more.
    const third = await publish("p3", 100);

    const readBack = await stack.finish([first, second, third], { drainTimeoutMs: 30_000 });
    // Bounded: when numbers were handed out twice the follower never gets past 299.
    await follower.waitForEvent(399, 15_000).catch(() => {});
    await follower.stop();

    // Soft: the reproduction names every way the run went wrong, not only the first.
    const full = readBack.reads.http[STREAM]?.events ?? [];
    const { http, events } = readBack;
    expect.soft(http.violations.length, `ledger over HTTP:\n${http.describe(12)}`).toBe(0);
    expect.soft(runs(full.map((e) => e.event_number)), "a full read holds 0..399").toBe("0..399");
    expect.soft(follower.breaks, "the follower jumped").toEqual([]);
    expect.soft(runs(follower.events.map((e) => e.event_number)), "the follower saw 0..399, each once").toBe("0..399");
    // No number ever names two different events: what the follower got under n is what a later
    // full read holds under n.
    const renamed = follower.events.filter((e) => !isDeepStrictEqual(e, full[e.event_number]));
    expect
      .soft(
        runs(renamed.map((e) => e.event_number)),
        `numbers the follower read as one event that a full read shows as another, e.g. ` +
          `${JSON.stringify(renamed[0]?.data?.ticker_symbol)} now ${JSON.stringify(full[renamed[0]?.event_number ?? -1]?.data?.ticker_symbol)}`,
      )
      .toBe("");
    expect.soft(events.violations.length, `ledger over EVENTS:\n${events.describe(12)}`).toBe(0);
    await expectEventsRecordInOrder(stack, { soft: true });
  }, 120_000);
});

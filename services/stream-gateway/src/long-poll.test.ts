import { Counter, Registry } from "@heliograph/platform";
import { LOG_EVENT_FIELD, LOG_INGEST_FIELD, logEntryId, streamKeys } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./gateway-fixture.js";
import type { Waiter } from "./hub.js";
import { type LongPollDeps, readOrWait } from "./long-poll.js";

let fx: GatewayFixture;
let reads: Counter<"outcome">;

beforeAll(async () => {
  fx = await startGatewayFixture();
  reads = new Counter({
    name: "heliograph_test_reads_total",
    help: "t",
    labelNames: ["outcome"],
    registers: [new Registry()],
  });
});

afterAll(async () => {
  await fx?.close();
});

const request = (streamId: string, after: number, longPollMs: number, signal = new AbortController().signal) => ({
  streamId,
  after,
  batchSize: 10,
  longPollMs,
  signal,
});

describe("read-or-wait", () => {
  it("an event stored between the first read and the registration is never missed", async () => {
    const sid = "race-window";
    await fx.sequencer.appendHistory(sid, 1);
    // The hub is real; the event lands in Redis (without a publish, so no wakeup can come) right as
    // the waiter registers: only the head check after registering can see it.
    const keys = streamKeys(sid);
    const text = fx.sequencer.eventText(sid, 1);
    const hub: LongPollDeps["hub"] = {
      register: (waiter: Waiter) => {
        const result = fx.app.hub.register(waiter);
        // Issued before readOrWait's head check on the same connection, so Redis applies them first.
        void fx.redis.xadd(keys.log, logEntryId(1), LOG_EVENT_FIELD, text, LOG_INGEST_FIELD, "ing-race");
        void fx.redis.set(keys.head, "1");
        return result;
      },
      unregister: (waiter: Waiter) => fx.app.hub.unregister(waiter),
    };
    const t0 = performance.now();
    const answer = await readOrWait({ redis: fx.redis, hub, reads }, request(sid, 0, 10_000));
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(answer).toMatchObject({ kind: "events", head: 1, status: "live", outcome: "rechecked" });
    if (answer.kind !== "events") throw new Error("unreachable");
    expect((JSON.parse(answer.body) as { event_number: number }[]).map((e) => e.event_number)).toEqual([1]);
    expect(fx.app.hub.stats().waiters).toBe(0);
  });

  it("an aborted read unregisters at once and answers nothing", async () => {
    const controller = new AbortController();
    const pending = readOrWait(
      { redis: fx.redis, hub: fx.app.hub, reads },
      request("abort-me", -1, 10_000, controller.signal),
    );
    await waitFor(() => fx.app.hub.stats().waiters === 1);
    controller.abort();
    expect(fx.app.hub.stats().waiters).toBe(0);
    expect(await pending).toEqual({ kind: "aborted", outcome: "aborted" });
  });

  it("a recheck with nothing new keeps waiting until the bound", async () => {
    const sid = "recheck-nothing";
    const t0 = performance.now();
    const pending = readOrWait({ redis: fx.redis, hub: fx.app.hub, reads }, request(sid, -1, 600));
    await waitFor(() => fx.app.hub.stats().waiters === 1);
    fx.app.hub.recheckAll();
    await waitFor(() => fx.app.hub.stats().waiters === 1, { what: "re-registered after the recheck" });
    const answer = await pending;
    const elapsed = performance.now() - t0;
    expect(answer).toMatchObject({ kind: "events", body: "[]", head: -1, outcome: "empty" });
    expect(elapsed).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(1_000);
  });
});

import { DEFAULT_PARTITION_COUNT, EVENTS_STREAM, type StreamEvent } from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import { lastRecordedEvent, readHead, readRecordedEvents, streamKeys } from "@heliograph/store";
import { flushAllRedis, waitFor } from "@heliograph/testkit";
import { DiscardPolicy } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { ingestMessage, publishIngest } from "../test/ingest-fixture.js";
import { useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "hot-window-test", level: process.env.TEST_LOG_LEVEL ?? "silent" });
const WINDOW = 10;
const BATCH_MAX = 50;

describe("the hot window against the record", () => {
  const { ctx, start } = useSequencerServers(log, { ownServers: true });

  const publish = async (sid: string, from: number, to: number) => {
    const publishes: Promise<unknown>[] = [];
    for (let k = from; k < to; k++) publishes.push(publishIngest(ctx.js, ingestMessage(sid, `${sid}-${k}`, k)));
    await Promise.all(publishes);
  };

  it("keeps what EVENTS lacks whatever the window: after a crash the next owner publishes it from the log", async () => {
    const sid = "hot-ahead";
    const options = { HOT_WINDOW_EVENTS: WINDOW, BATCH_MAX };
    const first = await start("hot-a", options);
    await waitFor(() => first.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT, { what: "partitions" });
    await publish(sid, 0, 30);
    await waitFor(async () => (await lastRecordedEvent(ctx.jsm, sid))?.eventNumber === 29, { what: "0..29 in EVENTS" });
    expect(await ctx.redis.xlen(streamKeys(sid).log)).toBeLessThanOrEqual(WINDOW + 2 * BATCH_MAX);

    // EVENTS refuses every publish from now on: what the sequencer numbers stays in Redis only.
    // The next 100 publishes wait in INGEST while no sequencer runs, so the next owner's first
    // pull takes a full batch at once (a running one could number them one by one as they come,
    // and stop at the first refused).
    await first.crash();
    const info = await ctx.jsm.streams.info(EVENTS_STREAM);
    await ctx.jsm.streams.update(EVENTS_STREAM, {
      ...info.config,
      max_msgs: info.state.messages,
      discard: DiscardPolicy.New,
    });
    await publish(sid, 30, 130);
    const refused = await start("hot-a2", options);
    await waitFor(async () => (await readHead(ctx.redis, sid)) >= 30 + BATCH_MAX - 1, {
      what: "a batch numbered that EVENTS refused",
    });
    const head = await readHead(ctx.redis, sid);
    // Every event after EVENTS' last is still in the log, far past the window.
    const [oldest] = await ctx.redis.xrange(streamKeys(sid).log, "-", "+", "COUNT", 1);
    expect(Number(oldest?.[0].split("-")[0]) - 1).toBeLessThanOrEqual(30);
    expect(head - 29).toBeGreaterThan(WINDOW);

    await refused.crash();
    await ctx.jsm.streams.update(EVENTS_STREAM, { ...info.config, max_msgs: -1, discard: DiscardPolicy.Old });
    const second = await start("hot-b", options);
    await waitFor(async () => (await lastRecordedEvent(ctx.jsm, sid))?.eventNumber === 129, {
      what: "0..129 in EVENTS",
      timeoutMs: 20_000,
    });
    const recorded = await readRecordedEvents(ctx.js, ctx.jsm, sid, -1, 1_000);
    expect(recorded.map((e) => e.eventNumber)).toEqual([...Array(130).keys()]);
    expect(recorded.map((e) => (JSON.parse(e.text) as StreamEvent).data.k)).toEqual([...Array(130).keys()]);

    // Once EVENTS holds everything, the next step trims the log to exactly the window.
    await publish(sid, 130, 131);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 130, { what: "event 130" });
    expect(await ctx.redis.xlen(streamKeys(sid).log)).toBe(WINDOW);
    await second.stop();
  }, 60_000);

  it("after Redis is lost, a stream whose early events EVENTS no longer holds restarts at the first it holds", async () => {
    const sid = "hot-capped";
    const CAP = 50;
    const info = await ctx.jsm.streams.info(EVENTS_STREAM);
    await ctx.jsm.streams.update(EVENTS_STREAM, { ...info.config, max_msgs_per_subject: CAP });
    const instance = await start("hot-c", { HOT_WINDOW_EVENTS: WINDOW, BATCH_MAX });
    await waitFor(() => instance.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT, {
      what: "partitions",
    });
    await publish(sid, 0, 120);
    await waitFor(async () => (await lastRecordedEvent(ctx.jsm, sid))?.eventNumber === 119, { what: "0..119 sent" });
    await flushAllRedis(ctx.redis);

    await publish(sid, 120, 130);
    await waitFor(async () => (await lastRecordedEvent(ctx.jsm, sid))?.eventNumber === 129, {
      what: "numbering went on after the loss",
      timeoutMs: 20_000,
    });
    const recorded = await readRecordedEvents(ctx.js, ctx.jsm, sid, 129 - CAP, 1_000);
    expect(recorded.map((e) => (JSON.parse(e.text) as StreamEvent).data.k)).toEqual(
      Array.from({ length: CAP }, (_, i) => 130 - CAP + i),
    );
    // The log has no hole: consecutive up to the head, within the window and what is in flight.
    expect(await readHead(ctx.redis, sid)).toBe(129);
    const entries = await ctx.redis.xrange(streamKeys(sid).log, "-", "+");
    const numbers = entries.map(([id]) => Number(id.split("-")[0]) - 1);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 130 - numbers.length + i));
    expect(numbers.length).toBeLessThanOrEqual(WINDOW + 2 * BATCH_MAX);
    await ctx.jsm.streams.update(EVENTS_STREAM, { ...info.config, max_msgs_per_subject: -1 });
  }, 60_000);
});

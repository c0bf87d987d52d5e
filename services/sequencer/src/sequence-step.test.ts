import { eventText } from "@heliograph/contracts";
import { connectRedis, createLogger, type Redis } from "@heliograph/platform";
import { LOG_INGEST_FIELD, readEventsAfter, readHead, streamKeys } from "@heliograph/store";
import { type RedisServerHandle, startRedisServer } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haltStream, runSequenceStep, StaleEpochError } from "./sequence-step.js";

const log = createLogger({ name: "test", level: "warn" });
const body = (k: number) => `"event_type":"TradingSignalCreated","data":{"id":"s${k}","k":${k}}}`;

describe("sequence step (Lua)", () => {
  let server: RedisServerHandle;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connectRedis(server.url, log, "test");
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it("numbers a batch head+1 onwards, appends the log and records each ingest id", async () => {
    const out = await runSequenceStep(redis, "step-a", 1, 3600, [
      { ingestId: "i0", bodyText: body(0) },
      { ingestId: "i1", bodyText: body(1) },
    ]);
    expect(out).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(0)), fresh: true },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(1)), fresh: true },
    ]);
    const more = await runSequenceStep(redis, "step-a", 1, 3600, [{ ingestId: "i2", bodyText: body(2) }]);
    expect(more[0]).toMatchObject({ eventNumber: 2, fresh: true });
    expect(await readHead(redis, "step-a")).toBe(2);
    expect(await readEventsAfter(redis, "step-a", -1, 10)).toEqual([0, 1, 2].map((n) => eventText(n, body(n))));
    for (const text of await readEventsAfter(redis, "step-a", -1, 10)) JSON.parse(text);
    const entries = await redis.xrange(streamKeys("step-a").log, "-", "+");
    expect(entries.map(([id]) => id)).toEqual(["1-0", "2-0", "3-0"]);
    expect(entries[1]?.[1]).toContain(LOG_INGEST_FIELD);
    const ttl = await redis.ttl(`${streamKeys("step-a").appliedPrefix}i1`);
    expect(ttl).toBeGreaterThan(3500);
    expect(await redis.get(`${streamKeys("step-a").appliedPrefix}i1`)).toBe("1");
  });

  it("returns the stored number and text for an ingest id applied before, also within one batch", async () => {
    const first = await runSequenceStep(redis, "step-b", 1, 3600, [{ ingestId: "x", bodyText: body(7) }]);
    const again = await runSequenceStep(redis, "step-b", 1, 3600, [
      { ingestId: "x", bodyText: body(99) },
      { ingestId: "y", bodyText: body(8) },
      { ingestId: "y", bodyText: body(8) },
    ]);
    expect(first[0]).toEqual({ kind: "numbered", eventNumber: 0, text: eventText(0, body(7)), fresh: true });
    expect(again).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(7)), fresh: false },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(8)), fresh: true },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(8)), fresh: false },
    ]);
    expect(await readHead(redis, "step-b")).toBe(1);
  });

  it("refuses an epoch older than the stream's fence and raises the fence for newer ones", async () => {
    await runSequenceStep(redis, "step-c", 5, 3600, [{ ingestId: "a", bodyText: body(0) }]);
    await expect(runSequenceStep(redis, "step-c", 4, 3600, [{ ingestId: "b", bodyText: body(1) }])).rejects.toThrow(
      StaleEpochError,
    );
    expect(await readHead(redis, "step-c")).toBe(0);
    await runSequenceStep(redis, "step-c", 6, 3600, [{ ingestId: "b", bodyText: body(1) }]);
    expect(await redis.get(streamKeys("step-c").fence)).toBe("6");
    await expect(runSequenceStep(redis, "step-c", 5, 3600, [{ ingestId: "c", bodyText: body(2) }])).rejects.toThrow(
      StaleEpochError,
    );
    expect(await readHead(redis, "step-c")).toBe(1);
  });

  it("numbers nothing of a halted stream, but still answers redeliveries of applied messages", async () => {
    await runSequenceStep(redis, "step-d", 1, 3600, [{ ingestId: "a", bodyText: body(0) }]);
    await haltStream(redis, "step-d", "test halt", "b");
    const out = await runSequenceStep(redis, "step-d", 1, 3600, [
      { ingestId: "a", bodyText: body(0) },
      { ingestId: "b", bodyText: body(1) },
      { ingestId: "c", bodyText: body(2) },
    ]);
    expect(out).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(0)), fresh: false },
      { kind: "halted" },
      { kind: "halted" },
    ]);
    expect(await readHead(redis, "step-d")).toBe(0);
    expect(await redis.hgetall(streamKeys("step-d").status)).toMatchObject({
      status: "halted",
      reason: "test halt",
      ingest_id: "b",
    });
    // The first reason is kept.
    await haltStream(redis, "step-d", "another", "c");
    expect(await redis.hget(streamKeys("step-d").status, "reason")).toBe("test halt");
  });

  it("Redis itself refuses an out-of-order log write", async () => {
    await runSequenceStep(redis, "step-e", 1, 3600, [{ ingestId: "a", bodyText: body(0) }]);
    await redis.set(streamKeys("step-e").head, "-1");
    await expect(runSequenceStep(redis, "step-e", 1, 3600, [{ ingestId: "b", bodyText: body(1) }])).rejects.toThrow(
      /equal or smaller/,
    );
    expect(await readEventsAfter(redis, "step-e", -1, 10)).toEqual([eventText(0, body(0))]);
  });
});

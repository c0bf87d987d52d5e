import {
  eventText,
  foldIdeas,
  type IdeaEvent,
  type IdeaEventType,
  type IngestMessage,
  ideaTransitionViolation,
} from "@heliograph/contracts";
import { connectRedis, createLogger, type Redis } from "@heliograph/platform";
import {
  LOG_INGEST_FIELD,
  LogTrimmedError,
  partitionEpochKey,
  readEventsAfter,
  readHead,
  readIdeaProjection,
  readIdeaState,
  readOpenIdeas,
  streamKeys,
} from "@heliograph/store";
import { type RedisServerHandle, startRedisServer, testsOnRedisCluster } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ideaMessage } from "../test/ingest-fixture.js";
import {
  recordedStepInput,
  runDrainStep,
  runRestoreStep,
  runSequenceStep,
  StaleEpochError,
  type StepInput,
  stepInputOf,
} from "./sequence-step.js";

const log = createLogger({ name: "test", level: "warn" });
const body = (k: number) => `"event_type":"TradingSignalCreated","data":{"id":"s${k}","k":${k}}}`;
const plain = (ingestId: string, k: number): StepInput => ({
  ingestId,
  bodyText: body(k),
  heldEntry: `{"ingest_id":"${ingestId}"}`,
});
const PUBLISHED_AT = "2024-01-01T00:00:00.000Z";
const idea = (message: IngestMessage) => stepInputOf(message, JSON.stringify(message), PUBLISHED_AT);

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
    const out = await runSequenceStep(redis, "step-a", 1, 3600, [plain("i0", 0), plain("i1", 1)]);
    expect(out.outcomes).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(0)), fresh: true },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(1)), fresh: true },
    ]);
    expect(out).toMatchObject({ halted: false, held: 0 });
    const more = await runSequenceStep(redis, "step-a", 1, 3600, [plain("i2", 2)]);
    expect(more.outcomes[0]).toMatchObject({ eventNumber: 2, fresh: true });
    expect(await readHead(redis, "step-a")).toBe(2);
    expect(await readEventsAfter(redis, "step-a", -1, 10)).toEqual([0, 1, 2].map((n) => eventText(n, body(n))));
    const entries = await redis.xrange(streamKeys("step-a").log, "-", "+");
    expect(entries.map(([id]) => id)).toEqual(["1-0", "2-0", "3-0"]);
    expect(entries[1]?.[1]).toContain(LOG_INGEST_FIELD);
    expect(await redis.ttl(`${streamKeys("step-a").appliedPrefix}i1`)).toBeGreaterThan(3500);
    expect(await redis.get(`${streamKeys("step-a").appliedPrefix}i1`)).toBe("1");
  });

  it("returns the stored number and text for an ingest id applied before, also within one batch", async () => {
    const first = await runSequenceStep(redis, "step-b", 1, 3600, [plain("x", 7)]);
    const again = await runSequenceStep(redis, "step-b", 1, 3600, [plain("x", 99), plain("y", 8), plain("y", 8)]);
    expect(first.outcomes[0]).toEqual({ kind: "numbered", eventNumber: 0, text: eventText(0, body(7)), fresh: true });
    expect(again.outcomes).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(7)), fresh: false },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(8)), fresh: true },
      { kind: "numbered", eventNumber: 1, text: eventText(1, body(8)), fresh: false },
    ]);
    expect(await readHead(redis, "step-b")).toBe(1);
  });

  it("refuses an epoch older than the stream's fence, in step and drain mode", async () => {
    await runSequenceStep(redis, "step-c", 5, 3600, [plain("a", 0)]);
    await expect(runSequenceStep(redis, "step-c", 4, 3600, [plain("b", 1)])).rejects.toThrow(StaleEpochError);
    await expect(runDrainStep(redis, "step-c", 4, 3600, [plain("b", 1)])).rejects.toThrow(StaleEpochError);
    expect(await readHead(redis, "step-c")).toBe(0);
    await runSequenceStep(redis, "step-c", 6, 3600, [plain("b", 1)]);
    expect(await redis.get(streamKeys("step-c").fence)).toBe("6");
    await expect(runSequenceStep(redis, "step-c", 5, 3600, [plain("c", 2)])).rejects.toThrow(StaleEpochError);
    expect(await readHead(redis, "step-c")).toBe(1);
  });

  // The partition epoch key is in another slot than the stream's: on a Redis Cluster the step
  // leaves it out and the epoch is read before each batch (partition-numbering.ts).
  it.skipIf(testsOnRedisCluster)(
    "refuses, writing nothing, unless the partition epoch is the step's, also on a stream the new epoch never wrote",
    async () => {
      const epochKey = partitionEpochKey(6);
      await redis.set(epochKey, "3");
      const ok = await runSequenceStep(redis, "step-pe", 3, 3600, [plain("a", 0)], { partitionEpochKey: epochKey });
      expect(ok.outcomes).toMatchObject([{ kind: "numbered", eventNumber: 0 }]);
      await redis.incr(epochKey); // taken over by epoch 4, which has not written step-pe yet
      await expect(
        runSequenceStep(redis, "step-pe", 3, 3600, [plain("b", 1)], { partitionEpochKey: epochKey }),
      ).rejects.toThrow(StaleEpochError);
      await expect(
        runDrainStep(redis, "step-pe", 3, 3600, [plain("b", 1)], { partitionEpochKey: epochKey }),
      ).rejects.toThrow(StaleEpochError);
      expect(await readHead(redis, "step-pe")).toBe(0);
      expect(await redis.get(streamKeys("step-pe").fence)).toBe("3");
      expect(await redis.exists(`${streamKeys("step-pe").appliedPrefix}b`)).toBe(0);
    },
  );

  it("stores the full held entry of a message sent without one: the rest of the batch is sent again", async () => {
    const sid = "step-resend";
    const keys = streamKeys(sid);
    const bad: StepInput = { ingestId: "bad", bodyText: "", problem: "not JSON", heldEntry: "bad-entry" };
    // The halt comes mid-batch: what follows it is held in full although the caller left the entries out.
    const out = await runSequenceStep(redis, sid, 1, 3600, [plain("a", 0), bad, plain("b", 1), plain("c", 2)]);
    expect(out.outcomes).toMatchObject([{ kind: "numbered" }, { kind: "halted" }, { kind: "held" }, { kind: "held" }]);
    expect(out).toMatchObject({ halted: true, held: 3, stop: "" });
    // Already halted when the step starts: the first message is held in full, the applied one still answered.
    const again = await runSequenceStep(redis, sid, 1, 3600, [plain("d", 3), plain("a", 0)]);
    expect(again.outcomes).toMatchObject([{ kind: "held" }, { kind: "numbered", eventNumber: 0, fresh: false }]);
    expect(await redis.lrange(keys.held, 0, -1)).toEqual([
      "bad-entry",
      plain("b", 1).heldEntry,
      plain("c", 2).heldEntry,
      plain("d", 3).heldEntry,
    ]);
    const withHeld = await runSequenceStep(redis, sid, 1, 3600, [plain("e", 4)], { withHeld: true });
    expect(withHeld).toMatchObject({ outcomes: [{ kind: "held" }], held: 5 });
    expect(await redis.lindex(keys.held, -1)).toBe(plain("e", 4).heldEntry);
  });

  it("holds everything of a halted stream in order, once each, and still answers applied ones", async () => {
    const sid = "step-d";
    const keys = streamKeys(sid);
    await runSequenceStep(redis, sid, 1, 3600, [plain("a", 0)]);
    await redis.hset(keys.status, { status: "halted", reason: "test halt", ingest_id: "b" });
    const out = await runSequenceStep(redis, sid, 1, 3600, [
      plain("a", 0),
      plain("b", 1),
      plain("c", 2),
      plain("b", 1),
    ]);
    expect(out.outcomes).toEqual([
      { kind: "numbered", eventNumber: 0, text: eventText(0, body(0)), fresh: false },
      { kind: "held" },
      { kind: "held" },
      { kind: "held" },
    ]);
    expect(out).toMatchObject({ halted: true, held: 2 });
    expect(await redis.lrange(keys.held, 0, -1)).toEqual([plain("b", 1).heldEntry, plain("c", 2).heldEntry]);
    expect(await redis.get(`${keys.appliedPrefix}c`)).toBe("held");
    expect(await redis.ttl(`${keys.appliedPrefix}c`)).toBe(-1);
    expect(await readHead(redis, sid)).toBe(0);
    // Draining a halted stream does nothing.
    const drain = await runDrainStep(redis, sid, 1, 3600, [plain("b", 1)]);
    expect(drain).toMatchObject({ outcomes: [], halted: true, stop: "halted" });

    // Live again: new messages still queue behind the held ones; the drain numbers in held order.
    await redis.del(keys.status);
    const behind = await runSequenceStep(redis, sid, 1, 3600, [plain("d", 3)]);
    expect(behind).toMatchObject({ outcomes: [{ kind: "held" }], halted: false, held: 3 });
    // An entry that is not the head stops the drain.
    expect(await runDrainStep(redis, sid, 1, 3600, [plain("c", 2)])).toMatchObject({ outcomes: [], stop: "changed" });
    const drained = await runDrainStep(redis, sid, 1, 3600, [plain("b", 1), plain("c", 2), plain("d", 3)]);
    expect(drained.outcomes.map((o) => (o.kind === "numbered" ? o.eventNumber : o.kind))).toEqual([1, 2, 3]);
    expect(drained).toMatchObject({ halted: false, held: 0, stop: "" });
    expect(await redis.get(`${keys.appliedPrefix}c`)).toBe("2");
    expect(await redis.ttl(`${keys.appliedPrefix}c`)).toBeGreaterThan(3500);
    const next = await runSequenceStep(redis, sid, 1, 3600, [plain("e", 4), plain("c", 2)]);
    expect(next.outcomes).toMatchObject([
      { kind: "numbered", eventNumber: 4, fresh: true },
      { kind: "numbered", eventNumber: 2, fresh: false },
    ]);
  });

  it("halts on an unreadable message and holds what follows it in the batch", async () => {
    const sid = "step-poison";
    const bad: StepInput = { ingestId: "bad", bodyText: "", problem: "not JSON", heldEntry: "bad-entry" };
    const out = await runSequenceStep(redis, sid, 1, 3600, [plain("ok", 0), bad, plain("after", 2)]);
    expect(out.outcomes).toMatchObject([
      { kind: "numbered", eventNumber: 0 },
      { kind: "halted", reason: "not JSON" },
      { kind: "held" },
    ]);
    expect(await redis.hgetall(streamKeys(sid).status)).toMatchObject({
      status: "halted",
      reason: "not JSON",
      ingest_id: "bad",
    });
    expect(await redis.lrange(streamKeys(sid).held, 0, -1)).toEqual(["bad-entry", plain("after", 2).heldEntry]);
  });

  it("Redis itself refuses an out-of-order log write", async () => {
    await runSequenceStep(redis, "step-e", 1, 3600, [plain("a", 0)]);
    await redis.set(streamKeys("step-e").head, "-1");
    await expect(runSequenceStep(redis, "step-e", 1, 3600, [plain("b", 1)])).rejects.toThrow(/equal or smaller/);
    expect(await readEventsAfter(redis, "step-e", -1, 10)).toEqual([eventText(0, body(0))]);
  });

  it("applies exactly the rules of contracts ideaTransitionViolation", async () => {
    const T0 = "2024-03-01T10:00:00.000Z";
    const EARLIER = "2024-03-01T09:59:59.999Z";
    const SAME_MS = "2024-03-01T10:00:00.000400Z";
    const LATER = "2024-03-01T10:00:00.001+00:00";
    const OFFSET_EARLIER = "2024-03-01T11:00:00.000+02:00";
    type History = [IdeaEventType, string][];
    const histories: Record<string, History> = {
      none: [],
      open: [["IdeaOpened", T0]],
      updated: [
        ["IdeaOpened", EARLIER],
        ["IdeaUpdated", T0],
      ],
      closed: [
        ["IdeaOpened", EARLIER],
        ["IdeaClosed", T0],
      ],
    };
    const types: IdeaEventType[] = ["IdeaOpened", "IdeaUpdated", "IdeaClosed"];
    let c = 0;
    let checked = 0;
    for (const [name, history] of Object.entries(histories))
      for (const type of types)
        for (const ts of [EARLIER, T0, SAME_MS, LATER, OFFSET_EARLIER]) {
          const sid = `rules-${c++}`;
          let current: { state: "open" | "closed"; timestamp: string } | undefined;
          const setup = history.map(([t, at], i) => {
            current = { state: t === "IdeaClosed" ? "closed" : "open", timestamp: at };
            return idea(ideaMessage(sid, `${sid}-h${i}`, t, "idea-1", at));
          });
          const prior = await runSequenceStep(redis, sid, 1, 3600, setup);
          expect(prior.halted).toBe(false);
          const expected = ideaTransitionViolation(current, type, ts);
          const out = await runSequenceStep(redis, sid, 1, 3600, [
            idea(ideaMessage(sid, `${sid}-x`, type, "idea-1", ts)),
          ]);
          if (expected === undefined)
            expect(out.outcomes[0], `${name} ${type} ${ts}`).toMatchObject({ kind: "numbered" });
          else expect(out.outcomes[0], `${name} ${type} ${ts}`).toEqual({ kind: "halted", reason: expected });
          // A different idea id is never affected by this one's state.
          const other = await runSequenceStep(redis, `${sid}-o`, 1, 3600, [
            idea(ideaMessage(`${sid}-o`, `${sid}-o`, type, "idea-2", ts)),
          ]);
          expect(other.outcomes[0]?.kind).toBe(type === "IdeaOpened" ? "numbered" : "halted");
          checked++;
        }
    expect(checked).toBe(60);
  });

  it("keeps the idea projections equal to foldIdeas over the log", async () => {
    const sid = "ideas-fold";
    const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
    await runSequenceStep(redis, sid, 1, 3600, [
      idea(ideaMessage(sid, "f0", "IdeaOpened", "a", at(0))),
      idea(ideaMessage(sid, "f1", "IdeaOpened", "b", at(1))),
      idea(ideaMessage(sid, "f2", "IdeaUpdated", "a", at(2))),
    ]);
    await runSequenceStep(redis, sid, 1, 3600, [
      idea(ideaMessage(sid, "f3", "IdeaClosed", "b", at(3))),
      idea(ideaMessage(sid, "f4", "IdeaOpened", "c", at(4))),
      idea(ideaMessage(sid, "f5", "IdeaUpdated", "a", at(5))),
    ]);
    const events = (await readEventsAfter(redis, sid, -1, 100)).map((t) => JSON.parse(t) as IdeaEvent);
    const folded = foldIdeas(events);
    for (const [id, projection] of folded)
      expect(JSON.parse((await readIdeaProjection(redis, sid, id)) ?? "null")).toEqual(projection);
    expect(await readIdeaState(redis, sid, "a")).toEqual({ state: "open", timestamp: at(5), events: 3 });
    expect(await readIdeaState(redis, sid, "b")).toEqual({ state: "closed", timestamp: at(3), events: 2 });
    expect(await readIdeaState(redis, sid, "zz")).toBeUndefined();
    expect((await readOpenIdeas(redis, sid)).map((t) => JSON.parse(t))).toEqual([folded.get("a"), folded.get("c")]);
  });

  describe("hot window", () => {
    const firstLogNumber = async (sid: string) => {
      const [entry] = await redis.xrange(streamKeys(sid).log, "-", "+", "COUNT", 1);
      return entry ? Number(entry[0].split("-")[0]) - 1 : undefined;
    };
    const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => plain(`w${from + i}`, from + i));

    it("keeps exactly the window once EVENTS holds what is trimmed; idea states are not trimmed", async () => {
      const sid = "window-a";
      for (let from = 0; from < 100; from += 10)
        await runSequenceStep(redis, sid, 1, 3600, batch(from, 10), { hotWindow: 25, recordedUpTo: from + 9 });
      expect(await redis.xlen(streamKeys(sid).log)).toBe(25);
      expect(await firstLogNumber(sid)).toBe(75);
      expect(await readHead(redis, sid)).toBe(99);
      // A reader older than the window is told where the log starts, never answered with a gap.
      await expect(readEventsAfter(redis, sid, 10, 5, 1_000_000)).rejects.toMatchObject({ earliest: 75 });
      await expect(readEventsAfter(redis, sid, 10, 5)).rejects.toBeInstanceOf(LogTrimmedError);
      expect(await readEventsAfter(redis, sid, 74, 2, 1_000_000)).toEqual([75, 76].map((n) => eventText(n, body(n))));

      const ideas = "window-ideas";
      const opens = Array.from({ length: 30 }, (_, i) =>
        idea(ideaMessage(ideas, `o${i}`, "IdeaOpened", `i${i}`, at(i))),
      );
      await runSequenceStep(redis, ideas, 1, 3600, opens, { hotWindow: 10, recordedUpTo: 29 });
      expect(await redis.xlen(streamKeys(ideas).log)).toBe(10);
      expect(await redis.hlen(streamKeys(ideas).ideas)).toBe(30);
      expect(await readIdeaState(redis, ideas, "i0")).toMatchObject({ state: "open" });
    });

    it("never trims an event EVENTS is not known to hold, whatever the window", async () => {
      const sid = "window-b";
      // Nothing known recorded: the repair may still have to publish all of it from the log.
      await runSequenceStep(redis, sid, 1, 3600, batch(0, 50), { hotWindow: 10 });
      expect(await redis.xlen(streamKeys(sid).log)).toBe(50);
      await runSequenceStep(redis, sid, 1, 3600, batch(50, 10), { hotWindow: 10, recordedUpTo: 29 });
      expect(await firstLogNumber(sid)).toBe(30);
      await runSequenceStep(redis, sid, 1, 3600, batch(60, 10), { hotWindow: 10, recordedUpTo: 69 });
      expect(await firstLogNumber(sid)).toBe(60);
      expect(await redis.xlen(streamKeys(sid).log)).toBe(10);
    });

    it("a replay past EVENTS' retention restarts the log at the first event EVENTS holds", async () => {
      const sid = "window-c";
      await runSequenceStep(redis, sid, 1, 3600, batch(0, 5), { hotWindow: 10, recordedUpTo: 4 });
      const recorded = [40, 41, 42].map((n) => recordedStepInput(eventText(n, body(n)), `r${n}`));
      expect(await runRestoreStep(redis, sid, 1, 3600, 4, recorded, { hotWindow: 10, firstNumber: 40 })).toBe(42);
      expect(await firstLogNumber(sid)).toBe(40);
      expect(await redis.xlen(streamKeys(sid).log)).toBe(3);
      expect(await redis.get(`${streamKeys(sid).appliedPrefix}r41`)).toBe("41");
    });
  });
});

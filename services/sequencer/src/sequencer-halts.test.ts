import {
  foldIdeas,
  type IdeaEvent,
  type IdeaEventType,
  INGEST_STREAM,
  ideaTransitionViolation,
  partitionOf,
  RESUME_SUBJECT,
  type ResumeNotice,
  SEQUENCED_SUBJECT_PREFIX,
  SequencedNotice,
  type StreamId,
} from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import {
  haltedStreamsKey,
  LOG_INGEST_FIELD,
  listHaltedStreams,
  readEventsAfter,
  readHalt,
  readHead,
  readIdeaProjection,
  readParked,
  readPublishStatus,
  resolveHalt,
  resumableStreamsKey,
  streamKeys,
} from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { ideaMessage, publishIngest, readNumbered, streamOnSamePartition } from "../test/ingest-fixture.js";
import { type SequencerInstance, useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "sequencer-halts-test", level: process.env.TEST_LOG_LEVEL ?? "silent" });
const at = (s: number) => new Date(Date.UTC(2024, 4, 1, 12, 0, s)).toISOString();

type Step = [IdeaEventType, string, number];

/** One stream per rule: valid events, the offending one, then valid events published behind it. */
const RULES: Record<string, { before: Step[]; offending: Step; behind: Step[] }> = {
  "update-never-opened": {
    before: [["IdeaOpened", "x", 0]],
    offending: ["IdeaUpdated", "y", 1],
    behind: [
      ["IdeaUpdated", "x", 2],
      ["IdeaClosed", "x", 3],
    ],
  },
  "close-never-opened": {
    before: [["IdeaOpened", "x", 0]],
    offending: ["IdeaClosed", "y", 1],
    behind: [["IdeaUpdated", "x", 2]],
  },
  "second-open": {
    before: [
      ["IdeaOpened", "x", 0],
      ["IdeaUpdated", "x", 1],
    ],
    offending: ["IdeaOpened", "x", 2],
    behind: [
      ["IdeaUpdated", "x", 3],
      ["IdeaOpened", "y", 4],
    ],
  },
  "after-close": {
    before: [
      ["IdeaOpened", "x", 0],
      ["IdeaClosed", "x", 1],
    ],
    offending: ["IdeaUpdated", "x", 2],
    behind: [["IdeaOpened", "y", 3]],
  },
  "timestamp-backwards": {
    before: [["IdeaOpened", "x", 5]],
    offending: ["IdeaUpdated", "x", 3],
    behind: [["IdeaUpdated", "x", 6]],
  },
};

describe("sequencer integrity halts (promise 6)", () => {
  const { ctx, start } = useSequencerServers(log);
  let seq: SequencerInstance;
  const notices: SequencedNotice = [];

  beforeAll(async () => {
    ctx.nc.subscribe(`${SEQUENCED_SUBJECT_PREFIX}.*`, {
      callback: (_err, msg) => {
        notices.push(...SequencedNotice.parse(msg.json()));
      },
    });
    await ctx.nc.flush();
    seq = await start("seq-halts");
  });

  const sidOf = (rule: string) => `ideas-${rule}`;
  const published = new Map<StreamId, string[]>();
  async function publish(sid: StreamId, [type, id, s]: Step, extra: Record<string, unknown> = {}, ingestId?: string) {
    const ids = published.get(sid) ?? [];
    const iid = ingestId ?? `${sid}-${ids.length}`;
    await publishIngest(ctx.js, ideaMessage(sid, iid, type, id, at(s), extra));
    ids.push(iid);
    published.set(sid, ids);
    return iid;
  }
  const resume = (sid: StreamId) =>
    ctx.nc.publish(RESUME_SUBJECT, JSON.stringify({ stream_id: sid } satisfies ResumeNotice));
  const metric = async (name: string) =>
    Number((await seq.metrics.getSingleMetricAsString(name)).match(/ (\d+)$/m)?.[1] ?? 0);
  const held = (sid: StreamId) => ctx.redis.llen(streamKeys(sid).held);

  /** Every publish numbered exactly once (log ingest ids) or parked; projections equal the fold; EVENTS equals the log. */
  async function expectAccounted(sid: StreamId) {
    const entries = await ctx.redis.xrange(streamKeys(sid).log, "-", "+");
    const numbered = entries.map(([, f]) => f[f.indexOf(LOG_INGEST_FIELD) + 1]);
    const parked = (await readParked(ctx.redis, sid)).map((p) => p.ingest_id);
    expect([...numbered, ...parked].sort()).toEqual([...(published.get(sid) ?? [])].sort());
    expect(new Set(numbered).size).toBe(numbered.length);
    const { texts, events } = await readNumbered(ctx.redis, ctx.js, sid);
    expect(events.map((e) => e.event_number)).toEqual([...events.keys()]);
    for (const [id, projection] of foldIdeas(events as IdeaEvent[]))
      expect(JSON.parse((await readIdeaProjection(ctx.redis, sid, id)) ?? "null")).toEqual(projection);
    // Redis is written before EVENTS and the notice, so those may trail by a moment.
    const announced = (ingestId: string, n: number) =>
      notices.some(([i, s, e]) => i === ingestId && s === sid && e === n);
    await waitFor(
      async () =>
        JSON.stringify((await readNumbered(ctx.redis, ctx.js, sid)).published) === JSON.stringify(texts) &&
        numbered.every((ingestId, n) => announced(ingestId!, n)),
      { what: `${sid}: EVENTS and notices match the log` },
    );
  }

  it("halts exactly the offending stream for each rule, keeps what follows, and lets others flow", async () => {
    const live = streamOnSamePartition("ideas-live", sidOf("second-open"));
    expect(partitionOf(live)).toBe(partitionOf(sidOf("second-open")));
    for (const [rule, { before, offending, behind }] of Object.entries(RULES)) {
      const sid = sidOf(rule);
      for (const step of before) await publish(sid, step);
      await publish(sid, offending);
      for (const step of behind) await publish(sid, step);
    }
    for (let k = 0; k < 10; k++) await publish(live, k === 0 ? ["IdeaOpened", "l", 0] : ["IdeaUpdated", "l", k]);

    await waitFor(async () => (await readHead(ctx.redis, live)) === 9, { what: "live stream numbered" });
    for (const [rule, { before, offending, behind }] of Object.entries(RULES)) {
      const sid = sidOf(rule);
      await waitFor(async () => (await held(sid)) === 1 + behind.length, { what: `${rule} held` });
      expect(await readHead(ctx.redis, sid)).toBe(before.length - 1);
      // The reason is the contracts rule's own words.
      const last = before.at(-1)!;
      const state = {
        state: last[0] === "IdeaClosed" ? ("closed" as const) : ("open" as const),
        timestamp: at(last[2]),
      };
      const current = offending[1] === "x" ? state : undefined;
      const reason = ideaTransitionViolation(current, offending[0], at(offending[2]));
      expect(reason).toBeDefined();
      const offendingId = published.get(sid)![before.length]!;
      expect(await readHalt(ctx.redis, sid)).toMatchObject({
        stream_id: sid,
        reason,
        ingest_id: offendingId,
        held: 1 + behind.length,
        event: { event_type: offending[0], data: { id: offending[1], timestamp: at(offending[2]) } },
      });
      expect(await readPublishStatus(ctx.redis, sid, offendingId)).toEqual({
        status: "held",
        ingest_id: offendingId,
        stream_id: sid,
        reason,
      });
      expect(await readPublishStatus(ctx.redis, sid, published.get(sid)![0]!)).toEqual({
        status: "sequenced",
        ingest_id: published.get(sid)![0],
        stream_id: sid,
        event_number: 0,
      });
    }
    expect((await listHaltedStreams(ctx.redis)).map((h) => h.stream_id)).toEqual(Object.keys(RULES).map(sidOf).sort());
    expect(await readHalt(ctx.redis, live)).toBeUndefined();
    expect(await readPublishStatus(ctx.redis, live, "never-published")).toBeUndefined();
    expect(await metric("heliograph_sequencer_halts_total")).toBe(Object.keys(RULES).length);
    // Held messages are durable in Redis, so INGEST acked them all.
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST acked",
    });
    await expectAccounted(live);

    // A redelivery of a held message (same ingest id, new JetStream message) is not held twice.
    const sid = sidOf("after-close");
    const heldId = published.get(sid)![2]!;
    await publishIngest(ctx.js, ideaMessage(sid, heldId, "IdeaUpdated", "x", at(2)), { msgID: `${heldId}-again` });
    await publish(sid, ["IdeaUpdated", "y", 4]);
    await waitFor(async () => (await held(sid)) === 3, { what: "new publish held" });
    expect(
      await ctx.redis.lrange(streamKeys(sid).held, 0, -1).then((l) => l.filter((e) => e.includes(heldId)).length),
    ).toBe(1);
  });

  it("skip parks the offending publish and numbers the held ones contiguously", async () => {
    const sid = sidOf("update-never-opened");
    const offendingId = published.get(sid)![1]!;
    await expect(resolveHalt(ctx.redis, sid, { action: "skip", ingest_id: "not-it" })).rejects.toMatchObject({
      code: "HALT_CHANGED",
    });
    expect(await resolveHalt(ctx.redis, sid, { action: "skip", ingest_id: offendingId })).toEqual({
      stream_id: sid,
      action: "skip",
      ingest_id: offendingId,
    });
    resume(sid);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 2 && (await held(sid)) === 0, { what: "resumed" });
    await expect(resolveHalt(ctx.redis, sid, { action: "skip" })).rejects.toMatchObject({ code: "STREAM_NOT_HALTED" });
    expect(await readParked(ctx.redis, sid)).toEqual([
      expect.objectContaining({
        ingest_id: offendingId,
        stream_id: sid,
        reason: "IdeaUpdated of an idea that was never opened",
        event: expect.objectContaining({ event_type: "IdeaUpdated" }),
      }),
    ]);
    expect(await readPublishStatus(ctx.redis, sid, offendingId)).toMatchObject({ status: "parked" });
    expect(await readHalt(ctx.redis, sid)).toBeUndefined();
    expect(await ctx.redis.sismember(haltedStreamsKey, sid)).toBe(0);
    await waitFor(async () => (await ctx.redis.sismember(resumableStreamsKey, sid)) === 0, { what: "not resumable" });
    // Live again: a new publish is numbered directly.
    await publish(sid, ["IdeaOpened", "z", 9]);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 3, { what: "numbered after resume" });
    await expectAccounted(sid);
    await publish(sid, ["IdeaUpdated", "x", 10]); // x is closed: halts again, one halt more
    await waitFor(async () => (await readHalt(ctx.redis, sid)) !== undefined, { what: "halted again" });
    await resolveHalt(ctx.redis, sid, { action: "skip" });
    await waitFor(async () => (await held(sid)) === 0 && (await readHalt(ctx.redis, sid)) === undefined, {
      what: "skipped again",
    });
    await expectAccounted(sid);
  });

  it("retry with fixed data numbers the fix; a retry without one halts again", async () => {
    const sid = sidOf("timestamp-backwards");
    const offendingId = published.get(sid)![1]!;
    const halts = await metric("heliograph_sequencer_halts_total");
    await resolveHalt(ctx.redis, sid, { action: "retry" });
    resume(sid);
    await waitFor(async () => (await readHalt(ctx.redis, sid)) !== undefined, { what: "halted again" });
    expect(await metric("heliograph_sequencer_halts_total")).toBe(halts + 1);
    expect(await held(sid)).toBe(2);

    const halt = (await readHalt(ctx.redis, sid))!;
    const fixed = { ...halt.event.data, timestamp: at(5), comment: "fixed" };
    await resolveHalt(ctx.redis, sid, { action: "retry", ingest_id: offendingId, data: fixed });
    resume(sid);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 2, { what: "fix numbered" });
    const events = (await readEventsAfter(ctx.redis, sid, -1, 10)).map((t) => JSON.parse(t) as IdeaEvent);
    expect(events[1]?.data).toMatchObject({ id: "x", timestamp: at(5), comment: "fixed" });
    expect(await readPublishStatus(ctx.redis, sid, offendingId)).toMatchObject({
      status: "sequenced",
      event_number: 1,
    });
    expect(await readParked(ctx.redis, sid)).toEqual([]);
    await expectAccounted(sid);

    // Retry of a second open with a new id: the fix opens a different idea.
    const second = sidOf("second-open");
    const data = (await readHalt(ctx.redis, second))!.event.data;
    await resolveHalt(ctx.redis, second, { action: "retry", data: { ...data, id: "x2" } });
    resume(second);
    await waitFor(async () => (await readHead(ctx.redis, second)) === 4, { what: "second-open resumed" });
    await expectAccounted(second);
  });

  it("resumes without a ResumeNotice (periodic scan), and every message is accounted for", async () => {
    for (const rule of ["close-never-opened", "after-close"]) {
      const sid = sidOf(rule);
      await resolveHalt(ctx.redis, sid, { action: "skip" });
      await waitFor(async () => (await held(sid)) === 0 && (await readHalt(ctx.redis, sid)) === undefined, {
        what: `${rule} drained`,
      });
    }
    for (const rule of Object.keys(RULES)) await expectAccounted(sidOf(rule));
    expect(await listHaltedStreams(ctx.redis)).toEqual([]);
  });

  it("drains held publishes of a live stream even when the resolution was never announced", async () => {
    // As after a crash of an operator's process between clearing the halt and marking the stream
    // resumable: live, publishes held, nothing to say so. The next publish finds them.
    const sid = "ideas-unannounced";
    await publish(sid, ["IdeaOpened", "x", 0]);
    await publish(sid, ["IdeaOpened", "x", 1]);
    await publish(sid, ["IdeaUpdated", "x", 2]);
    await waitFor(async () => (await held(sid)) === 2, { what: "halted" });
    const head = (await ctx.redis.lindex(streamKeys(sid).held, 0))!;
    await ctx.redis.multi().lpop(streamKeys(sid).held).del(streamKeys(sid).status).exec();
    await ctx.redis.rpush(streamKeys(sid).parked, JSON.stringify({ ingest_id: JSON.parse(head).ingest_id }));
    await ctx.redis.srem(resumableStreamsKey, sid);
    await publish(sid, ["IdeaUpdated", "x", 3]);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 2 && (await held(sid)) === 0, { what: "drained" });
    await expectAccounted(sid);
  });
});

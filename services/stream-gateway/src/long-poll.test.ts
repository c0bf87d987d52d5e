import { EventEmitter } from "node:events";
import { Counter, createLogger, Registry } from "@heliograph/platform";
import { LOG_EVENT_FIELD, LOG_INGEST_FIELD, logEntryId, streamKeys } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";
import type { Waiter } from "./hub.js";
import {
  ClientGone,
  type ClientSignal,
  coalescedStateReader,
  knownHeadCheck,
  type LongPollDeps,
  readOrWait,
} from "./long-poll.js";
import { StreamSource } from "./stream-source.js";

let fx: GatewayFixture;
let reads: Counter<"outcome">;
let source: StreamSource;

beforeAll(async () => {
  fx = await startGatewayFixture();
  reads = new Counter({
    name: "heliograph_test_reads_total",
    help: "t",
    labelNames: ["outcome"],
    registers: [new Registry()],
  });
  source = new StreamSource({
    redis: fx.redis,
    nc: fx.nc,
    log: createLogger({ name: "long-poll-test", level: "silent" }),
    metrics: new Registry(),
    partitions: 8,
    maxStreams: 1_000,
  });
});

afterAll(async () => {
  source?.stop();
  await fx?.close();
});

const stateReader = () => coalescedStateReader((streamId) => source.state(streamId));

const deps = (): LongPollDeps => ({
  source,
  hub: fx.app.hub,
  reads,
  readState: stateReader(),
});

/**
 * deps() whose reads are counted as they finish: a poll is held once its waiter is registered AND
 * its read is back (the waiter registers before the read), which the hub's waiter count alone
 * does not say.
 */
const countedReads = () => {
  let finished = 0;
  const read: LongPollDeps["source"]["read"] = async (...args) => {
    try {
      return await source.read(...args);
    } finally {
      finished++;
    }
  };
  return { deps: { ...deps(), source: { read } }, finished: () => finished };
};

const request = (
  streamId: string,
  after: number,
  longPollMs: number,
  signal: ClientSignal = new AbortController().signal,
) => ({
  streamId,
  after,
  batchSize: 10,
  longPollMs,
  signal,
});

describe("read-or-wait", () => {
  it("an event stored as the waiter registers is found by the read that follows, not at the bound", async () => {
    const sid = "race-window";
    await fx.sequencer.appendHistory(sid, 1);
    // The hub is real; the event lands in Redis (without a publish, so no wakeup can come) right as
    // the waiter registers: only the read after registering can see it.
    const keys = streamKeys(sid);
    const text = fx.sequencer.eventText(sid, 1);
    const hub: LongPollDeps["hub"] = {
      register: (waiter: Waiter) => {
        const result = fx.app.hub.register(waiter);
        // Issued before readOrWait's read, so Redis applies them first.
        void fx.redis.xadd(keys.log, logEntryId(1), LOG_EVENT_FIELD, text, LOG_INGEST_FIELD, "ing-race");
        void fx.redis.set(keys.head, "1");
        return result;
      },
      unregister: (waiter: Waiter) => fx.app.hub.unregister(waiter),
    };
    const t0 = performance.now();
    const answer = await readOrWait({ source, hub, reads, readState: stateReader() }, request(sid, 0, 10_000));
    // Found by the read, not at its 10 s bound.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(answer).toMatchObject({ kind: "events", head: 1, status: "live", outcome: "immediate" });
    if (answer.kind !== "events") throw new Error("unreachable");
    expect((JSON.parse(answer.body) as { event_number: number }[]).map((e) => e.event_number)).toEqual([1]);
    expect(fx.app.hub.stats().waiters).toBe(0);
  });

  it("an aborted read unregisters at once and answers nothing", async () => {
    const controller = new AbortController();
    const pending = readOrWait(deps(), request("abort-me", -1, 10_000, controller.signal));
    await waitFor(() => fx.app.hub.stats().waiters === 1);
    controller.abort();
    expect(fx.app.hub.stats().waiters).toBe(0);
    expect(await pending).toEqual({ kind: "aborted", outcome: "aborted" });
  });

  it("ends a held read when its response closes unfinished (ClientGone), and not when it finished", async () => {
    const response = Object.assign(new EventEmitter(), { writableFinished: false, destroyed: false });
    const gone = new ClientGone(response);
    const pending = readOrWait(deps(), request("client-gone", -1, 10_000, gone));
    await waitFor(() => fx.app.hub.stats().waiters === 1);
    response.emit("close");
    expect(fx.app.hub.stats().waiters).toBe(0);
    expect(await pending).toEqual({ kind: "aborted", outcome: "aborted" });

    const finished = Object.assign(new EventEmitter(), { writableFinished: true, destroyed: false });
    const answered = new ClientGone(finished);
    finished.emit("close");
    expect(answered.aborted).toBe(false);
    expect(
      new ClientGone(Object.assign(new EventEmitter(), { writableFinished: false, destroyed: true })).aborted,
    ).toBe(true);
  });

  it("a recheck with nothing new keeps waiting until the bound", async () => {
    const sid = "recheck-nothing";
    const t0 = performance.now();
    const pending = readOrWait(deps(), request(sid, -1, 600));
    await waitFor(() => fx.app.hub.stats().waiters === 1);
    fx.app.hub.recheckAll();
    await waitFor(() => fx.app.hub.stats().waiters === 1, { what: "re-registered after the recheck" });
    const answer = await pending;
    const elapsed = performance.now() - t0;
    expect(answer).toMatchObject({ kind: "events", body: "[]", head: -1, outcome: "empty" });
    expect(elapsed).toBeGreaterThanOrEqual(590);
    // At its bound, not absurdly late (a loaded machine may add seconds).
    expect(elapsed).toBeLessThan(600 + 4_000);
  });
});

/** deps() with the gateway's known-head check, whose reads are counted as they start. */
const knownHeadDeps = (hub: { upToDate: boolean } = fx.app.hub) => {
  let started = 0;
  const read: LongPollDeps["source"]["read"] = (...args) => {
    started++;
    return source.read(...args);
  };
  const withCheck: LongPollDeps = { ...deps(), source: { read }, atKnownHead: knownHeadCheck(hub, source) };
  return { deps: withCheck, started: () => started };
};

const numbers = (answer: Awaited<ReturnType<typeof readOrWait>>) =>
  answer.kind === "events" ? (JSON.parse(answer.body) as { event_number: number }[]).map((e) => e.event_number) : [];

describe("a follower's re-poll at the head the hub knows", () => {
  /** A stream with events 0 and 1 in Redis and EVENTS, read once here (so verified), the hub current. */
  async function followed(sid: string): Promise<void> {
    await fx.sequencer.appendRecorded(sid, 2);
    expect(numbers(await readOrWait(deps(), request(sid, -1, 1_000)))).toEqual([0, 1]);
    await waitFor(() => fx.app.hub.upToDate && source.atRecordedHead(sid, 1), {
      what: "the hub current and event 1 the last it knows of",
    });
  }

  it("waits without reading Redis, and the next event wakes it", async () => {
    const sid = "known-head";
    await followed(sid);
    const counted = knownHeadDeps();
    const spared = new Counter({ name: "heliograph_test_skipped_total", help: "t", registers: [new Registry()] });
    counted.deps.atKnownHead = knownHeadCheck(fx.app.hub, source, spared);
    const pending = readOrWait(counted.deps, request(sid, 1, 10_000));
    await waitFor(() => fx.app.hub.stats().waiters === 1, { what: "the re-poll held" });
    expect(counted.started()).toBe(0);
    await fx.sequencer.append(sid);
    const answer = await pending;
    expect(answer).toMatchObject({ kind: "events", head: 2, status: "live", outcome: "woken" });
    expect(numbers(answer)).toEqual([2]);
    expect(counted.started()).toBe(0);
    expect((await spared.get()).values[0]?.value).toBe(1);
  });

  it("reads as before when the hub is not current with EVENTS, or the client is behind the head", async () => {
    const sid = "known-head-lagging";
    await followed(sid);
    const lagging = knownHeadDeps({ upToDate: false });
    expect(await readOrWait(lagging.deps, request(sid, 1, 300))).toMatchObject({ body: "[]", outcome: "empty" });
    expect(lagging.started()).toBe(1);
    const behind = knownHeadDeps();
    expect(numbers(await readOrWait(behind.deps, request(sid, 0, 10_000)))).toEqual([1]);
    expect(behind.started()).toBe(1);
  });

  it("an event Redis holds and EVENTS never gets is still served, at the bound", async () => {
    const sid = "known-head-redis-only";
    await followed(sid);
    await fx.sequencer.appendHistory(sid, 1);
    const counted = knownHeadDeps();
    const t0 = performance.now();
    const answer = await readOrWait(counted.deps, request(sid, 1, 300));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(answer).toMatchObject({ kind: "events", head: 2, outcome: "rechecked" });
    expect(numbers(answer)).toEqual([2]);
  });

  it("a release (shutdown) of a poll that skipped its read answers the status read from Redis", async () => {
    const sid = "known-head-halted";
    await followed(sid);
    await fx.sequencer.halt(sid);
    let held: Waiter | undefined;
    const hub: LongPollDeps["hub"] = {
      register: (waiter) => {
        held = waiter;
        return "registered";
      },
      unregister: () => undefined,
    };
    const counted = knownHeadDeps();
    const pending = readOrWait({ ...counted.deps, hub }, request(sid, 1, 10_000));
    await waitFor(() => held !== undefined, { what: "the re-poll held" });
    held?.wake({ kind: "release" });
    expect(await pending).toMatchObject({ body: "[]", head: 1, status: "halted", outcome: "released" });
    expect(counted.started()).toBe(0);
  });
});

describe("the status of a held poll's answer is read when the wait ends", () => {
  it("a halt during the wait shows in the [] answered at the bound", async () => {
    const sid = "halt-while-held";
    await fx.sequencer.appendHistory(sid, 2);
    const t0 = performance.now();
    const pending = readOrWait(deps(), request(sid, 1, 600));
    await waitFor(() => fx.app.hub.stats().waiters === 1, { what: "a held poll" });
    await fx.sequencer.halt(sid);
    const answer = await pending;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(590);
    expect(answer).toMatchObject({ kind: "events", body: "[]", head: 1, status: "halted", outcome: "empty" });
  });

  it("an event that wakes a poll after which the stream halted is answered with status halted", async () => {
    const sid = "halt-after-event";
    await fx.sequencer.appendHistory(sid, 1);
    const counted = countedReads();
    const pending = readOrWait(counted.deps, request(sid, 0, 10_000));
    await waitFor(() => fx.app.hub.stats().waiters === 1 && counted.finished() === 1, { what: "a held poll" });
    // What the sequencer does when event 1 is numbered and the next publish breaks the rules:
    // the halt is written before event 1 reaches EVENTS here, so the woken poll must see it.
    const [eventOne] = await fx.sequencer.appendHistory(sid, 1);
    await fx.sequencer.halt(sid);
    await fx.sequencer.publish(sid, 1, eventOne as string);
    const answer = await pending;
    expect(answer).toMatchObject({ kind: "events", head: 1, status: "halted", outcome: "woken" });
    if (answer.kind !== "events") throw new Error("unreachable");
    expect((JSON.parse(answer.body) as { event_number: number }[]).map((e) => e.event_number)).toEqual([1]);
  });

  it("an event that lands as the bound passes is served rather than []", async () => {
    const sid = "lands-at-bound";
    await fx.sequencer.appendHistory(sid, 1);
    // A hub that never wakes anyone: only the read at the bound can find the event.
    let registered = false;
    const hub: LongPollDeps["hub"] = {
      register: () => {
        registered = true;
        return "registered";
      },
      unregister: () => undefined,
    };
    const t0 = performance.now();
    const counted = countedReads();
    const pending = readOrWait({ ...counted.deps, hub }, request(sid, 0, 300));
    await waitFor(() => registered && counted.finished() === 1, { what: "the waiter registered and its read back" });
    await fx.sequencer.appendHistory(sid, 1);
    const answer = await pending;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(answer).toMatchObject({ kind: "events", head: 1, status: "live" });
    if (answer.kind !== "events") throw new Error("unreachable");
    expect((JSON.parse(answer.body) as { event_number: number }[]).map((e) => e.event_number)).toEqual([1]);
  });

  it("overlapping state reads of one stream share one Redis read; later ones read again", async () => {
    const read = stateReader();
    const first = read("shared-read");
    expect(read("shared-read")).toBe(first);
    expect(read("another-stream")).not.toBe(first);
    await first;
    expect(read("shared-read")).not.toBe(first);
  });
});

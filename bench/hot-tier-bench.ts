/**
 * The bounded hot tier (docs/architecture.md, "The hot window"): B6, Redis memory while windows
 * fill and then stay full; B8, catching up from EVENTS over HTTP against a raw ordered consumer.
 * Their streams are of the kind whose window is HOT_WINDOW_EVENTS (1,000 in bench/stack.ts).
 */
import { streamKeys } from "@heliograph/store";
import type { CatchUpInput, CatchUpResult } from "./catch-up-reader.js";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import type { EventsReaderInput, EventsReaderResult } from "./events-reader.js";
import type { PublisherInput, PublisherResult } from "./jetstream-publisher.js";
import type { Sizes } from "./options.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";

/** bench/stack.ts's HOT_WINDOW_EVENTS. */
export const BENCH_HOT_WINDOW = 1_000;
/** B6 samples memory this many times over its events. */
const B6_SAMPLES = 10;

async function publishToIngest(h: Heliograph, streamIds: string[], count: number, idPrefix: string): Promise<number> {
  const publisher = new Child<PublisherInput, PublisherResult>("jetstream-publisher.ts", {
    nats: h.servers.nats.connectOptions(),
    count,
    inFlight: 256,
    mode: "ingest",
    streamIds,
    publisherId: h.publisher.id,
    idPrefix,
    timeLimitMs: 300_000,
  });
  const result = await publisher.result(360_000);
  if (result.failed > 0) throw new Error(`${result.failed} INGEST publishes failed`);
  return result.published;
}

async function waitForHeads(h: Heliograph, heads: Map<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pipeline = h.servers.client.pipeline();
    for (const sid of heads.keys()) pipeline.get(streamKeys(sid).head);
    const replies = (await pipeline.exec()) ?? [];
    const sids = [...heads.keys()];
    if (replies.every(([, value], i) => Number(value ?? -1) >= heads.get(sids[i]!)!)) return;
    if (Date.now() > deadline) throw new Error("timed out waiting for the sequencer to number every event");
    await sleep(50);
  }
}

export const usedMemory = async (h: Heliograph): Promise<number> =>
  Number(/used_memory:(\d+)/.exec(await h.servers.client.info("memory"))?.[1] ?? Number.NaN);

/**
 * B6: events published to INGEST round-robin over many streams in steps; after each step, once the
 * sequencer has numbered it, Redis's used_memory, the logs' own memory (MEMORY USAGE) and lengths.
 * Figures: the spread of the logs' memory and of used_memory over the samples taken once every
 * window is full (flat = within ±10%), the log's bytes per retained event against the event text,
 * and what each event adds outside the log (its `applied:` record, kept APPLIED_TTL_SECONDS).
 */
export async function b6(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const streamIds = Array.from({ length: sizes.b6Streams }, (_, i) => `b6-${rep}-${i}`);
  const perStep = Math.ceil(sizes.b6Events / B6_SAMPLES);
  const fullAt = sizes.b6Streams * BENCH_HOT_WINDOW;
  const samples: Array<{ events: number; used: number; logBytes: number; logEntries: number }> = [];
  const client = h.servers.client;
  let published = 0;
  for (let step = 0; step < B6_SAMPLES; step++) {
    const count = Math.min(perStep, sizes.b6Events - published);
    // Round-robin from `published`, so every stream gets the same share of every step.
    await publishToIngest(h, streamIds, count, `ing_b6_${rep}_${step}_`);
    published += count;
    const perStream = Math.floor(published / streamIds.length);
    await waitForHeads(h, new Map(streamIds.map((sid) => [sid, perStream - 1])), 300_000);
    const pipeline = client.pipeline();
    for (const sid of streamIds) pipeline.call("MEMORY", "USAGE", streamKeys(sid).log, "SAMPLES", "0");
    for (const sid of streamIds) pipeline.xlen(streamKeys(sid).log);
    const replies = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v ?? 0));
    const logBytes = replies.slice(0, streamIds.length).reduce((a, b) => a + b, 0);
    const logEntries = replies.slice(streamIds.length).reduce((a, b) => a + b, 0);
    samples.push({ events: published, used: await usedMemory(h), logBytes, logEntries });
  }
  const full = samples.filter((s) => s.events >= fullAt + sizes.b6Streams * 100);
  const spread = (values: number[]) => (Math.max(...values) - Math.min(...values)) / Math.min(...values);
  const last = samples.at(-1)!;
  const first = full[0] ?? last;
  const [[, sampleText]] = (await client.xrange(streamKeys(streamIds[0]!).log, "-", "+", "COUNT", 1)) as [
    [string, string[]],
  ];
  const eventBytes = Buffer.byteLength(sampleText[1] ?? "");
  const notes = [
    `B6 rep ${rep}: used_memory ${samples.map((s) => `${s.events}:${(s.used / 2 ** 20).toFixed(1)}MiB`).join(" ")}; logs ${samples.map((s) => `${(s.logBytes / 2 ** 20).toFixed(1)}MiB/${s.logEntries}`).join(" ")} (event text ${eventBytes} B)`,
  ];
  if (full.length < 2) notes.push(`B6 rep ${rep}: fewer than two samples with full windows; raise b6Events`);
  return {
    figures: {
      "B6.logSpread": full.length >= 2 ? spread(full.map((s) => s.logBytes)) * 100 : Number.NaN,
      "B6.usedSpread": full.length >= 2 ? spread(full.map((s) => s.used)) * 100 : Number.NaN,
      "B6.logBytesPerEvent": last.logBytes / last.logEntries,
      "B6.eventBytes": eventBytes,
      "B6.recordBytesPerEvent": full.length >= 2 ? (last.used - first.used) / (last.events - first.events) : Number.NaN,
    },
    notes,
  };
}

/**
 * B8: a stream of `b8Events` numbered with a 1,000-event window, then read from -1 over HTTP, 1,000
 * per request (all but the window from EVENTS), against a raw JetStream ordered consumer reading
 * the same events from EVENTS in the same run.
 */
export async function b8(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const streamId = `b8-${rep}`;
  await h.entitle([streamId]);
  const count = await publishToIngest(h, [streamId], sizes.b8Events, `ing_b8_${rep}_`);
  await waitForHeads(h, new Map([[streamId, count - 1]]), 300_000);
  const t0 = nowMs();
  const raw = await new Child<EventsReaderInput, EventsReaderResult>("events-reader.ts", {
    nats: h.servers.nats.connectOptions(),
    streamId,
    count,
    timeLimitMs: 300_000,
  }).result(360_000);
  const reader = await new Child<CatchUpInput, CatchUpResult>("catch-up-reader.ts", {
    url: h.stream.url,
    token: h.subscriber.token,
    streamId,
    until: count - 1,
    batchSize: 1000,
    timeLimitMs: 300_000,
  }).result(360_000);
  const notes: string[] = [];
  if (reader.gaps > 0 || reader.events !== count)
    notes.push(`FAILED CHECK B8 rep ${rep}: read ${reader.events} of ${count} events, ${reader.gaps} gaps`);
  if (raw.events !== count) notes.push(`B8 rep ${rep}: the raw reader got ${raw.events} of ${count}`);
  const inRedis = await h.servers.client.xlen(streamKeys(streamId).log);
  notes.push(
    `B8 rep ${rep}: ${count - inRedis} of ${count} events read from EVENTS (${((nowMs() - t0) / 1000).toFixed(1)} s)`,
  );
  return { figures: { "B8.rate": reader.perSecond, "B8raw.rate": raw.perSecond }, notes };
}

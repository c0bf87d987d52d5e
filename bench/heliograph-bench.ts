/**
 * Heliograph's own figures (B1–B5), each against the running services over their public HTTP APIs
 * or, for B5's backlog, straight to JetStream as the ingest gateway would have published it.
 */
import { writeFileSync } from "node:fs";
import { LOG_INGEST_FIELD, streamKeys } from "@heliograph/store";
import type { CatchUpInput, CatchUpResult } from "./catch-up-reader.js";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import type { FollowersInput, FollowersResult, Received } from "./followers.js";
import { usedMemory } from "./hot-tier-bench.js";
import type { HttpLoadInput, HttpLoadResult } from "./http-load.js";
import type { PublisherInput, PublisherResult } from "./jetstream-publisher.js";
import type { LongPollInput, LongPollResult } from "./long-poll-clients.js";
import { RSS_METRIC, SSE_CONNECTIONS_METRIC, scrapeMetrics, WAITERS_METRIC } from "./metrics-scrape.js";
import type { Sizes } from "./options.js";
import type { Accepted, PacedInput, PacedResult } from "./paced-publisher.js";
import { type Components, processUse, residentBytes, startCostMeter } from "./process-cost.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";
import { percentile } from "./stats.js";

async function metric(url: string, name: string): Promise<number> {
  return (await scrapeMetrics(url)).get(name) ?? Number.NaN;
}

async function waitUntil(what: string, timeoutMs: number, condition: () => Promise<boolean>, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A stream numbered by B5 (or built the same way), for B4 to read. */
export interface Backlog {
  streamId: string;
  head: number;
}

/**
 * B5: a backlog of INGEST messages published with the sequencer stopped, then the sequencer
 * started: events numbered per second from the first numbered event to the last (the process's
 * start-up and lease acquisition are reported apart).
 */
export async function b5(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult & { backlog: Backlog }> {
  const { streamId } = await h.newAlgorithmStream();
  await h.sequencer.stop();
  const publisher = new Child<PublisherInput, PublisherResult>("jetstream-publisher.ts", {
    nats: h.servers.nats.connectOptions(),
    count: sizes.backlog,
    inFlight: 256,
    mode: "ingest",
    streamId,
    publisherId: h.publisher.id,
    idPrefix: `ing_b5_${rep}_`,
    timeLimitMs: 300_000,
  });
  const published = await publisher.result(360_000);
  const last = published.published - 1;
  let firstAt = Number.NaN;
  let lastAt = Number.NaN;
  let polling = true;
  const poller = (async () => {
    const deadline = Date.now() + 600_000;
    while (polling && Date.now() < deadline) {
      const head = await h.head(streamId);
      const at = nowMs();
      if (head >= 0 && Number.isNaN(firstAt)) firstAt = at;
      if (head >= last) {
        lastAt = at;
        return;
      }
      await sleep(5);
    }
  })();
  const startedAt = nowMs();
  let cost: Record<string, number> = {};
  try {
    h.sequencer = await h.sequencer.restart();
    // Charged from the moment the new sequencer is ready (its start-up is not a cost per event).
    const meter = startCostMeter("B5", h.components());
    const headAtReady = await h.head(streamId);
    await poller;
    cost = meter.finish(last - headAtReady);
  } finally {
    polling = false;
  }
  const notes: string[] = [];
  if (published.failed > 0) notes.push(`B5 rep ${rep}: ${published.failed} backlog publishes failed`);
  if (Number.isNaN(lastAt)) throw new Error(`B5: the head of ${streamId} never reached ${last}`);
  return {
    figures: {
      "B5.rate": (last / (lastAt - firstAt)) * 1000,
      "B5.rateFromStart": (published.published / (lastAt - startedAt)) * 1000,
      "B5.startupMs": firstAt - startedAt,
      "B5.backlogPublishRate": published.perSecond,
      ...cost,
    },
    notes,
    backlog: { streamId, head: last },
  };
}

/** B4: reading a whole stream over HTTP, 1,000 events per request. */
export async function b4(h: Heliograph, backlog: Backlog, rep: number): Promise<RepResult> {
  const reader = new Child<CatchUpInput, CatchUpResult>("catch-up-reader.ts", {
    url: h.stream.url,
    token: h.subscriber.token,
    streamId: backlog.streamId,
    until: backlog.head,
    batchSize: 1000,
    timeLimitMs: 300_000,
  });
  const result = await reader.result(360_000);
  const notes: string[] = [];
  if (result.gaps > 0 || result.events !== backlog.head + 1)
    notes.push(`B4 rep ${rep}: read ${result.events} of ${backlog.head + 1} events, ${result.gaps} gaps`);
  return { figures: { "B4.rate": result.perSecond, "B4.bytesPerEvent": result.bytes / result.events }, notes };
}

/**
 * B1: signals per second answered 202 by the ingest gateway and numbered, under autocannon for a
 * fixed time; afterwards every 202's ingest id is looked for in the logs: each must be there once.
 */
export async function b1(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const streams = await h.newAlgorithmStreams(sizes.ingestStreams);
  const timeline: Array<[number, number]> = [];
  let polling = true;
  const sumHeads = async () => {
    const pipeline = h.servers.client.pipeline();
    for (const s of streams) pipeline.get(streamKeys(s.streamId).head);
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((sum, [, value]) => sum + (value === null ? 0 : Number(value) + 1), 0);
  };
  const poller = (async () => {
    while (polling) {
      const numbered = await sumHeads();
      timeline.push([nowMs(), numbered]);
      await sleep(10);
    }
  })();
  let load: HttpLoadResult;
  const usedBefore = await usedMemory(h);
  const meter = startCostMeter("B1", h.components());
  let cost: Record<string, number> = {};
  try {
    const child = new Child<HttpLoadInput, HttpLoadResult>("http-load.ts", {
      url: h.ingest.url,
      path: "/api/v1/create_trading_signal",
      headers: h.publisherHeaders,
      bodies: streams.map((s) => s.body),
      connections: sizes.ingestConnections,
      durationSeconds: sizes.httpSeconds,
      collectIds: true,
    });
    load = await child.result(sizes.httpSeconds * 1000 + 120_000);
    await waitUntil(
      "every accepted signal numbered",
      120_000,
      async () => (timeline.at(-1)?.[1] ?? 0) >= load.accepted,
    );
    // Publishes still in flight when the load stopped are numbered too (they reached JetStream, but
    // autocannon never read their 202): wait until the heads stop moving, bounded.
    const settleDeadline = nowMs() + 60_000;
    let last = timeline.at(-1)![1];
    let stableSince = nowMs();
    while (nowMs() - stableSince < 1_000 && nowMs() < settleDeadline) {
      await sleep(50);
      const current = timeline.at(-1)![1];
      if (current !== last) {
        last = current;
        stableSince = nowMs();
      }
    }
    cost = meter.finish(last);
  } finally {
    polling = false;
    await poller;
  }
  const finalNumbered = timeline.at(-1)![1];
  const numberedAt = timeline.find(([, n]) => n >= finalNumbered)![0];
  const notes: string[] = [];
  // Every accepted publish present, once.
  const readLogs = async () => {
    const seen = new Map<string, number>();
    for (const s of streams) {
      const key = streamKeys(s.streamId).log;
      let from = "-";
      for (;;) {
        const entries = await h.servers.client.xrange(key, from, "+", "COUNT", 5000);
        for (const [, fields] of entries) {
          const i = fields.indexOf(LOG_INGEST_FIELD);
          const id = fields[i + 1]!;
          seen.set(id, (seen.get(id) ?? 0) + 1);
        }
        if (entries.length < 5000) break;
        from = `(${entries.at(-1)![0]}`;
      }
    }
    return seen;
  };
  const usedAfter = await usedMemory(h);
  let seen = await readLogs();
  // A missing id is looked for again for a few seconds before it counts as lost.
  for (let attempt = 0; attempt < 10 && load.ingestIds.some((id) => !seen.has(id)); attempt++) {
    await sleep(500);
    seen = await readLogs();
  }
  let missing = 0;
  let duplicated = 0;
  for (const id of load.ingestIds) {
    const n = seen.get(id) ?? 0;
    if (n === 0) missing++;
    else if (n > 1) duplicated++;
  }
  const extra = seen.size - new Set(load.ingestIds).size;
  const check = `B1 rep ${rep}: ${load.accepted} accepted, ${seen.size} numbered; missing ${missing}, duplicated ${duplicated}, numbered without a 202 seen by the load generator ${Math.max(0, extra)} (publishes in flight when it stopped)`;
  notes.push(missing || duplicated ? `FAILED CHECK ${check}` : check);
  const others = Object.entries(load.other);
  if (others.length || load.errors || load.timeouts)
    notes.push(
      `B1 rep ${rep}: non-202 answers ${JSON.stringify(load.other)}, ${load.errors} errors, ${load.timeouts} timeouts`,
    );
  return {
    figures: {
      "B1.rate": (load.accepted / (Math.max(numberedAt, load.endedAt) - load.startedAt)) * 1000,
      "B1.acceptRate": load.acceptedPerSecond,
      "B1.p99": load.latencyP99Ms,
      "B1.missing": missing + duplicated,
      // Redis memory per signal published through the gateway: its log entry, the numbering's
      // `applied:` record and the gateway's ingest record (the records stay APPLIED_TTL_SECONDS).
      "B1.redisBytesPerEvent": (usedAfter - usedBefore) / seen.size,
      ...cost,
    },
    notes,
  };
}

/**
 * Publish → subscriber latency pairs: each 202's time (or with `from` "sent", the time the publish
 * was sent) against the time a follower had the event.
 */
export function latencies(
  accepted: Accepted[],
  received: ReadonlyArray<readonly [id: string, at: number, ...rest: unknown[]]>,
  from: "answer" | "sent" = "answer",
): { values: number[]; early: number; lost: number } {
  const at = new Map<string, number>();
  for (const [id, t] of received) if (!at.has(id)) at.set(id, t);
  const values: number[] = [];
  let early = 0;
  let lost = 0;
  for (const [id, answeredAt, , sentAt] of accepted) {
    const since = from === "sent" ? sentAt! : answeredAt;
    const t = at.get(id);
    if (t === undefined) {
      lost++;
      continue;
    }
    // The event can reach a waiting subscriber before the publisher has read its 202.
    if (t < since) early++;
    values.push(Math.max(0, t - since));
  }
  values.sort((a, b) => a - b);
  return { values, early, lost };
}

/**
 * A latency measure's figures, B2's and N2's alike: from the publisher's answer (p50, p99, p99.9,
 * max) and from the publish sent (`sent…`), the one measure that also fits Nchan, which answers
 * its publisher only after it has written the message to the waiting subscribers. Both ascending.
 */
export const latencyFigures = (id: string, fromAnswer: number[], fromSent: number[]): Record<string, number> => ({
  [`${id}.p50`]: percentile(fromAnswer, 0.5),
  [`${id}.p99`]: percentile(fromAnswer, 0.99),
  [`${id}.p999`]: percentile(fromAnswer, 0.999),
  [`${id}.max`]: fromAnswer.at(-1) ?? Number.NaN,
  [`${id}.sentP50`]: percentile(fromSent, 0.5),
  [`${id}.sentP99`]: percentile(fromSent, 0.99),
  [`${id}.sentP999`]: percentile(fromSent, 0.999),
});

/** B2's publisher load, which N2 (Nchan) repeats exactly: one place, so the two stay alike. */
export const latencyLoad = (sizes: Sizes) => ({
  ratePerSecond: sizes.latencyRate,
  durationMs: sizes.latencySeconds * 1000,
  connections: 16,
  maxOutstanding: 1000,
  reportEveryMs: 0,
});

/** B2: from a publish's 202 to a subscriber's waiting long poll having the event, at a steady rate. */
export async function b2(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const stream = await h.newAlgorithmStream();
  const received: Received[] = [];
  const followers = new Child<FollowersInput, FollowersResult>("followers.ts", {
    url: h.stream.url,
    protocol: { kind: "heliograph", token: h.subscriber.token, after: [-1], longPollSeconds: 5, batchSize: 1000 },
    streams: [stream.streamId],
    followersPerStream: 1,
    timeLimitMs: sizes.latencySeconds * 1000 + 120_000,
    reportEveryMs: 200,
  });
  await waitUntil(
    "the subscriber's long poll held",
    10_000,
    async () => (await metric(h.stream.url, WAITERS_METRIC)) >= 1,
    50,
  );
  const meter = startCostMeter("B2", h.components());
  const publisher = new Child<PacedInput, PacedResult>("paced-publisher.ts", {
    url: h.ingest.url,
    headers: h.publisherHeaders,
    bodies: [stream.body],
    ...latencyLoad(sizes),
  });
  const published = await publisher.result(sizes.latencySeconds * 1000 + 60_000);
  await waitUntil(
    "every accepted signal numbered",
    60_000,
    async () => (await h.head(stream.streamId)) >= published.accepted.length - 1,
  );
  const cost = meter.finish(published.accepted.length);
  // Followers report every 200 ms; give them time to report the last events.
  await sleep(1_000);
  followers.send("stop");
  await followers.result(30_000);
  for (const batch of followers.progressOf<{ received?: Received[] }>())
    if (batch.received) received.push(...batch.received);
  const { values, early, lost } = latencies(published.accepted, received);
  // The second half of each latency: numbered by the sequencer → in the follower's hands.
  const sinceNumbered = received.map(([, , ms]) => ms).sort((a, b) => a - b);
  // Every pair of the repetition, for finding what sets the tail (bench/README.md, "B2's tail").
  if (process.env.HG_BENCH_B2_DUMP)
    writeFileSync(
      `${process.env.HG_BENCH_B2_DUMP}-${rep}.json`,
      JSON.stringify({ accepted: published.accepted, received }),
    );
  const fromSent = latencies(published.accepted, received, "sent").values;
  const notes: string[] = [];
  notes.push(
    `B2 rep ${rep}: ${published.accepted.length} accepted at ${sizes.latencyRate}/s target (${published.skipped} skipped, failures ${JSON.stringify(published.failed)}); ${values.length} delivered, ${lost} not seen by the subscriber, ${early} seen before the publisher read its 202 (counted as 0 ms)`,
  );
  return {
    figures: {
      ...latencyFigures("B2", values, fromSent),
      "B2.numberedToFollower.p50": percentile(sinceNumbered, 0.5),
      "B2.numberedToFollower.p99": percentile(sinceNumbered, 0.99),
      "B2.rate": (published.accepted.length / published.elapsedMs) * 1000,
      ...cost,
    },
    notes,
  };
}

/** B3's clients: long polls on a new stream from its start, held up to 60 s. */
export const LONG_POLLS = {
  held: "long polls held",
  path: (streamId: string) => `/api/v1/stream/${streamId}/-1/1000`,
  headers: { "x-long-poll": "60" },
  gauge: WAITERS_METRIC,
};

/** B3: N long polls held on one stream in one stream-gateway process, then one publish. */
export async function b3(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  await freshStreamGateway(h);
  return fanOut(h, sizes, rep, { id: "B3", ...LONG_POLLS });
}

/**
 * B3 and B9 measure RSS per held client on a stream gateway restarted for the repetition: one that
 * held 10,000 clients before reuses the memory they freed (the second repetition read ~1 KB).
 */
async function freshStreamGateway(h: Heliograph): Promise<void> {
  await h.stream.restart();
}

/**
 * B9: SSE fan-out, B3's measure for Server-Sent Events: N event streams open on one new stream
 * (from its start), then one publish; until the last stream received it, and RSS per open stream.
 */
export async function b9(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  await freshStreamGateway(h);
  return fanOut(h, sizes, rep, {
    id: "B9",
    held: "event streams open",
    path: (streamId) => `/api/v1/stream/${streamId}/events?after=-1`,
    headers: { accept: "text/event-stream" },
    gauge: SSE_CONNECTIONS_METRIC,
    stream: true,
  });
}

export interface FanOut {
  /** Prefix of the figures (`<id>.time`, `<id>.rss`, `<id>.cpu.<component>` …). */
  id: string;
  held: string;
  path: (streamId: string) => string;
  headers: Record<string, string>;
  /** The gateways' gauge of held clients. */
  gauge: string;
  stream?: boolean;
  /** Clients held (default `heldPolls`). */
  count?: number;
  /** The stream they wait on (default: a new one, made now). */
  on?: { streamId: string; body: string };
  /**
   * The stream gateways holding the clients, by component name (default the stack's one,
   * `stream`): each one's gauge and RSS are read, and with more than one each gets figures of
   * its own (`<id>.rss.<name>`, `<id>.own.<name>`).
   */
  gateways?: Array<{ name: string; url: string }>;
  /** Where the clients connect, in turn (default the first gateway). */
  clientUrls?: string[];
  /** The processes charged per answer (default `h.components()`). */
  components?: Components;
  /**
   * A process in the path that exports no metrics (B3x2's front): its RSS growth and CPU time
   * while the clients connect and are held, per client (`<id>.frontRss`, `<id>.frontHoldCpu`).
   */
  front?: { pid: number };
}

/**
 * `count` clients waiting on one new stream (the gateways' `gauge` counts them), then one publish:
 * the time until the last got event 0, and the stream gateways' RSS per waiting client.
 */
export async function fanOut(h: Heliograph, sizes: Sizes, rep: number, how: FanOut): Promise<RepResult> {
  const count = how.count ?? sizes.heldPolls;
  const gateways = how.gateways ?? [{ name: "stream", url: h.stream.url }];
  const clientUrls = how.clientUrls ?? [gateways[0]!.url];
  const stream = how.on ?? (await h.newAlgorithmStream());
  const readAll = (name: string) => Promise.all(gateways.map(async (g) => (await metric(g.url, name)) || 0));
  const before = await readAll(RSS_METRIC);
  const gaugeBefore = await readAll(how.gauge);
  const frontBefore = how.front && { rss: residentBytes(how.front.pid), use: processUse(how.front.pid) };
  const clients = new Child<LongPollInput, LongPollResult>("long-poll-clients.ts", {
    url: `${clientUrls[0]}${how.path(stream.streamId)}`,
    urls: clientUrls.map((url) => `${url}${how.path(stream.streamId)}`),
    headers: { authorization: `Bearer ${h.subscriber.token}`, ...how.headers },
    count,
    wave: 500,
    expect: '"event_number":0',
    timeLimitMs: 120_000,
    ...(how.stream ? { stream: true } : {}),
  });
  await clients.next((m) => (m as { sent?: number }).sent !== undefined, 60_000);
  let heldBy: number[] = [];
  await waitUntil(
    `${count} ${how.held}`,
    30_000,
    async () => {
      heldBy = (await readAll(how.gauge)).map((n, i) => n - gaugeBefore[i]!);
      return heldBy.reduce((a, b) => a + b, 0) >= count;
    },
    50,
  );
  await sleep(500);
  const held = await readAll(RSS_METRIC);
  const frontFigures: Record<string, number> = {};
  if (how.front && frontBefore) {
    const rss = residentBytes(how.front.pid);
    const use = processUse(how.front.pid);
    if (rss !== undefined && frontBefore.rss !== undefined)
      frontFigures[`${how.id}.frontRss`] = (rss - frontBefore.rss) / count / 1024;
    if (use && frontBefore.use)
      frontFigures[`${how.id}.frontHoldCpu`] = ((use.cpuMs - frontBefore.use.cpuMs) * 1000) / count;
  }
  // Per answer: one event's cost through the pipeline, spread over the held clients it wakes.
  const meter = startCostMeter(how.id, how.components ?? h.components());
  const publishedAt = nowMs();
  const res = await fetch(`${h.ingest.url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { ...h.publisherHeaders, "content-type": "application/json" },
    body: stream.body,
  });
  const acceptedAt = nowMs();
  if (res.status !== 202) throw new Error(`${how.id}: the release publish answered ${res.status}: ${await res.text()}`);
  const result = await clients.result(120_000);
  const cost = meter.finish(result.expected);
  const notes: string[] = [];
  if (result.expected !== count)
    notes.push(
      `${how.id} rep ${rep}: ${result.expected} of ${count} ${how.held} got the event (${JSON.stringify(result.otherStatus)}, ${result.errors} errors)`,
    );
  const grown = held.map((rss, i) => rss - before[i]!);
  const perGateway: Record<string, number> = {};
  if (gateways.length > 1) {
    notes.push(`${how.id} rep ${rep}: held ${gateways.map((g, i) => `${heldBy[i]} by ${g.name}`).join(", ")}`);
    for (const [i, g] of gateways.entries()) {
      perGateway[`${how.id}.rss.${g.name}`] = grown[i]! / heldBy[i]! / 1024;
      // The meter divides by every answer; the capacity model wants a gateway's CPU per answer it gave.
      const cpu = cost[`${how.id}.cpu.${g.name}`];
      if (cpu !== undefined) perGateway[`${how.id}.own.${g.name}`] = (cpu * result.expected) / heldBy[i]!;
    }
  }
  return {
    figures: {
      [`${how.id}.time`]: result.lastAnswerAt - publishedAt,
      [`${how.id}.first`]: result.firstAnswerAt - publishedAt,
      [`${how.id}.publish202`]: acceptedAt - publishedAt,
      [`${how.id}.rss`]: grown.reduce((a, b) => a + b, 0) / count / 1024,
      ...perGateway,
      ...frontFigures,
      ...cost,
    },
    notes,
  };
}

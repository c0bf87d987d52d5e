/**
 * B10: webhook delivery. A webhook dispatcher of its own (started for the measure, stopped after
 * it), `webhookEndpoints` endpoints each following its own algorithm stream, as ten customers of a
 * desk would each follow a different algorithm, and one receiver child with a path per endpoint.
 *
 * Steady: 1,000 signals/s in total through the ingest gateway, round-robin over the streams; the
 * latency of an event is the receiver's arrival time minus the publisher's 202 time (both on
 * CLOCK_MONOTONIC, in two child processes). Burst: a backlog of `webhookBurst` signals posted as
 * fast as the gateway takes them (autocannon), timed from the first request to the moment the
 * receivers have every one. Both check that each endpoint got each event of its stream once, in
 * number order, signed with its secret; a miss is a FAILED CHECK, which fails the run.
 */
import { waitFor } from "@heliograph/testkit";
import { Child } from "./child.js";
import { latencies } from "./heliograph-bench.js";
import type { HttpLoadInput, HttpLoadResult } from "./http-load.js";
import { scrapeMetrics, WEBHOOK_HELD_METRIC } from "./metrics-scrape.js";
import type { Sizes } from "./options.js";
import type { Accepted, PacedInput, PacedResult } from "./paced-publisher.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";
import { percentile } from "./stats.js";
import type { Delivery, ReceiverCommand, ReceiverInput, ReceiverResult } from "./webhook-receiver.js";

/** Samples needed before a p99.9 is reported: at least ten beyond it. */
const P999_MIN_SAMPLES = 10_000;

/** Ten streams, their endpoints and the receiver child behind them. */
interface Rig {
  streams: Array<{ streamId: string; body: string }>;
  endpointIds: string[];
  receiver: Child<ReceiverInput, ReceiverResult>;
}

const held = async (dispatcherUrl: string) => (await scrapeMetrics(dispatcherUrl)).get(WEBHOOK_HELD_METRIC) ?? 0;

/** The dispatcher's CPU time and its POSTs (count, total seconds) so far, to say where a phase's time went. */
async function dispatcherWork(dispatcherUrl: string) {
  const m = await scrapeMetrics(dispatcherUrl);
  let failedAttempts = 0;
  for (const [series, value] of m)
    if (series.startsWith("heliograph_webhook_attempts_total{") && !series.includes('outcome="delivered"'))
      failedAttempts += value;
  return {
    failedAttempts,
    cpuSeconds: m.get("heliograph_process_cpu_seconds_total") ?? Number.NaN,
    posts: m.get("heliograph_webhook_attempt_seconds_count") ?? Number.NaN,
    postSeconds: m.get("heliograph_webhook_attempt_seconds_sum") ?? Number.NaN,
  };
}

/** CPU ms of the dispatcher per POST and the mean POST (send → status) in ms, between two samples. */
function perPost(
  before: Awaited<ReturnType<typeof dispatcherWork>>,
  after: Awaited<ReturnType<typeof dispatcherWork>>,
) {
  const posts = after.posts - before.posts;
  return {
    failedAttempts: after.failedAttempts - before.failedAttempts,
    cpuMs: ((after.cpuSeconds - before.cpuSeconds) / posts) * 1000,
    postMs: ((after.postSeconds - before.postSeconds) / posts) * 1000,
  };
}

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "?");

async function openRig(
  h: Heliograph,
  dispatcherUrl: string,
  count: number,
  name: string,
  timeLimitMs: number,
): Promise<Rig> {
  const streams = await h.newAlgorithmStreams(count);
  const receiver = new Child<ReceiverInput, ReceiverResult>("webhook-receiver.ts", { endpoints: count, timeLimitMs });
  const endpointIds: string[] = [];
  try {
    const { port } = await receiver.next<{ port: number }>((m) => (m as { port?: number }).port !== undefined, 30_000);
    const registered = [];
    for (const [i, stream] of streams.entries()) {
      const created = await h.admin<{ id: string; secret: string }>("POST", "/webhooks", {
        id: `${name}-${i}`,
        subscriber_id: h.subscriber.id,
        stream_id: stream.streamId,
        url: `http://127.0.0.1:${port}/hook/${i}`,
        from: 0,
      });
      endpointIds.push(created.id);
      registered.push({ streamId: stream.streamId, secret: created.secret });
    }
    receiver.send({ endpoints: registered } satisfies ReceiverCommand);
    // The dispatcher takes new endpoints at its next scan (WEBHOOK_SCAN_MS).
    await waitFor(async () => (await held(dispatcherUrl)) >= count, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `the dispatcher delivering to ${count} endpoints`,
    });
    return { streams, endpointIds, receiver };
  } catch (err) {
    await closeRig(h, dispatcherUrl, { streams, endpointIds, receiver }).catch(() => {});
    throw err;
  }
}

/**
 * Ends a rig as an operator would: pauses the endpoints and waits until the dispatcher let go of
 * them, ends the receiver (its record is complete then), and only then deletes the endpoints, so
 * the receiver's record ends where the dispatcher stopped. The endpoints' delivery logs are read
 * first: the errors of failed attempts explain a duplicate that is a retry.
 */
async function closeRig(
  h: Heliograph,
  dispatcherUrl: string,
  rig: Rig,
): Promise<ReceiverResult & { attemptErrors: Record<string, number> }> {
  const attemptErrors: Record<string, number> = {};
  try {
    for (const id of rig.endpointIds) {
      const attempts = await h.admin<Array<{ status?: number; error?: string }>>("GET", `/webhooks/${id}/attempts`);
      for (const a of attempts) if (a.error !== undefined) attemptErrors[a.error] = (attemptErrors[a.error] ?? 0) + 1;
    }
    for (const id of rig.endpointIds) await h.admin("POST", `/webhooks/${id}/pause`);
    await waitFor(async () => (await held(dispatcherUrl)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: "the dispatcher letting go of the paused endpoints",
    });
    rig.receiver.send("stop" satisfies ReceiverCommand);
    const result = await rig.receiver.result(60_000);
    for (const id of rig.endpointIds) await h.admin("DELETE", `/webhooks/${id}`);
    return { ...result, attemptErrors };
  } finally {
    rig.receiver.kill();
  }
}

/** Every head once every one of `total` publishes is numbered. */
async function headsWhenNumbered(h: Heliograph, rig: Rig, total: number): Promise<number[]> {
  let heads: number[] = [];
  await waitFor(
    async () => {
      heads = await Promise.all(rig.streams.map((s) => h.head(s.streamId)));
      return heads.reduce((sum, head) => sum + head + 1, 0) >= total;
    },
    { timeoutMs: 120_000, intervalMs: 20, what: `${total} signals numbered` },
  );
  return heads;
}

/** The arrival time of the delivery that completed every stream up to its head, or undefined past the deadline. */
async function allDelivered(rig: Rig, heads: number[], timeoutMs: number): Promise<number | undefined> {
  rig.receiver.send({ expect: heads.map((head) => head + 1) } satisfies ReceiverCommand);
  try {
    const { completeAt } = await rig.receiver.next<{ completeAt: number }>(
      (m) => (m as { completeAt?: number }).completeAt !== undefined,
      timeoutMs,
    );
    return completeAt;
  } catch {
    return undefined;
  }
}

/** What a receiver got against what each stream holds: each event once, in number order, signed. */
interface Ledger {
  delivered: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  unexpected: number;
  badSignatures: number;
  badIds: number;
  badRequests: number;
  /** Errors of the failed attempts still in the endpoints' delivery logs (each was retried). */
  attemptErrors: Record<string, number>;
  /** The first few duplicates: endpoint, event number, ms since its first arrival, deliveries to it in between. */
  duplicateExamples: string[];
}

function ledger(result: ReceiverResult & { attemptErrors: Record<string, number> }, heads: number[]): Ledger {
  const out: Ledger = {
    delivered: 0,
    missing: 0,
    duplicated: 0,
    outOfOrder: 0,
    unexpected: 0,
    badSignatures: result.badSignatures,
    badIds: result.badIds,
    badRequests: result.badRequests,
    attemptErrors: result.attemptErrors,
    duplicateExamples: [],
  };
  const seen = heads.map(() => new Map<number, { at: number; index: number }>());
  const last = heads.map(() => -1);
  const count = heads.map(() => 0);
  for (const [endpoint, n, , at] of result.deliveries) {
    count[endpoint]!++;
    const first = seen[endpoint]!.get(n);
    if (first) {
      out.duplicated++;
      if (out.duplicateExamples.length < 5)
        out.duplicateExamples.push(
          `#${endpoint} event ${n} again after ${Math.round(at - first.at)} ms and ${count[endpoint]! - first.index - 1} deliveries`,
        );
      continue;
    }
    seen[endpoint]!.set(n, { at, index: count[endpoint]! });
    if (n !== last[endpoint]! + 1) out.outOfOrder++;
    last[endpoint] = n;
    if (n > heads[endpoint]!) out.unexpected++;
    else out.delivered++;
  }
  for (const [i, head] of heads.entries())
    out.missing += head + 1 - [...seen[i]!.keys()].filter((n) => n <= head).length;
  return out;
}

const failed = (l: Ledger) =>
  l.missing + l.duplicated + l.outOfOrder + l.unexpected + l.badSignatures + l.badIds + l.badRequests > 0;

const ledgerText = (l: Ledger) =>
  `${l.delivered} delivered; missing ${l.missing}, duplicated ${l.duplicated}, out of order ${l.outOfOrder}, beyond the head ${l.unexpected}, bad signatures ${l.badSignatures}, bad webhook-ids ${l.badIds}, bad requests ${l.badRequests}${l.duplicateExamples.length > 0 ? ` (${l.duplicateExamples.join("; ")})` : ""}${Object.keys(l.attemptErrors).length > 0 ? `; failed attempts in the delivery logs ${JSON.stringify(l.attemptErrors)}` : ""}`;

export async function b10(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const notes: string[] = [];
  const figures: Record<string, number> = {};
  const endpoints = sizes.webhookEndpoints;
  const dispatcher = await h.startWebhookDispatcher();
  try {
    // Steady rate.
    const steady = await openRig(
      h,
      dispatcher.url,
      endpoints,
      `b10-${rep}-steady`,
      sizes.webhookSeconds * 1000 + 600_000,
    );
    let steadyResult: Awaited<ReturnType<typeof closeRig>>;
    let published: PacedResult;
    let heads: number[];
    const steadyBefore = await dispatcherWork(dispatcher.url);
    let steadyWork: ReturnType<typeof perPost>;
    try {
      const publisher = new Child<PacedInput, PacedResult>("paced-publisher.ts", {
        url: h.ingest.url,
        headers: h.publisherHeaders,
        bodies: steady.streams.map((s) => s.body),
        ratePerSecond: sizes.webhookRate,
        durationMs: sizes.webhookSeconds * 1000,
        connections: 16,
        maxOutstanding: 1000,
        reportEveryMs: 0,
      });
      published = await publisher.result(sizes.webhookSeconds * 1000 + 60_000);
      heads = await headsWhenNumbered(h, steady, published.accepted.length);
      await allDelivered(steady, heads, 300_000);
      steadyWork = perPost(steadyBefore, await dispatcherWork(dispatcher.url));
    } finally {
      steadyResult = await closeRig(h, dispatcher.url, steady);
    }
    const steadyLedger = ledger(steadyResult, heads);
    const keyed = (accepted: Accepted[]) => accepted.map(([id, at, s]): Accepted => [`${s}/${id}`, at, s]);
    const received = steadyResult.deliveries.map(([e, , id, at]: Delivery): [string, number] => [`${e}/${id}`, at]);
    const { values, early, lost } = latencies(keyed(published.accepted), received);
    const arrivals = steadyResult.deliveries.map((d) => d[3]);
    const span = Math.max(...arrivals) - Math.min(...arrivals);
    const check = `B10 rep ${rep} steady: ${published.accepted.length} accepted at ${sizes.webhookRate}/s over ${endpoints} endpoints (${published.skipped} skipped, failures ${JSON.stringify(published.failed)}); ${ledgerText(steadyLedger)}; ${lost} accepted signals not received at their endpoint, ${early} received before the publisher read the 202 (counted as 0 ms)`;
    notes.push(failed(steadyLedger) || lost > 0 ? `FAILED CHECK ${check}` : check);
    notes.push(
      `B10 rep ${rep} steady: the dispatcher spent ${ms(steadyWork.cpuMs)} ms CPU per POST; a POST took ${ms(steadyWork.postMs)} ms on average (connect, send, status); ${steadyWork.failedAttempts} attempts failed (and were retried)${published.skipped > 0 ? `; the publisher did not hold ${sizes.webhookRate}/s (${published.skipped} publishes skipped at 1,000 outstanding)` : ""}`,
    );
    figures["B10.cpuMsPerPost"] = steadyWork.cpuMs;
    figures["B10.postMs"] = steadyWork.postMs;
    figures["B10.p50"] = percentile(values, 0.5);
    figures["B10.p99"] = percentile(values, 0.99);
    if (values.length >= P999_MIN_SAMPLES) figures["B10.p999"] = percentile(values, 0.999);
    figures["B10.max"] = values.at(-1) ?? Number.NaN;
    figures["B10.rate"] = arrivals.length > 1 ? ((arrivals.length - 1) / span) * 1000 : Number.NaN;

    // Burst: as fast as the ingest gateway takes them, then until the receivers have all.
    const burst = await openRig(h, dispatcher.url, endpoints, `b10-${rep}-burst`, 600_000);
    let burstResult: Awaited<ReturnType<typeof closeRig>>;
    let load: HttpLoadResult;
    let burstHeads: number[];
    let completeAt: number | undefined;
    try {
      const loader = new Child<HttpLoadInput, HttpLoadResult>("http-load.ts", {
        url: h.ingest.url,
        path: "/api/v1/create_trading_signal",
        headers: h.publisherHeaders,
        bodies: burst.streams.map((s) => s.body),
        connections: 64,
        durationSeconds: 0,
        amount: sizes.webhookBurst,
        collectIds: false,
      });
      load = await loader.result(300_000);
      burstHeads = await headsWhenNumbered(h, burst, load.accepted);
      completeAt = await allDelivered(burst, burstHeads, 300_000);
    } finally {
      burstResult = await closeRig(h, dispatcher.url, burst);
    }
    const burstLedger = ledger(burstResult, burstHeads);
    const total = burstHeads.reduce((sum, head) => sum + head + 1, 0);
    const burstCheck = `B10 rep ${rep} burst: ${load.accepted} accepted of ${sizes.webhookBurst} (non-202 ${JSON.stringify(load.other)}, ${load.errors} errors, ${load.timeouts} timeouts) at ${Math.round(load.acceptedPerSecond)}/s, ${total} numbered; ${ledgerText(burstLedger)}; the receivers had all ${completeAt === undefined ? "NEVER (deadline passed)" : `${Math.round(completeAt - load.endedAt)} ms after the last 202`}`;
    notes.push(failed(burstLedger) || completeAt === undefined ? `FAILED CHECK ${burstCheck}` : burstCheck);
    figures["B10.burstRate"] = completeAt === undefined ? Number.NaN : (total / (completeAt - load.startedAt)) * 1000;
    figures["B10.burstPublishRate"] = load.acceptedPerSecond;
    figures["B10.burstTrailMs"] = completeAt === undefined ? Number.NaN : completeAt - load.endedAt;
  } finally {
    await dispatcher.stop();
  }
  return { figures, notes };
}

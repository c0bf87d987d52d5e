/**
 * `pnpm bench --soak 10m`: publish at a steady rate while many subscribers follow, sampling every
 * service's RSS and event-loop delay (from /metrics) and the pipeline's throughput and latency over
 * time. Writes bench-results/soak-<time>.json and .svg (and soak-latest.*).
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { streamKeys } from "@heliograph/store";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import type { FollowersInput, FollowersResult, Received } from "./followers.js";
import { LAG_P99_METRIC, RESYNCS_METRIC, RSS_METRIC, scrapeMetrics, WAITERS_METRIC } from "./metrics-scrape.js";
import type { SoakOptions } from "./options.js";
import type { Accepted, PacedInput, PacedResult } from "./paced-publisher.js";
import { residentBytes } from "./process-cost.js";
import { RESULTS_DIR } from "./report.js";
import type { Heliograph } from "./stack.js";
import { percentile } from "./stats.js";
import { renderChart } from "./svg-chart.js";

interface Sample {
  t: number;
  acceptedPerSecond: number;
  numberedPerSecond: number;
  deliveredPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  waiters: number;
  rssMiB: Record<string, number>;
  lagP99Ms: Record<string, number>;
}

const SERVERS = ["nats", "redis"] as const;

/** p50, p99, p99.9 and max of values sorted ascending. */
const tailOf = (sorted: number[]) => ({
  p50: percentile(sorted, 0.5),
  p99: percentile(sorted, 0.99),
  p999: percentile(sorted, 0.999),
  max: sorted.at(-1) ?? Number.NaN,
});

/** Runs the soak; the exit code: 1 when an accepted publish was not delivered or a follower saw a gap. */
export async function runSoak(h: Heliograph, soak: SoakOptions, log: (m: string) => void): Promise<number> {
  const streams = await h.newAlgorithmStreams(soak.streams);
  const perStream = Math.ceil(soak.followers / soak.streams);
  const followerCount = perStream * soak.streams;
  log(
    `soak: ${soak.durationMs / 1000} s at ${soak.ratePerSecond}/s over ${soak.streams} streams, ${followerCount} followers`,
  );
  const followers = new Child<FollowersInput, FollowersResult>("followers.ts", {
    url: h.stream.url,
    protocol: {
      kind: "heliograph",
      token: h.subscriber.token,
      after: streams.map(() => -1),
      longPollSeconds: 30,
      batchSize: 1000,
    },
    streams: streams.map((s) => s.streamId),
    followersPerStream: perStream,
    timeLimitMs: soak.durationMs + 180_000,
    reportEveryMs: 1000,
  });
  const services = { ingest: h.ingest.url, sequencer: h.sequencer.url, stream: h.stream.url };
  const waitersOf = async () => (await scrapeMetrics(h.stream.url)).get(WAITERS_METRIC) ?? 0;
  const deadline = Date.now() + 60_000;
  while ((await waitersOf()) < followerCount && Date.now() < deadline) await sleep(200);
  const publisher = new Child<PacedInput, PacedResult>("paced-publisher.ts", {
    url: h.ingest.url,
    headers: h.publisherHeaders,
    bodies: streams.map((s) => s.body),
    ratePerSecond: soak.ratePerSecond,
    durationMs: soak.durationMs,
    connections: 32,
    maxOutstanding: 4000,
    reportEveryMs: 1000,
  });
  let published: PacedResult | undefined;
  let publishFailed: Error | undefined;
  const publishing = publisher.result(soak.durationMs + 120_000).then(
    (r) => {
      published = r;
    },
    (err: Error) => {
      publishFailed = err;
    },
  );

  const interval = Math.min(10_000, Math.max(1_000, soak.durationMs / 150));
  const t0 = nowMs();
  const acceptedAt = new Map<string, number>();
  let pending: Received[] = [];
  const allLatencies: number[] = [];
  /** The part of each latency after the sequencer numbered the event (see followers.ts). */
  const afterNumbering: number[] = [];
  /** The rest: 202 → numbered (the event's published_at), the part the sequencer's intake sets. */
  const beforeNumbering: number[] = [];
  let pubSeen = 0;
  let folSeen = 0;
  let lastAccepted = 0;
  let lastDelivered = 0;
  let lastNumbered = 0;
  let lastT = t0;
  let delivered = 0;
  let unmatched = 0;
  const samples: Sample[] = [];
  /** Seconds since t0 of each 202, and of each delivery with its latency: bucketed at the end. */
  const acceptedTimes: number[] = [];
  const deliveries: Array<[t: number, latency: number]> = [];
  const sumHeads = async () => {
    const pipeline = h.servers.client.pipeline();
    for (const s of streams) pipeline.get(streamKeys(s.streamId).head);
    return ((await pipeline.exec()) ?? []).reduce((sum, [, v]) => sum + (v === null ? 0 : Number(v) + 1), 0);
  };
  const takeSample = async () => {
    for (const batch of publisher.progressSince<{ accepted: Accepted[] }>(pubSeen)) {
      pubSeen++;
      for (const [id, at] of batch.accepted) {
        acceptedAt.set(id, at);
        acceptedTimes.push((at - t0) / 1000);
      }
    }
    for (const batch of followers.progressSince<{ received?: Received[] }>(folSeen)) {
      folSeen++;
      if (batch.received) pending.push(...batch.received);
    }
    const now = nowMs();
    const window: number[] = [];
    const stillPending: Received[] = [];
    for (const entry of pending) {
      const t202 = acceptedAt.get(entry[0]);
      if (t202 !== undefined) {
        const latency = Math.max(0, entry[1] - t202);
        window.push(latency);
        afterNumbering.push(entry[2]);
        beforeNumbering.push(Math.max(0, latency - entry[2]));
        deliveries.push([(entry[1] - t0) / 1000, latency]);
        delivered++;
      } else if (now - entry[1] < 30_000) stillPending.push(entry);
      else unmatched++;
    }
    pending = stillPending;
    window.sort((a, b) => a - b);
    allLatencies.push(...window);
    const numbered = await sumHeads();
    const seconds = (now - lastT) / 1000;
    const rssMiB: Record<string, number> = {};
    const lagP99Ms: Record<string, number> = {};
    let waiters = 0;
    for (const [name, url] of Object.entries(services)) {
      const m = await scrapeMetrics(url).catch(() => new Map<string, number>());
      rssMiB[name] = (m.get(RSS_METRIC) ?? Number.NaN) / 2 ** 20;
      lagP99Ms[name] = (m.get(LAG_P99_METRIC) ?? Number.NaN) * 1000;
      if (name === "stream") waiters = m.get(WAITERS_METRIC) ?? 0;
    }
    // The servers have no /metrics of ours: their RSS from /proc.
    for (const name of SERVERS) {
      const pid = h.components()[name];
      rssMiB[name] = (pid === undefined ? Number.NaN : (residentBytes(pid) ?? Number.NaN)) / 2 ** 20;
    }
    samples.push({
      t: (now - t0) / 1000,
      acceptedPerSecond: (acceptedAt.size - lastAccepted) / seconds,
      numberedPerSecond: (numbered - lastNumbered) / seconds,
      deliveredPerSecond: (delivered - lastDelivered) / seconds,
      latencyP50Ms: percentile(window, 0.5),
      latencyP99Ms: percentile(window, 0.99),
      waiters,
      rssMiB,
      lagP99Ms,
    });
    lastAccepted = acceptedAt.size;
    lastNumbered = numbered;
    lastDelivered = delivered;
    lastT = now;
    const s = samples.at(-1)!;
    log(
      `soak t=${s.t.toFixed(0)}s accepted ${s.acceptedPerSecond.toFixed(0)}/s numbered ${s.numberedPerSecond.toFixed(0)}/s p50 ${s.latencyP50Ms.toFixed(1)} ms p99 ${s.latencyP99Ms.toFixed(1)} ms waiters ${waiters} rss ${Object.values(
        rssMiB,
      )
        .map((v) => v.toFixed(0))
        .join("/")} MiB`,
    );
  };
  // Samples on a fixed grid, so every window is as long as the others.
  const nextTick = () => sleep(interval - ((nowMs() - t0) % interval));
  while (!published && !publishFailed) {
    await nextTick();
    await takeSample();
  }
  await publishing;
  if (publishFailed || !published) {
    followers.kill();
    throw publishFailed ?? new Error("the soak publisher ended without a result");
  }
  // Let the followers catch up with the last publishes, then stop them.
  const catchUp = Date.now() + 15_000;
  while (delivered + pending.length < acceptedAt.size && Date.now() < catchUp) {
    await nextTick();
    await takeSample();
  }
  followers.send("stop");
  const followed = await followers.result(60_000);
  await takeSample();

  allLatencies.sort((a, b) => a - b);
  afterNumbering.sort((a, b) => a - b);
  beforeNumbering.sort((a, b) => a - b);
  const sequencerMetrics = await scrapeMetrics(h.sequencer.url).catch(() => new Map<string, number>());
  // Throughput and latency over time by each event's own timestamps (reports arrive up to a second late).
  const width = interval / 1000;
  const buckets = Math.ceil(Math.max(1, ...samples.map((x) => x.t)) / width);
  const bucketOf = (t: number) => Math.min(buckets - 1, Math.max(0, Math.floor(t / width)));
  const acceptedPerBucket = new Array<number>(buckets).fill(0);
  for (const t of acceptedTimes) acceptedPerBucket[bucketOf(t)]!++;
  const latencyPerBucket = Array.from({ length: buckets }, () => [] as number[]);
  for (const [t, latency] of deliveries) latencyPerBucket[bucketOf(t)]!.push(latency);
  for (const bucket of latencyPerBucket) bucket.sort((a, b) => a - b);
  const timeline = acceptedPerBucket.map((accepted, i) => ({
    t: (i + 1) * width,
    acceptedPerSecond: accepted / width,
    deliveredPerSecond: latencyPerBucket[i]!.length / width,
    latencyP50Ms: percentile(latencyPerBucket[i]!, 0.5),
    latencyP99Ms: percentile(latencyPerBucket[i]!, 0.99),
  }));
  const first = samples[0];
  const last = samples.at(-1);
  const summary = {
    date: new Date().toISOString(),
    options: soak,
    followers: followerCount,
    published: {
      sent: published.sent,
      accepted: acceptedAt.size,
      skipped: published.skipped,
      failed: published.failed,
    },
    delivered,
    notDelivered: acceptedAt.size - delivered,
    unmatched,
    followerPolls: followed.polls,
    followerErrors: followed.errors,
    latencyMs: tailOf(allLatencies),
    // Numbered → follower (wall clock, ms precision): what of the latency is after the numbering.
    afterNumberingMs: tailOf(afterNumbering),
    beforeNumberingMs: tailOf(beforeNumbering),
    /** Partition consumers the sequencer replaced (a lost pull request, a gap, a stall). */
    sequencerResyncs: sequencerMetrics.get(RESYNCS_METRIC) ?? Number.NaN,
    rssMiB: { first: first?.rssMiB, last: last?.rssMiB },
    maxLagP99Ms: Object.fromEntries(
      Object.keys(services).map((name) => [name, Math.max(...samples.map((s) => s.lagP99Ms[name] ?? 0))]),
    ),
    timeline,
    samples,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = summary.date.replaceAll(":", "-").slice(0, 19);
  const jsonPath = join(RESULTS_DIR, `soak-${stamp}.json`);
  const svgPath = join(RESULTS_DIR, `soak-${stamp}.svg`);
  writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
  const names = Object.keys(services);
  const rssNames = [...names, ...SERVERS];
  const svg = renderChart(
    `Heliograph soak: ${soak.ratePerSecond}/s over ${soak.streams} streams, ${followerCount} followers, ${(soak.durationMs / 60_000).toFixed(1)} min`,
    `${summary.date} · latency p50 ${summary.latencyMs.p50.toFixed(1)} ms, p99 ${summary.latencyMs.p99.toFixed(1)} ms · ${delivered}/${acceptedAt.size} delivered`,
    [
      {
        title: "Throughput",
        unit: "per second",
        series: [
          { name: "accepted (202)", points: timeline.map((b) => [b.t, b.acceptedPerSecond]) },
          { name: "numbered", points: samples.map((s) => [s.t, s.numberedPerSecond]) },
          { name: "delivered (probes)", points: timeline.map((b) => [b.t, b.deliveredPerSecond]) },
        ],
      },
      {
        title: "Latency 202 → follower has it",
        unit: "ms",
        series: [
          { name: "p50", points: timeline.map((b) => [b.t, b.latencyP50Ms]) },
          { name: "p99", points: timeline.map((b) => [b.t, b.latencyP99Ms]) },
        ],
      },
      {
        title: "Resident memory",
        unit: "MiB",
        series: rssNames.map((n) => ({ name: n, points: samples.map((s) => [s.t, s.rssMiB[n] ?? Number.NaN]) })),
      },
      {
        title: "Event-loop delay p99",
        unit: "ms",
        series: names.map((n) => ({ name: n, points: samples.map((s) => [s.t, s.lagP99Ms[n] ?? Number.NaN]) })),
      },
    ],
  );
  writeFileSync(svgPath, svg);
  copyFileSync(jsonPath, join(RESULTS_DIR, "soak-latest.json"));
  copyFileSync(svgPath, join(RESULTS_DIR, "soak-latest.svg"));
  const { samples: _samples, timeline: _timeline, ...brief } = summary;
  console.log(JSON.stringify(brief, null, 2));
  log(`wrote ${jsonPath} and ${svgPath}`);
  const problems: string[] = [];
  if (summary.notDelivered > 0) problems.push(`${summary.notDelivered} accepted publishes never reached a follower`);
  if (followed.errors.gap) problems.push(`followers saw ${followed.errors.gap} gaps in event numbers`);
  for (const problem of problems) log(`FAILED CHECK soak: ${problem}`);
  return problems.length > 0 ? 1 : 0;
}

/**
 * Raw baselines of the parts, measured in the same run as Heliograph's figures (BENCHMARKS.md says
 * why: the machine is noisy). Each load generator or bare server is its own child process.
 */

import type { BareInput } from "./bare-fastify.js";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import type { HttpLoadInput, HttpLoadResult } from "./http-load.js";
import type { PublisherInput, PublisherResult } from "./jetstream-publisher.js";
import type { LongPollInput, LongPollResult } from "./long-poll-clients.js";
import type { Sizes } from "./options.js";
import { startCostMeter } from "./process-cost.js";
import { rawMessage } from "./raw-message.js";
import type { RedisRawInput, RedisRawResult } from "./redis-raw.js";
import type { BenchServers } from "./stack.js";

export type Figures = Record<string, number>;
export interface RepResult {
  figures: Figures;
  notes: string[];
}

/** Removes the keys a raw measurement left (SCAN, never KEYS, never FLUSHDB: the stack shares this Redis). */
export async function deleteKeys(servers: BenchServers, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await servers.client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await servers.client.unlink(...keys);
  } while (cursor !== "0");
}

/** Listen backlog of the bare servers (the kernel caps it at net.core.somaxconn). */
export const BACKLOG = 8_192;

/** R1: JetStream async publish from one Node process, ~300-byte JSON, 256 in flight. */
export async function r1(servers: BenchServers, sizes: Sizes, rep: number): Promise<RepResult> {
  const { jetstreamManager, StorageType, RetentionPolicy } = await import("@nats-io/jetstream");
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect(servers.nats.connectOptions());
  const jsm = await jetstreamManager(nc);
  // Same storage and dedup window as INGEST, so the raw figure is the same work minus Heliograph.
  await jsm.streams.add({
    name: "BENCH_RAW",
    subjects: ["bench.raw.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: 10 * 60_000 * 1_000_000,
  });
  try {
    const child = new Child<PublisherInput, PublisherResult>("jetstream-publisher.ts", {
      nats: servers.nats.connectOptions(),
      count: sizes.r1Messages,
      inFlight: 256,
      mode: "raw",
      subject: "bench.raw.r1",
      idPrefix: `r1-${rep}-`,
      timeLimitMs: 120_000,
    });
    // The raw side of the cost table: what nats-server spends per message stored and acknowledged.
    const meter = startCostMeter("R1", { nats: servers.nats.process?.pid });
    const result = await child.result(180_000);
    return {
      figures: { "R1.rate": result.perSecond, ...meter.finish(result.published) },
      notes: result.failed ? [`R1 rep ${rep}: ${result.failed} publishes failed`] : [],
    };
  } finally {
    await jsm.streams.delete("BENCH_RAW").catch(() => {});
    await nc.close();
  }
}

/** R2: the sequencer's own Lua step, one message per call, 100 calls in flight on one auto-pipelined connection. */
export async function r2(servers: BenchServers, sizes: Sizes, rep: number): Promise<RepResult> {
  const run = async (messagesPerStep: number, inFlight: number) => {
    const child = new Child<RedisRawInput, RedisRawResult>("redis-raw.ts", {
      redisUrl: servers.redis.url,
      mode: "lua-step",
      streamId: `bench-r2-${rep}-${messagesPerStep}`,
      count: sizes.r2Messages,
      messagesPerStep,
      inFlight,
      timeLimitMs: 120_000,
    });
    return child.result(180_000);
  };
  const single = await run(1, 100);
  const batched = await run(100, 8);
  await deleteKeys(servers, `hg:{bench-r2-${rep}-*`);
  return { figures: { "R2.rate": single.perSecond, "R2b.rate": batched.perSecond }, notes: [] };
}

async function startBare(): Promise<{ child: Child<BareInput, unknown>; url: string }> {
  const child = new Child<BareInput, unknown>("bare-fastify.ts", { backlog: BACKLOG });
  const { listening } = await child.next<{ listening: string }>(
    (m) => (m as { listening?: string }).listening !== undefined,
    30_000,
  );
  return { child, url: `http://127.0.0.1:${listening}` };
}

/** R3: bare Fastify POST of a ~300-byte JSON answered 202 with nothing else, autocannon in another process. */
export async function r3(_servers: BenchServers, sizes: Sizes, _rep: number): Promise<RepResult> {
  const bare = await startBare();
  try {
    const load = new Child<HttpLoadInput, HttpLoadResult>("http-load.ts", {
      url: bare.url,
      path: "/signal",
      headers: {},
      bodies: [rawMessage(1)],
      connections: 50,
      durationSeconds: sizes.httpSeconds,
      collectIds: false,
    });
    const result = await load.result(sizes.httpSeconds * 1000 + 60_000);
    return { figures: { "R3.rate": result.acceptedPerSecond, "R3.p99": result.latencyP99Ms }, notes: [] };
  } finally {
    bare.child.kill();
  }
}

/** R4: bare Fastify long-poll route: N held requests, one release answers all. */
export async function r4(_servers: BenchServers, sizes: Sizes, rep: number): Promise<RepResult> {
  const bare = await startBare();
  try {
    const stats = async () => (await (await fetch(`${bare.url}/stats`)).json()) as { held: number; rss: number };
    const before = await stats();
    const clients = new Child<LongPollInput, LongPollResult>("long-poll-clients.ts", {
      url: `${bare.url}/poll`,
      headers: {},
      count: sizes.heldPolls,
      wave: 500,
      expect: '"event_number":0',
      timeLimitMs: 120_000,
    });
    await clients.next((m) => (m as { sent?: number }).sent !== undefined, 120_000);
    const deadline = Date.now() + 60_000;
    let held = await stats();
    while (held.held < sizes.heldPolls && Date.now() < deadline) {
      await sleep(50);
      held = await stats();
    }
    // Settle, then read the memory the held requests cost.
    await sleep(500);
    held = await stats();
    const releasedAt = nowMs();
    await fetch(`${bare.url}/release`, { method: "POST" });
    const result = await clients.result(120_000);
    const notes: string[] = [];
    if (result.expected !== sizes.heldPolls)
      notes.push(
        `R4 rep ${rep}: ${result.expected} of ${sizes.heldPolls} held requests got the release (${JSON.stringify(result.otherStatus)}, ${result.errors} errors)`,
      );
    return {
      figures: {
        "R4.time": result.lastAnswerAt - releasedAt,
        "R4.rss": (held.rss - before.rss) / held.held / 1024,
      },
      notes,
    };
  } finally {
    bare.child.kill();
  }
}

/** R5: Redis XRANGE of 1,000 entries at a time over a log shaped like the sequencer's. */
export async function r5(servers: BenchServers, sizes: Sizes, rep: number): Promise<RepResult> {
  const child = new Child<RedisRawInput, RedisRawResult>("redis-raw.ts", {
    redisUrl: servers.redis.url,
    mode: "xrange",
    streamId: `bench-r5-${rep}`,
    count: sizes.r5Entries,
    timeLimitMs: 120_000,
  });
  const result = await child.result(240_000);
  return { figures: { "R5.rate": result.perSecond }, notes: [] };
}

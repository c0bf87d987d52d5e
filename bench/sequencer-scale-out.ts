/**
 * B5x2: do sequencers scale out on a drain? B5's backlog (`backlog` events, straight to
 * `ingest.<p>.<stream>`) split over two streams on two partitions, drained (one) by one sequencer
 * owning both partitions, then (two) by two instances owning one each. Events per second from the
 * first numbered to both heads at their last event, for each, and what each process spent per
 * event.
 *
 * The capacity model assumes a sequencer's cost per event stays the same when the partitions are
 * split, so that throughput adds up while cores are free: the CPU per event of each instance, and
 * per event it numbered itself, show whether it does.
 */
import { partitionOf } from "@heliograph/contracts";
import type { ServiceHandle } from "@heliograph/testkit";
import { waitFor } from "@heliograph/testkit";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import { leaseOwners } from "./failover.js";
import type { PublisherInput, PublisherResult } from "./jetstream-publisher.js";
import { scrapeMetrics } from "./metrics-scrape.js";
import type { Sizes } from "./options.js";
import { park, unpark } from "./partition-parking.js";
import { type Components, startCostMeter } from "./process-cost.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";

const OWNED_METRIC = "heliograph_sequencer_partitions_owned";
/**
 * Counters that say how an instance drained: its mean batch, and its EVENTS publishes refused
 * because another writer's messages came between a chain's events (each refusal costs a read of
 * the subject's last event and a new chain: events-writer.ts), and consumer resyncs.
 */
const DRAIN_COUNTERS = {
  batchSum: "heliograph_sequencer_batch_size_sum",
  batches: "heliograph_sequencer_batch_size_count",
  refusals: "heliograph_sequencer_record_refusals_total",
  resyncs: "heliograph_sequencer_resyncs_total",
} as const;
type DrainCounters = Record<keyof typeof DRAIN_COUNTERS, number>;

async function drainCounters(instance: Instance): Promise<DrainCounters> {
  const metrics = await scrapeMetrics(instance.handle.url);
  const read = (name: string) => metrics.get(name) ?? 0;
  return {
    batchSum: read(DRAIN_COUNTERS.batchSum),
    batches: read(DRAIN_COUNTERS.batches),
    refusals: read(DRAIN_COUNTERS.refusals),
    resyncs: read(DRAIN_COUNTERS.resyncs),
  };
}
/** Long enough for the backlog to be published on a busy machine; unparked sooner in every case. */
const PARK_TTL_MS = 600_000;

/** A sequencer instance by its component name in the cost figures. */
interface Instance {
  name: string;
  handle: ServiceHandle;
}

/**
 * Stream ids of no algorithm, chosen for their partition (an algorithm's id is given by the admin
 * API, so its partition cannot be chosen). `algorithm-` keeps them in B5's kind: the signal hot
 * window, which the bench stack keeps whole, so no trimming is timed that B5 does not time.
 */
function streamNames(rep: number) {
  let next = 0;
  return (onPartition: (partition: number) => boolean): string => {
    for (let tries = 0; tries < 10_000; tries++) {
      const streamId = `algorithm-${900_000_000 + rep * 100_000 + next++}`;
      if (onPartition(partitionOf(streamId))) return streamId;
    }
    throw new Error("B5x2: no stream id on a wanted partition in 10,000 tries");
  };
}

async function owned(instance: Instance): Promise<number> {
  return (await scrapeMetrics(instance.handle.url)).get(OWNED_METRIC) ?? Number.NaN;
}

/**
 * One drain: the streams' partitions parked, the backlog published, the parks released to the
 * instances (each then has room for `room[i]` of them), and the heads followed to the last event.
 */
async function drain(
  h: Heliograph,
  nc: NatsConnection,
  how: {
    id: string;
    rep: number;
    events: number;
    instances: Instance[];
    streamIds: [string, string];
    room: number[];
  },
): Promise<{ figures: Record<string, number>; notes: string[] }> {
  const { id, rep, events: total, instances, streamIds } = how;
  const partitions = streamIds.map((s) => partitionOf(s));
  const handles = instances.map((i) => i.handle);
  const before = await Promise.all(instances.map(owned));
  await park(h.servers.client, partitions, PARK_TTL_MS);
  try {
    // Each owner lets a parked partition go at its next renewal (a quarter of the lease TTL).
    await waitFor(
      async () => {
        const now = await Promise.all(instances.map(owned));
        return now.every((n, i) => n === before[i]! - how.room[i]!);
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `${id}: the sequencers letting the parked partitions go` },
    );
    const publisher = new Child<PublisherInput, PublisherResult>("jetstream-publisher.ts", {
      nats: h.servers.nats.connectOptions(),
      count: total,
      inFlight: 256,
      mode: "ingest",
      streamIds,
      publisherId: h.publisher.id,
      idPrefix: `ing_${id}_${rep}_`,
      timeLimitMs: 300_000,
    });
    const published = await publisher.result(360_000);
    if (published.failed > 0 || published.published !== total)
      throw new Error(`${id}: ${published.failed} of ${total} backlog publishes failed`);
    // Round-robin from 0: the first stream gets the odd one.
    const lasts = streamIds.map((_, i) => Math.ceil((total - i) / streamIds.length) - 1);
    const heads = async () => Promise.all(streamIds.map((s) => h.head(s)));
    if ((await heads()).some((head) => head >= 0))
      throw new Error(`${id}: a parked partition was numbered before its park was released`);

    const components: Components = { ...h.components() };
    for (const instance of instances) components[instance.name] = instance.handle.pid;
    const countersBefore = await Promise.all(instances.map(drainCounters));
    const meter = startCostMeter(id, components);
    const releasedAt = nowMs();
    const firstAt = streamIds.map(() => Number.NaN);
    const doneAt = streamIds.map(() => Number.NaN);
    await unpark(h.servers.client, nc, partitions);
    const deadline = Date.now() + 600_000;
    while (doneAt.some(Number.isNaN)) {
      if (Date.now() > deadline) throw new Error(`${id}: the backlog was not drained within 600 s`);
      const current = await heads();
      const at = nowMs();
      for (const [i, head] of current.entries()) {
        if (head >= 0 && Number.isNaN(firstAt[i]!)) firstAt[i] = at;
        if (head >= lasts[i]! && Number.isNaN(doneAt[i]!)) doneAt[i] = at;
      }
      await sleep(5);
    }
    const cost = meter.finish(total);
    const countersAfter = await Promise.all(instances.map(drainCounters));

    const owners = await leaseOwners(h, handles);
    const ownerOf = partitions.map((p) => owners[p]!);
    const split = instances.length > 1;
    if (ownerOf.includes(-1) || (split && ownerOf[0] === ownerOf[1]))
      throw new Error(
        `${id}: partitions ${partitions.join(", ")} ended with owners ${ownerOf.join(", ")} of ${instances.map((i) => i.name).join(", ")}: not the split this measure is about`,
      );
    const start = Math.min(...firstAt);
    const end = Math.max(...doneAt);
    const figures: Record<string, number> = {
      [`${id}.rate`]: (total / (end - start)) * 1000,
      [`${id}.startMs`]: start - releasedAt,
      ...cost,
    };
    const drained = instances.map((instance, i) => {
      const a = countersAfter[i]!;
      const b = countersBefore[i]!;
      const batch = (a.batchSum - b.batchSum) / (a.batches - b.batches);
      figures[`${id}.batch.${instance.name}`] = batch;
      figures[`${id}.refusals.${instance.name}`] = a.refusals - b.refusals;
      return `${instance.name}: mean batch ${batch.toFixed(0)}, ${a.refusals - b.refusals} EVENTS chains refused, ${a.resyncs - b.resyncs} resyncs`;
    });
    if (split)
      for (const [i, instance] of instances.entries()) {
        const stream = ownerOf.indexOf(i);
        const events = lasts[stream]! + 1;
        figures[`${id}.rate.${instance.name}`] = (events / (doneAt[stream]! - firstAt[stream]!)) * 1000;
        // The meter divides by every event; the model's figure is an instance's CPU per event it numbered.
        const cpu = cost[`${id}.cpu.${instance.name}`];
        if (cpu !== undefined) figures[`${id}.own.${instance.name}`] = (cpu * total) / events;
      }
    const note = streamIds
      .map(
        (s, i) =>
          `${s} (partition ${partitions[i]}, ${instances[ownerOf[i]!]!.name}) numbered ${(firstAt[i]! - releasedAt).toFixed(0)}–${(doneAt[i]! - releasedAt).toFixed(0)} ms after the release`,
      )
      .join("; ");
    return { figures, notes: [`${id} rep ${rep}: ${total} events; ${note}; ${drained.join("; ")}`] };
  } finally {
    // Whatever happened, no partition stays parked.
    await unpark(h.servers.client, nc, partitions);
  }
}

export async function b5x2(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const nc = await connect({ ...h.servers.nats.connectOptions(), name: "bench-b5x2" });
  const streamOn = streamNames(rep);
  const notes: string[] = [];
  const figures: Record<string, number> = {};
  // Untimed, before each timed drain: an instance started for the measure would otherwise charge
  // its JIT warm-up to the events it numbers.
  const warmUp = Math.max(1_000, Math.round(sizes.backlog / 10));
  try {
    const first = { name: "sequencer", handle: h.sequencer };
    // One sequencer owning every partition: any two partitions.
    const one = async (id: string, events: number) => {
      const a = streamOn(() => true);
      return drain(h, nc, {
        id,
        rep,
        events,
        instances: [first],
        streamIds: [a, streamOn((p) => p !== partitionOf(a))],
        room: [2],
      });
    };
    await one("B5x2warm1", warmUp);
    const timedOne = await one("B5x2one", sizes.backlog);
    Object.assign(figures, timedOne.figures);
    notes.push(...timedOne.notes);

    let second: ServiceHandle | undefined;
    try {
      second = await h.startInstance("sequencer");
      const instances = [first, { name: "sequencer2", handle: second }];
      const handles = instances.map((i) => i.handle);
      // A partition of each, chosen once the shares settled (every partition owned, half each, no
      // handover under way): parked, each instance is one below its share and takes one back.
      const two = async (id: string, events: number) => {
        let owners: number[] = [];
        await waitFor(
          async () => {
            owners = await leaseOwners(h, handles);
            const counts = await Promise.all(instances.map(owned));
            return (
              !owners.includes(-1) &&
              owners.filter((o) => o === 0).length === owners.length / 2 &&
              counts[0] === counts[1]
            );
          },
          { timeoutMs: 30_000, intervalMs: 50, what: "B5x2: two sequencers sharing the partitions half and half" },
        );
        return drain(h, nc, {
          id,
          rep,
          events,
          instances,
          streamIds: [streamOn((p) => owners[p] === 0), streamOn((p) => owners[p] === 1)],
          room: [1, 1],
        });
      };
      await two("B5x2warm2", warmUp);
      const timedTwo = await two("B5x2two", sizes.backlog);
      Object.assign(figures, timedTwo.figures);
      notes.push(...timedTwo.notes);
    } finally {
      // Back to one sequencer for the other benchmarks: a graceful stop hands its partitions over.
      if (second?.running()) await second.stop();
      await waitFor(async () => (await leaseOwners(h, [h.sequencer])).every((o) => o === 0), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: "B5x2: one sequencer holding every partition again",
      });
    }
    figures["B5x2.ratio"] = figures["B5x2two.rate"]! / figures["B5x2one.rate"]!;
    return { figures, notes };
  } finally {
    await nc.close();
  }
}

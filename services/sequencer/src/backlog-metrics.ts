import { INGEST_STREAM, sequencerConsumerName } from "@heliograph/contracts";
import { Gauge, type Redis, type Registry } from "@heliograph/platform";
import { haltedStreamsKey } from "@heliograph/store";
import type { JetStreamManager } from "@nats-io/jetstream";

export interface BacklogSources {
  redis: Redis;
  /** Undefined until the sequencer has started. */
  jsm: () => JetStreamManager | undefined;
  /** The partitions this instance holds a lease on now. */
  owned: () => readonly number[];
}

/** A scrape waits at most this long for NATS and Redis; the last values are kept otherwise. */
const COLLECT_TIMEOUT_MS = 2_000;

export const BACKLOG_METRICS = [
  "heliograph_sequencer_partition_backlog_messages",
  "heliograph_sequencer_ingest_messages",
  "heliograph_sequencer_halted_streams",
] as const;

/**
 * What is waiting, read when Prometheus scrapes: per partition this instance owns, the INGEST
 * messages its consumer has not had acked (pending plus delivered and unacked: the numbering lag);
 * INGEST's messages in all (a work queue: everything not numbered yet, owned partitions or not);
 * the streams halted now (`hg:halted`). The last two are the same on every instance: take `max`.
 * Registered again by a sequencer made again on the same registry, so a scrape never reads a
 * stopped one.
 */
export function registerBacklogMetrics(registry: Registry, sources: BacklogSources): void {
  for (const name of BACKLOG_METRICS) registry.removeSingleMetric(name);
  new Gauge({
    name: "heliograph_sequencer_partition_backlog_messages",
    help: "INGEST messages of a partition this instance owns that are not numbered and acked yet (its lag)",
    labelNames: ["partition"] as const,
    registers: [registry],
    async collect() {
      const jsm = sources.jsm();
      if (!jsm) return;
      const partitions = sources.owned();
      const backlogs = await bounded(
        Promise.all(
          partitions.map(async (partition) => {
            const info = await jsm.consumers.info(INGEST_STREAM, sequencerConsumerName(partition));
            return [partition, info.num_pending + info.num_ack_pending] as const;
          }),
        ),
      );
      if (!backlogs) return;
      // Partitions handed over since the last scrape are no longer this instance's to report.
      this.reset();
      for (const [partition, backlog] of backlogs) this.set({ partition: String(partition) }, backlog);
    },
  });
  new Gauge({
    name: "heliograph_sequencer_ingest_messages",
    help: "Messages in INGEST: accepted publishes not numbered yet, on every partition (the same on every sequencer)",
    registers: [registry],
    async collect() {
      const jsm = sources.jsm();
      if (!jsm) return;
      const info = await bounded(jsm.streams.info(INGEST_STREAM));
      if (info) this.set(info.state.messages);
    },
  });
  new Gauge({
    name: "heliograph_sequencer_halted_streams",
    help: "Streams halted now, waiting for an operator (the same on every sequencer)",
    registers: [registry],
    async collect() {
      const halted = await bounded(sources.redis.scard(haltedStreamsKey));
      if (halted !== undefined) this.set(halted);
    },
  });
}

/** The value, or undefined when it failed or took longer than a scrape should wait. */
async function bounded<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), COLLECT_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

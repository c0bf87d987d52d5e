import { type SequencedNotice, sequencedSubject } from "@heliograph/contracts";
import type { Logger } from "@heliograph/platform";
import type { NatsConnection } from "@nats-io/nats-core";
import { type EventsWriter, type Publication, RecordConflictError } from "./events-writer.js";
import type { SequencerMetrics } from "./metrics.js";
import { retryWithBackoff } from "./retry.js";

export type { Publication } from "./events-writer.js";

export interface PublishingDeps {
  nc: NatsConnection;
  /** EVENTS, conditionally (one per process: its tips and its fallback to one publish per stream span the partitions). */
  writer: EventsWriter;
  log: Logger;
  metrics: SequencerMetrics;
  /** The worker is stopping: a failed publish is given up rather than retried. */
  stopping(): boolean;
}

/** Puts one partition's numbered events on EVENTS and tells the gateways what was numbered. */
export class EventPublishing {
  constructor(
    private readonly partition: number,
    private readonly deps: PublishingDeps,
  ) {}

  /**
   * Writes the events to EVENTS, retrying what failed for now (the record skips what it holds).
   * False when given up while stopping; throws RecordConflictError for streams the record
   * disagrees with (the caller verifies them before anything of them is acked).
   */
  async publishAll(publications: Publication[]): Promise<boolean> {
    const { writer, log, metrics, stopping } = this.deps;
    if (publications.length === 0) return true;
    const published = await retryWithBackoff(() => writer.write(publications), {
      operation: "publish",
      log,
      metrics,
      message: "EVENTS publish failed; retrying",
      fields: () => ({ events: publications.length }),
      isFatal: (err) => err instanceof RecordConflictError,
      // Numbered in Redis already: whoever gets these messages next republishes the stored text.
      stopping,
      stoppingMessage: "EVENTS publish failed while stopping",
    });
    return published.ok;
  }
  /** Tells the gateways (201 waits) what was numbered. */
  announce(publications: Publication[]): void {
    if (publications.length === 0) return;
    const notice: SequencedNotice = publications.map((p) => [p.ingestId, p.streamId, p.eventNumber]);
    try {
      this.deps.nc.publish(sequencedSubject(this.partition), JSON.stringify(notice));
    } catch (err) {
      // Best effort: a waiting publisher that misses it falls back to its status lookup.
      this.deps.log.warn({ err }, "could not publish the sequenced notice");
    }
  }
}

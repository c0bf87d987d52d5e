import {
  eventMsgId,
  eventsSubject,
  type SequencedNotice,
  type StreamId,
  sequencedSubject,
} from "@heliograph/contracts";
import type { JetStreamPublisher, Logger } from "@heliograph/platform";
import type { NatsConnection } from "@nats-io/nats-core";
import type { SequencerMetrics } from "./metrics.js";
import { retryWithBackoff } from "./retry.js";

/** A numbered event on its way to EVENTS, as the step stored it. */
export interface Publication {
  streamId: StreamId;
  eventNumber: number;
  text: string;
  ingestId: string;
}

export interface PublishingDeps {
  nc: NatsConnection;
  /** EVENTS publishes: PubAcks on one subscription, not a request each. */
  publisher: JetStreamPublisher;
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
   * Publishes without waiting one before the next; retries the failed ones with their same msgID
   * (JetStream drops a repeat). False when given up while stopping.
   */
  async publishAll(publications: Publication[]): Promise<boolean> {
    const { publisher, log, metrics, stopping } = this.deps;
    let pending = publications;
    if (pending.length === 0) return true;
    const published = await retryWithBackoff(
      async () => {
        const results = await Promise.allSettled(
          pending.map((p) =>
            publisher.publish(eventsSubject(p.streamId), p.text, eventMsgId(p.streamId, p.eventNumber)),
          ),
        );
        const failed = pending.filter((_, i) => results[i]!.status === "rejected");
        if (failed.length === 0) return;
        pending = failed;
        throw results.find((result) => result.status === "rejected")!.reason;
      },
      {
        operation: "publish",
        log,
        metrics,
        message: "EVENTS publish failed; retrying",
        fields: () => ({ failed: pending.length }),
        // Numbered in Redis already: whoever gets these messages next republishes the stored text.
        stopping,
        stoppingMessage: "EVENTS publish failed while stopping",
      },
    );
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

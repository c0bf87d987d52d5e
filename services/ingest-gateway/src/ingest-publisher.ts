import { HeliographError, type IngestMessage, ingestSubject, partitionOf } from "@heliograph/contracts";
import {
  Counter,
  Histogram,
  JetStreamPublisher,
  type Logger,
  type PublishAck,
  type Registry,
} from "@heliograph/platform";
import type { NatsConnection } from "@nats-io/nats-core";

export interface IngestPublisherOptions {
  partitions: number;
  timeoutMs: number;
  metrics: Registry;
  log: Logger;
}

/**
 * Stores validated publishes in the INGEST stream. A publish counts only once JetStream answers
 * its PubAck; anything else (timeout, no responders, stream full, connection closed) is a 503 the
 * client retries, never a silent drop.
 */
export class IngestPublisher {
  private readonly js: JetStreamPublisher;
  private readonly log: Logger;
  private readonly outcomes: Counter<"event_type" | "outcome">;
  private readonly duration: Histogram<"outcome">;
  /**
   * False between a disconnect and the reconnect. The client would buffer a publish meanwhile and
   * could deliver it after we answered 503; refusing at once avoids that and a client waiting
   * PUBLISH_TIMEOUT_MS for nothing.
   */
  private connected = true;

  constructor(
    nc: NatsConnection,
    private readonly options: IngestPublisherOptions,
  ) {
    this.js = new JetStreamPublisher(nc, options.timeoutMs);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.connected = false;
        else if (status.type === "reconnect") this.connected = true;
      }
    })();
    this.log = options.log.child({ component: "ingest-publisher" });
    this.outcomes = new Counter({
      name: "heliograph_ingest_publishes_total",
      help: "Publishes to INGEST by event type and outcome (stored, duplicate, failed)",
      labelNames: ["event_type", "outcome"] as const,
      registers: [options.metrics],
    });
    this.duration = new Histogram({
      name: "heliograph_ingest_publish_duration_seconds",
      help: "Time from publish to PubAck",
      labelNames: ["outcome"] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: [options.metrics],
    });
  }

  private turn: Promise<void> | undefined;

  /**
   * Resolves once the requests read in this turn of the event loop are all handled (setImmediate),
   * so their publishes go to NATS in one socket write rather than one each: a write to NATS costs
   * the gateway more CPU than anything else in a publish. ioredis batches its commands the same way.
   */
  private sendTurn(): Promise<void> {
    this.turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        resolve();
      }),
    );
    return this.turn;
  }

  subjectOf(streamId: string): string {
    return ingestSubject(partitionOf(streamId, this.options.partitions), streamId);
  }

  async publish(message: IngestMessage): Promise<PublishAck> {
    const subject = this.subjectOf(message.stream_id);
    const started = performance.now();
    // Outside the try: a message that cannot be serialised is a bug in the caller, never a 503
    // that would have a client retry forever.
    const payload = JSON.stringify(message);
    try {
      await this.sendTurn();
      if (!this.connected) throw new Error("not connected to NATS (reconnecting)");
      const ack = await this.js.publish(subject, payload, message.ingest_id);
      const outcome = ack.duplicate ? "duplicate" : "stored";
      this.outcomes.inc({ event_type: message.event_type, outcome });
      this.duration.observe({ outcome }, (performance.now() - started) / 1000);
      return ack;
    } catch (err) {
      this.outcomes.inc({ event_type: message.event_type, outcome: "failed" });
      this.duration.observe({ outcome: "failed" }, (performance.now() - started) / 1000);
      this.log.error(
        { err, ingest_id: message.ingest_id, stream_id: message.stream_id, subject },
        "publish to INGEST failed; answering 503",
      );
      throw new HeliographError("INGEST_UNAVAILABLE", { cause: err, retryAfter: 1 });
    }
  }
}

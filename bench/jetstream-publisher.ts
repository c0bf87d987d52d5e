/**
 * Child: publishes `count` messages to JetStream from one Node process with `inFlight` PubAcks
 * outstanding, never awaiting one publish before sending the next (R1, and the backlog of B5).
 */
import { type IngestMessage, ingestSubject, partitionOf } from "@heliograph/contracts";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";
import { rawMessage } from "./raw-message.js";

export interface PublisherInput {
  /** nats.js connect options: servers and the credentials (`connectOptions()` of the server handle). */
  nats: { servers: string[]; user?: string; pass?: string; inboxPrefix?: string };
  count: number;
  inFlight: number;
  /**
   * `raw`: ~300-byte JSON to `subject`; `ingest`: IngestMessage JSON to `ingest.<p>.<streamId>`, or
   * round-robin over `streamIds` when given (B6).
   */
  mode: "raw" | "ingest";
  subject?: string;
  streamId?: string;
  streamIds?: string[];
  publisherId?: string;
  idPrefix: string;
  partitions?: number;
  timeLimitMs: number;
}

export interface PublisherResult {
  published: number;
  failed: number;
  elapsedMs: number;
  perSecond: number;
  bytesPerMessage: number;
}

childMain<PublisherInput, PublisherResult>(async (input) => {
  const nc = await connect({ ...input.nats, name: "bench-publisher" });
  const js = jetstream(nc);
  // Raw mode publishes to one subject and names no stream.
  const streamIds = input.mode === "raw" ? [] : (input.streamIds ?? [input.streamId!]);
  const subjects = streamIds.map((sid) => ingestSubject(partitionOf(sid, input.partitions), sid));
  const subject = (i: number) => (input.mode === "raw" ? input.subject! : subjects[i % subjects.length]!);
  const receivedAt = new Date().toISOString();
  const payload = (i: number): string => {
    if (input.mode === "raw") return rawMessage(i);
    const ingestId = `${input.idPrefix}${i}`;
    const message: IngestMessage = {
      ingest_id: ingestId,
      stream_id: streamIds[i % streamIds.length]!,
      publisher_id: input.publisherId!,
      event_type: "TradingSignalCreated",
      data: {
        id: ingestId,
        timestamp: receivedAt,
        ticker_symbol: "AAPL",
        order_type: "market",
        portfolio_ratio_investment: 0.01,
        side: "buy",
        time_in_force: "gtc",
      },
      received_at: receivedAt,
    };
    return JSON.stringify(message);
  };
  const bytesPerMessage = Buffer.byteLength(payload(0));
  let published = 0;
  let failed = 0;
  let next = 0;
  const started = nowMs();
  const deadline = started + input.timeLimitMs;
  await new Promise<void>((resolve) => {
    let outstanding = 0;
    const pump = () => {
      while (outstanding < input.inFlight && next < input.count && nowMs() < deadline) {
        const i = next++;
        outstanding++;
        js.publish(subject(i), payload(i), { msgID: `${input.idPrefix}${i}`, timeout: 30_000 }).then(
          () => {
            published++;
            outstanding--;
            pump();
          },
          () => {
            failed++;
            outstanding--;
            pump();
          },
        );
      }
      if (outstanding === 0) resolve();
    };
    pump();
  });
  const elapsedMs = nowMs() - started;
  await nc.drain();
  return { published, failed, elapsedMs, perSecond: (published / elapsedMs) * 1000, bytesPerMessage };
});

import { EVENTS_STREAM, streamIdOfSubject } from "@heliograph/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StreamRead } from "./feeds.js";
import type { LedgerEvent } from "./ledger.js";

/**
 * Every event of the EVENTS stream by Heliograph stream, in JetStream order, with each message's
 * payload as stored: what downstream services see. (One unfiltered ordered consumer: nats-server
 * 2.9 has no filter_subjects.)
 */
export async function readEventsFeed(nc: NatsConnection): Promise<Record<string, StreamRead>> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(EVENTS_STREAM)).state.messages;
  const byStream: Record<string, StreamRead> = {};
  if (total === 0) return byStream;
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM);
  let read = 0;
  while (read < total) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      const streamId = streamIdOfSubject(m.subject);
      const feed = byStream[streamId] ?? { events: [], texts: [] };
      const text = m.string();
      feed.events.push(JSON.parse(text) as LedgerEvent);
      feed.texts.push(text);
      byStream[streamId] = feed;
      got++;
    }
    read += got;
    if (got === 0) throw new Error(`EVENTS: read ${read} of ${total} messages`);
  }
  return byStream;
}

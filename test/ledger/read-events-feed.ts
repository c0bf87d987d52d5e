import { EVENTS_STREAM, streamIdOfSubject } from "@heliograph/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StreamRead } from "./feeds.js";
import type { LedgerEvent } from "./ledger.js";

/**
 * Every event of the EVENTS stream by Heliograph stream, in JetStream order, with each message's
 * payload as stored: what downstream services see. (One unfiltered ordered consumer: nats-server
 * 2.9 has no filter_subjects.)
 *
 * What was read is checked against nats-server's own count of messages per subject: a gap that
 * the consumer made (a message it skipped) fails here, so the ledger's gaps are EVENTS' own.
 */
export async function readEventsFeed(nc: NatsConnection): Promise<Record<string, StreamRead>> {
  const jsm = await jetstreamManager(nc);
  const before = (await jsm.streams.info(EVENTS_STREAM, { subjects_filter: ">" })).state;
  const total = before.messages;
  const byStream: Record<string, StreamRead> = {};
  if (total === 0) return byStream;
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM);
  const perSubject = new Map<string, number>();
  let read = 0;
  while (read < total) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      // Only what the count above covers: a message stored since is not in it.
      if (m.seq > before.last_seq) continue;
      const streamId = streamIdOfSubject(m.subject);
      const feed = byStream[streamId] ?? { events: [], texts: [] };
      const text = m.string();
      feed.events.push(JSON.parse(text) as LedgerEvent);
      feed.texts.push(text);
      byStream[streamId] = feed;
      perSubject.set(m.subject, (perSubject.get(m.subject) ?? 0) + 1);
      got++;
    }
    read += got;
    if (got === 0) throw new Error(`EVENTS: read ${read} of ${total} messages`);
  }
  // Retention may have removed messages meanwhile (a limited EVENTS): then the counts differ rightly.
  const after = (await jsm.streams.info(EVENTS_STREAM)).state;
  if (after.first_seq === before.first_seq) {
    const skipped = Object.entries(before.subjects ?? {})
      .map(([subject, count]) => ({ subject, stored: count, read: perSubject.get(subject) ?? 0 }))
      .filter((s) => s.read !== s.stored);
    if (skipped.length > 0)
      throw new Error(`the EVENTS consumer did not read what nats-server holds: ${JSON.stringify(skipped)}`);
  }
  return byStream;
}

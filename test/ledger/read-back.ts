import type { NatsConnection } from "@nats-io/transport-node";
import { compareFeeds, type FeedComparison, type StreamRead } from "./feeds.js";
import { checkLedger, type LedgerEvent, type LedgerReport, type PublishRecord } from "./ledger.js";
import { readEventsFeed } from "./read-events-feed.js";
import { readWholeStream } from "./read-stream.js";

export interface ReadBackReport {
  /** The ledger over what HTTP serves. */
  http: LedgerReport;
  /** The ledger over what EVENTS holds. */
  events: LedgerReport;
  /** HTTP against EVENTS, event for event. */
  feeds: FeedComparison;
  /** What was read, by stream. */
  reads: { http: Record<string, StreamRead>; events: Record<string, StreamRead> };
  /**
   * What the services said about these streams (and every error they logged), for a failure
   * message: a fault that breaks the record once in a hundred runs must explain itself the first time.
   */
  serviceLog?: (streamIds: string[]) => string;
}

/**
 * Reads every stream the publishes went to back over HTTP and from EVENTS, checks the ledger on
 * each, and compares the two event for event: a fault test's finish once everything is numbered.
 */
export async function readBackAndCheck(options: {
  nc: NatsConnection;
  streamUrl: string;
  token: string;
  streamIds: string[];
  publishes: PublishRecord[];
}): Promise<ReadBackReport> {
  const feed = await readEventsFeed(options.nc);
  const httpReads: Record<string, StreamRead> = {};
  const feedReads: Record<string, StreamRead> = {};
  for (const streamId of options.streamIds) {
    httpReads[streamId] = await readWholeStream(options.streamUrl, options.token, streamId);
    feedReads[streamId] = feed[streamId] ?? { events: [], texts: [] };
  }
  const eventsOf = (reads: Record<string, StreamRead>) =>
    Object.fromEntries(Object.entries(reads).map(([id, r]) => [id, r.events])) as Record<string, LedgerEvent[]>;
  return {
    http: checkLedger({ publishes: options.publishes, streams: eventsOf(httpReads) }),
    events: checkLedger({ publishes: options.publishes, streams: eventsOf(feedReads) }),
    feeds: compareFeeds(httpReads, feedReads),
    reads: { http: httpReads, events: feedReads },
  };
}

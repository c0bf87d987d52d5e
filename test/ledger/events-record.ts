import type { NatsConnection } from "@nats-io/transport-node";
import { compareFeeds, describeDifference, type FeedDifference, type StreamRead } from "./feeds.js";
import { compactRanges } from "./ledger.js";
import { readEventsFeed } from "./read-events-feed.js";
import { readWholeStream } from "./read-stream.js";

/**
 * What a downstream reader of `events.<stream_id>` may rely on (docs/architecture.md, promise 2):
 * in JetStream order, the subject holds events 0, 1, …, n, each once. A reader that sees n after
 * n+1, or n twice, has to know Heliograph's numbering to cope; the promise is that it never must.
 */
export type RecordProblem =
  /** Event `eventNumber` is stored `count` times, at these positions of the subject. */
  | { kind: "duplicate"; streamId: string; eventNumber: number; positions: number[] }
  /** The message at `position` of the subject is not event `position`. */
  | { kind: "out-of-order"; streamId: string; position: number; eventNumber: number; previous: number | undefined }
  /** Numbers below the highest one that the subject does not hold. */
  | { kind: "gap"; streamId: string; missing: number[] }
  /** The stream could not be read in full over HTTP. */
  | { kind: "http-read-failed"; streamId: string; error: string }
  /** HTTP and EVENTS differ (count, or an event's number, type, data or text). */
  | { kind: "differs-from-http"; difference: FeedDifference };

export interface EventsRecordReport {
  problems: RecordProblem[];
  /** Messages per subject's stream id, as read from EVENTS. */
  counts: Record<string, number>;
  /** One line per problem (the first `limit`), then the counts. */
  describe(limit?: number): string;
}

const HTTP_DIFFERENCES_PER_STREAM = 3;

/** Positions that break the 0..n sequence of each subject: duplicates, reorders, gaps. Pure. */
export function checkRecordOrder(feed: Record<string, StreamRead>): RecordProblem[] {
  const problems: RecordProblem[] = [];
  for (const [streamId, read] of Object.entries(feed)) {
    const positions = new Map<number, number[]>();
    let max = -1;
    // Only where the sequence breaks, not every position after it: one reorder is one problem.
    read.events.forEach((event, position) => {
      const n = event.event_number;
      positions.set(n, [...(positions.get(n) ?? []), position]);
      const previous = read.events[position - 1]?.event_number;
      if (n !== (previous ?? -1) + 1)
        problems.push({ kind: "out-of-order", streamId, position, eventNumber: n, previous });
      max = Math.max(max, n);
    });
    for (const [eventNumber, at] of positions)
      if (at.length > 1) problems.push({ kind: "duplicate", streamId, eventNumber, positions: at });
    const missing: number[] = [];
    for (let n = 0; n <= max; n++) if (!positions.has(n)) missing.push(n);
    if (missing.length > 0) problems.push({ kind: "gap", streamId, missing });
  }
  return problems;
}

/**
 * Reads all of EVENTS with a plain JetStream consumer (what a downstream service does) and checks
 * every subject: 0..n in JetStream order, no duplicate, no gap; then reads each of those streams
 * (and `streamIds`) in full over HTTP and compares the two event for event, byte for byte.
 * The token must be entitled to every stream EVENTS holds.
 */
export async function checkEventsRecord(options: {
  nc: NatsConnection;
  streamUrl: string;
  token: string;
  streamIds?: string[];
}): Promise<EventsRecordReport> {
  const feed = await readEventsFeed(options.nc);
  const problems = checkRecordOrder(feed);
  const http: Record<string, StreamRead> = {};
  const events: Record<string, StreamRead> = {};
  for (const streamId of new Set([...Object.keys(feed), ...(options.streamIds ?? [])])) {
    try {
      http[streamId] = await readWholeStream(options.streamUrl, options.token, streamId);
      events[streamId] = feed[streamId] ?? { events: [], texts: [] };
    } catch (err) {
      problems.push({ kind: "http-read-failed", streamId, error: (err as Error).message });
    }
  }
  // One misplaced message shifts every position after it: the first few differences say enough.
  const shown = new Map<string, number>();
  for (const difference of compareFeeds(http, events).differences) {
    const count = shown.get(difference.streamId) ?? 0;
    shown.set(difference.streamId, count + 1);
    if (count < HTTP_DIFFERENCES_PER_STREAM) problems.push({ kind: "differs-from-http", difference });
  }
  const counts = Object.fromEntries(Object.entries(feed).map(([id, read]) => [id, read.events.length]));
  return {
    problems,
    counts,
    describe: (limit = 40) => {
      const lines = describeRecordProblems(problems);
      if (lines.length > limit) lines.splice(limit, lines.length - limit, `… and ${lines.length - limit} more`);
      lines.push(`EVENTS messages per stream: ${JSON.stringify(counts)}`);
      return lines.join("\n");
    },
  };
}

export function describeRecordProblem(p: RecordProblem): string {
  switch (p.kind) {
    case "duplicate":
      return `DUPLICATE: events.${p.streamId} holds event ${p.eventNumber} ${p.positions.length} times (positions ${p.positions.join(", ")})`;
    case "out-of-order":
      return `OUT OF ORDER: events.${p.streamId} position ${p.position} holds event ${p.eventNumber}, after ${p.previous ?? "nothing"}`;
    case "gap":
      return `GAP: events.${p.streamId} has no event ${compactRanges(p.missing)}`;
    case "http-read-failed":
      return `HTTP READ FAILED: ${p.streamId}: ${p.error.slice(0, 300)}`;
    case "differs-from-http":
      return describeDifference(p.difference);
  }
}

/** One line per problem, except that duplicates of consecutive numbers (a batch stored again) share one. */
export function describeRecordProblems(problems: RecordProblem[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i] as RecordProblem;
    if (p.kind !== "duplicate") {
      lines.push(describeRecordProblem(p));
      continue;
    }
    let j = i;
    for (;;) {
      const next = problems[j + 1];
      const current = problems[j] as typeof p;
      if (
        next?.kind !== "duplicate" ||
        next.streamId !== p.streamId ||
        next.eventNumber !== current.eventNumber + 1 ||
        next.positions.length !== p.positions.length
      )
        break;
      j++;
    }
    if (j === i) lines.push(describeRecordProblem(p));
    else {
      const last = problems[j] as typeof p;
      lines.push(
        `DUPLICATE: events.${p.streamId} holds each of events ${p.eventNumber}..${last.eventNumber} ${p.positions.length} times ` +
          `(event ${p.eventNumber} at positions ${p.positions.join(", ")})`,
      );
    }
    i = j;
  }
  return lines;
}

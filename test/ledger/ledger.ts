/**
 * The ledger check: given every publish a load generator made (its Idempotency-Key, every attempt
 * and answer) and the full content of the streams read back over HTTP, it proves promises 1–3 of
 * docs/architecture.md or names each violation precisely (which key, which stream, which numbers).
 *
 * What it proves, per stream:
 * - numbers are 0..n-1 with no gap and no duplicate (promise 2);
 * - every publish answered 2xx appears exactly once (promise 1), and a publish never answered 2xx
 *   appears at most once (it may have been stored before its answer was lost);
 * - every retry of one key made one event and got the same answer (promise 3);
 * - events follow the order of first 2xx acceptance (promise 2).
 *
 * Why "order of first 2xx acceptance" is the JetStream order: the load generator runs one
 * sequential client per stream, which does not send publish k+1 before publish k was answered 2xx
 * (or given up). The ingest gateway answers 2xx only after JetStream's PubAck, i.e. once the
 * message is stored in INGEST. So every accepted publish was stored before the next one was even
 * sent, and the order in which JetStream stored the accepted publishes of a stream is exactly the
 * order of their first 2xx. A retry that lands as a duplicate (same Nats-Msg-Id, same ingest id)
 * does not move the publish: the first stored copy is the one that counts. A publish the client
 * gave up on may be stored late, after later ones; the promise does not cover it, so it is left
 * out of the order check (but still may appear at most once).
 */

/** One HTTP attempt of a publish. */
export interface Attempt {
  /** Milliseconds on the load generator's clock. */
  startedAt: number;
  endedAt: number;
  /** HTTP status; absent when there was no answer (timeout, connection refused or reset). */
  status?: number;
  /** Why there was no answer: "timeout" or the network error. */
  error?: string;
  /** The parsed answer body, when there was one. */
  body?: unknown;
}

/** One logical publish: one Idempotency-Key, retried until a 2xx or a deadline. */
export interface PublishRecord {
  /** The Idempotency-Key every attempt carried. */
  key: string;
  streamId: string;
  /** A value unique to this publish that its event carries (the load generator's ticker_symbol). */
  marker: string;
  /** Position in the order the (sequential) client issued its publishes. */
  clientSeq: number;
  attempts: Attempt[];
  /** When the first 2xx arrived; undefined when none did. */
  acceptedAt?: number;
}

/** An event as read back over HTTP (only what the check needs). */
export interface LedgerEvent {
  event_number: number;
  event_type?: string;
  data: Record<string, unknown>;
}

export interface LedgerInput {
  publishes: PublishRecord[];
  /** Every event of every stream the publishes went to, in the order the reads returned them. */
  streams: Record<string, LedgerEvent[]>;
  /** Where an event keeps the publish's marker; `data.ticker_symbol` by default. */
  markerOf?: (event: LedgerEvent) => string | undefined;
  /** Error statuses a publish may get under faults (retried); any other is a violation. Default [503]. */
  retryableStatuses?: number[];
}

export type Violation =
  | { kind: "lost"; key: string; streamId: string }
  | { kind: "duplicated"; key: string; streamId: string; eventNumbers: number[] }
  | { kind: "gap"; streamId: string; missing: number[] }
  | { kind: "repeated-number"; streamId: string; eventNumber: number; count: number }
  | { kind: "unsorted"; streamId: string; position: number; eventNumber: number; previous: number }
  | {
      kind: "reordered";
      streamId: string;
      key: string;
      eventNumber: number;
      acceptedBefore: { key: string; eventNumber: number };
    }
  | { kind: "unknown-event"; streamId: string; eventNumber: number; marker: string | undefined }
  | { kind: "wrong-stream"; key: string; expected: string; actual: string; eventNumber: number }
  | { kind: "answers-differ"; key: string; ids: string[] }
  | { kind: "id-mismatch"; key: string; eventNumber: number; answerId: string; eventId: unknown }
  | { kind: "unexpected-answer"; key: string; attempt: number; status: number; body: unknown }
  | { kind: "missing-stream"; streamId: string };

export interface LedgerSummary {
  publishes: number;
  accepted: number;
  /** Never answered 2xx before the deadline. */
  unresolved: number;
  /** Unresolved publishes that were stored anyway (allowed, at most once). */
  unresolvedStored: number;
  attempts: number;
  /** Attempts per outcome: "202", "503", "timeout", "ECONNREFUSED", ... */
  outcomes: Record<string, number>;
  events: Record<string, number>;
}

export interface LedgerReport {
  ok: boolean;
  violations: Violation[];
  summary: LedgerSummary;
  /** One line per violation (the first `limit`), then the summary: for an assertion message. */
  describe(limit?: number): string;
}

const defaultMarkerOf = (event: LedgerEvent): string | undefined => {
  const marker = event.data?.ticker_symbol;
  return typeof marker === "string" ? marker : undefined;
};

const is2xx = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

function answerId(body: unknown): string | undefined {
  const id = (body as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? id : undefined;
}

function isErrorBody(body: unknown): boolean {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof error.code === "string" &&
    typeof error.message === "string" &&
    Array.isArray(error.details)
  );
}

export function checkLedger(input: LedgerInput): LedgerReport {
  const markerOf = input.markerOf ?? defaultMarkerOf;
  const retryable = new Set(input.retryableStatuses ?? [503]);
  const violations: Violation[] = [];
  const outcomes: Record<string, number> = {};

  const byMarker = new Map<string, PublishRecord>();
  for (const p of input.publishes) byMarker.set(p.marker, p);

  // Answers: every error is retryable with the error body, and every 2xx of one key names one id.
  for (const p of input.publishes) {
    const ids = new Set<string>();
    p.attempts.forEach((a, i) => {
      const outcome = a.status !== undefined ? String(a.status) : (a.error ?? "no answer");
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (a.status === undefined) return;
      if (is2xx(a.status)) {
        const id = answerId(a.body);
        if (id !== undefined) ids.add(id);
        return;
      }
      if (!retryable.has(a.status) || !isErrorBody(a.body)) {
        violations.push({ kind: "unexpected-answer", key: p.key, attempt: i, status: a.status, body: a.body });
      }
    });
    if (ids.size > 1) violations.push({ kind: "answers-differ", key: p.key, ids: [...ids] });
  }

  // Where each publish's events are.
  const found = new Map<PublishRecord, { streamId: string; event: LedgerEvent }[]>();
  const eventCounts: Record<string, number> = {};
  const streamIds = new Set([...Object.keys(input.streams), ...input.publishes.map((p) => p.streamId)]);
  for (const streamId of streamIds) {
    const events = input.streams[streamId];
    if (events === undefined) {
      violations.push({ kind: "missing-stream", streamId });
      continue;
    }
    eventCounts[streamId] = events.length;
    checkNumbers(streamId, events, violations);
    for (const event of events) {
      const marker = markerOf(event);
      const publish = marker === undefined ? undefined : byMarker.get(marker);
      if (!publish) {
        violations.push({ kind: "unknown-event", streamId, eventNumber: event.event_number, marker });
        continue;
      }
      if (publish.streamId !== streamId) {
        violations.push({
          kind: "wrong-stream",
          key: publish.key,
          expected: publish.streamId,
          actual: streamId,
          eventNumber: event.event_number,
        });
      }
      const list = found.get(publish) ?? [];
      list.push({ streamId, event });
      found.set(publish, list);
    }
  }

  let accepted = 0;
  let unresolved = 0;
  let unresolvedStored = 0;
  for (const p of input.publishes) {
    const copies = found.get(p) ?? [];
    const wasAccepted = p.attempts.some((a) => is2xx(a.status));
    if (wasAccepted) accepted++;
    else unresolved++;
    if (copies.length === 0 && wasAccepted) violations.push({ kind: "lost", key: p.key, streamId: p.streamId });
    if (copies.length > 1) {
      violations.push({
        kind: "duplicated",
        key: p.key,
        streamId: p.streamId,
        eventNumbers: copies.map((c) => c.event.event_number),
      });
    }
    if (copies.length > 0 && !wasAccepted) unresolvedStored++;
    const firstOk = p.attempts.find((a) => is2xx(a.status));
    const id = firstOk ? answerId(firstOk.body) : undefined;
    for (const copy of copies) {
      if (id !== undefined && copy.event.data?.id !== id) {
        violations.push({
          kind: "id-mismatch",
          key: p.key,
          eventNumber: copy.event.event_number,
          answerId: id,
          eventId: copy.event.data?.id,
        });
      }
    }
  }

  // Order: per stream, accepted publishes by first 2xx must carry increasing event numbers.
  const acceptedByStream = new Map<string, PublishRecord[]>();
  for (const p of input.publishes) {
    if (p.acceptedAt === undefined && !p.attempts.some((a) => is2xx(a.status))) continue;
    const list = acceptedByStream.get(p.streamId) ?? [];
    list.push(p);
    acceptedByStream.set(p.streamId, list);
  }
  for (const [streamId, list] of acceptedByStream) {
    list.sort((a, b) => firstAcceptance(a) - firstAcceptance(b) || a.clientSeq - b.clientSeq);
    let previous: { key: string; eventNumber: number } | undefined;
    for (const p of list) {
      const copies = (found.get(p) ?? []).filter((c) => c.streamId === streamId);
      if (copies.length !== 1) continue; // lost or duplicated: reported above
      const eventNumber = (copies[0] as { event: LedgerEvent }).event.event_number;
      if (previous && eventNumber <= previous.eventNumber) {
        violations.push({ kind: "reordered", streamId, key: p.key, eventNumber, acceptedBefore: previous });
      }
      previous = { key: p.key, eventNumber };
    }
  }

  const summary: LedgerSummary = {
    publishes: input.publishes.length,
    accepted,
    unresolved,
    unresolvedStored,
    attempts: input.publishes.reduce((n, p) => n + p.attempts.length, 0),
    outcomes,
    events: eventCounts,
  };
  return {
    ok: violations.length === 0,
    violations,
    summary,
    describe: (limit = 40) => describeReport(violations, summary, limit),
  };
}

function firstAcceptance(p: PublishRecord): number {
  if (p.acceptedAt !== undefined) return p.acceptedAt;
  return p.attempts.find((a) => is2xx(a.status))?.endedAt ?? Number.POSITIVE_INFINITY;
}

function checkNumbers(streamId: string, events: LedgerEvent[], violations: Violation[]): void {
  const counts = new Map<number, number>();
  let max = -1;
  events.forEach((e, i) => {
    counts.set(e.event_number, (counts.get(e.event_number) ?? 0) + 1);
    max = Math.max(max, e.event_number);
    const previous = events[i - 1];
    if (previous && e.event_number <= previous.event_number) {
      violations.push({
        kind: "unsorted",
        streamId,
        position: i,
        eventNumber: e.event_number,
        previous: previous.event_number,
      });
    }
  });
  for (const [eventNumber, count] of counts) {
    if (count > 1) violations.push({ kind: "repeated-number", streamId, eventNumber, count });
  }
  const missing: number[] = [];
  for (let n = 0; n <= max; n++) if (!counts.has(n)) missing.push(n);
  if (missing.length > 0) violations.push({ kind: "gap", streamId, missing });
}

export function describeViolation(v: Violation): string {
  switch (v.kind) {
    case "lost":
      return `LOST: key ${v.key} was answered 2xx but no event in ${v.streamId} carries it`;
    case "duplicated":
      return `DUPLICATED: key ${v.key} appears ${v.eventNumbers.length} times in ${v.streamId}, as events ${v.eventNumbers.join(", ")}`;
    case "gap":
      return `GAP: ${v.streamId} has no event number ${compactRanges(v.missing)}`;
    case "repeated-number":
      return `REPEATED NUMBER: ${v.streamId} has event number ${v.eventNumber} ${v.count} times`;
    case "unsorted":
      return `UNSORTED: ${v.streamId} position ${v.position} holds event ${v.eventNumber} after event ${v.previous}`;
    case "reordered":
      return (
        `REORDERED: in ${v.streamId}, key ${v.key} is event ${v.eventNumber} but key ${v.acceptedBefore.key}, ` +
        `accepted before it, is event ${v.acceptedBefore.eventNumber}`
      );
    case "unknown-event":
      return `UNKNOWN EVENT: ${v.streamId} event ${v.eventNumber} (marker ${JSON.stringify(v.marker)}) matches no publish`;
    case "wrong-stream":
      return `WRONG STREAM: key ${v.key} was published to ${v.expected} but is event ${v.eventNumber} of ${v.actual}`;
    case "answers-differ":
      return `ANSWERS DIFFER: retries of key ${v.key} were answered with ids ${v.ids.join(", ")}`;
    case "id-mismatch":
      return `ID MISMATCH: key ${v.key} was answered id ${v.answerId} but its event ${v.eventNumber} has data.id ${JSON.stringify(v.eventId)}`;
    case "unexpected-answer":
      return `UNEXPECTED ANSWER: key ${v.key} attempt ${v.attempt} got ${v.status} ${JSON.stringify(v.body)?.slice(0, 300)}`;
    case "missing-stream":
      return `MISSING STREAM: ${v.streamId} was published to but not read back`;
  }
}

function describeReport(violations: Violation[], summary: LedgerSummary, limit: number): string {
  const lines = violations.slice(0, limit).map(describeViolation);
  if (violations.length > limit) lines.push(`… and ${violations.length - limit} more violations`);
  lines.push(`summary: ${JSON.stringify(summary)}`);
  return lines.join("\n");
}

/** `[3,4,5,9]` → `"3..5, 9"`. */
export function compactRanges(numbers: number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

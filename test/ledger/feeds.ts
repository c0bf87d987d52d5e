import type { LedgerEvent } from "./ledger.js";

/** One stream as a reader received it: the parsed events and, position for position, each event's own JSON text. */
export interface StreamRead {
  events: LedgerEvent[];
  texts: string[];
}

export type FeedDifference =
  | { kind: "missing-stream"; streamId: string; missingFrom: "http" | "events" }
  | { kind: "length"; streamId: string; http: number; events: number }
  | {
      kind: "event";
      streamId: string;
      position: number;
      /** The first thing that differs: a field, or (the fields being equal) the JSON text itself. */
      field: "event_number" | "event_type" | "data" | "text";
      http: string;
      events: string;
    };

export interface FeedComparison {
  ok: boolean;
  differences: FeedDifference[];
  /** Events compared per stream. */
  compared: Record<string, number>;
  describe(limit?: number): string;
}

/**
 * What HTTP serves against what EVENTS holds, event for event: the same count per stream and, at
 * every position, the same event_number, event_type and data, and the byte-identical JSON text
 * (the event is serialised once, by the sequencer; every reader must get exactly that text).
 */
export function compareFeeds(http: Record<string, StreamRead>, events: Record<string, StreamRead>): FeedComparison {
  const differences: FeedDifference[] = [];
  const compared: Record<string, number> = {};
  for (const streamId of new Set([...Object.keys(http), ...Object.keys(events)])) {
    const a = http[streamId];
    const b = events[streamId];
    if (!a || !b) {
      differences.push({ kind: "missing-stream", streamId, missingFrom: a ? "events" : "http" });
      continue;
    }
    if (a.events.length !== b.events.length)
      differences.push({ kind: "length", streamId, http: a.events.length, events: b.events.length });
    const n = Math.min(a.events.length, b.events.length);
    compared[streamId] = n;
    for (let i = 0; i < n; i++) {
      const difference = compareEvent(a.events[i] as LedgerEvent, b.events[i] as LedgerEvent, a.texts[i], b.texts[i]);
      if (difference) differences.push({ kind: "event", streamId, position: i, ...difference });
    }
  }
  return {
    ok: differences.length === 0,
    differences,
    compared,
    describe: (limit = 20) => {
      const lines = differences.slice(0, limit).map(describeDifference);
      if (differences.length > limit) lines.push(`… and ${differences.length - limit} more differences`);
      lines.push(`compared: ${JSON.stringify(compared)}`);
      return lines.join("\n");
    },
  };
}

function compareEvent(
  a: LedgerEvent,
  b: LedgerEvent,
  textA: string | undefined,
  textB: string | undefined,
): { field: "event_number" | "event_type" | "data" | "text"; http: string; events: string } | undefined {
  if (a.event_number !== b.event_number)
    return { field: "event_number", http: String(a.event_number), events: String(b.event_number) };
  if (a.event_type !== b.event_type)
    return { field: "event_type", http: String(a.event_type), events: String(b.event_type) };
  const dataA = JSON.stringify(sortedKeys(a.data));
  const dataB = JSON.stringify(sortedKeys(b.data));
  if (dataA !== dataB) return { field: "data", http: dataA, events: dataB };
  if (textA === undefined || textB === undefined || textA !== textB)
    return { field: "text", http: String(textA), events: String(textB) };
  return undefined;
}

/** Key order is left to the text comparison: the data comparison names a different value. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  );
}

export function describeDifference(d: FeedDifference): string {
  switch (d.kind) {
    case "missing-stream":
      return `MISSING STREAM: ${d.streamId} was not read from ${d.missingFrom === "http" ? "HTTP" : "EVENTS"}`;
    case "length":
      return `LENGTH: ${d.streamId} has ${d.http} events over HTTP but ${d.events} in EVENTS`;
    case "event":
      return (
        `EVENT DIFFERS: ${d.streamId} position ${d.position}, ${d.field}: HTTP ${d.http.slice(0, 300)} ` +
        `but EVENTS ${d.events.slice(0, 300)}`
      );
  }
}

/**
 * The text of each element of a JSON array, exactly as it stands in `text` (whitespace between
 * elements dropped): what lets an HTTP body be compared byte for byte with EVENTS payloads.
 */
export function splitJsonArray(text: string): string[] {
  const body = text.trim();
  if (!body.startsWith("[") || !body.endsWith("]")) throw new Error(`not a JSON array: ${body.slice(0, 80)}`);
  const elements: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 1;
  for (let i = 1; i < body.length - 1; i++) {
    const c = body[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 0) {
      elements.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = body.slice(start, body.length - 1).trim();
  if (last !== "" || elements.length > 0) elements.push(last);
  return elements;
}

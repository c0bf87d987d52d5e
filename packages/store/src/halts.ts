import {
  HeliographError,
  IngestMessage,
  type ParkedPublish,
  type PublishStatus,
  type ResolveHaltRequest,
  type StreamHalt,
  type StreamId,
} from "@heliograph/contracts";
import type { Redis } from "@heliograph/platform";
import { haltedStreamsKey, resumableStreamsKey, streamKeys } from "./keys.js";

/**
 * Stream halts (docs/architecture.md, promise 6). The sequencer keeps every publish it cannot number yet in
 * the stream's `held` list, in INGEST order: the offending one at the head while the stream is
 * halted, then everything that came after it. An operator resolves a halt by skipping the
 * offending publish (it moves to the `parked` list) or retrying it (optionally with fixed data);
 * the owning sequencer then numbers the held list from its head.
 */

/** One entry of a stream's held list. */
export interface HeldEntry {
  ingest_id: string;
  /** The IngestMessage as stored in INGEST; absent when it could not be read. */
  message?: IngestMessage;
  /** The INGEST message text when it is not a readable IngestMessage. */
  raw?: string;
  /** Why the INGEST message cannot be numbered at all (not JSON, wrong schema). */
  problem?: string;
}

/**
 * The held-list entry text of a publish. `messageText` is the IngestMessage JSON as it came from
 * INGEST (already parsed and validated by the caller), embedded without re-serialising.
 */
export function heldEntryText(
  entry: { ingestId: string; messageText: string } | { ingestId: string; raw: string; problem: string },
): string {
  if ("messageText" in entry) return `{"ingest_id":${JSON.stringify(entry.ingestId)},"message":${entry.messageText}}`;
  return JSON.stringify({ ingest_id: entry.ingestId, raw: entry.raw, problem: entry.problem });
}

export function parseHeldEntry(text: string): HeldEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ingest_id: "", raw: text, problem: "the held entry is not JSON" };
  }
  const v = (value ?? {}) as Record<string, unknown>;
  const ingestId = typeof v.ingest_id === "string" ? v.ingest_id : "";
  if (v.message !== undefined) {
    const parsed = IngestMessage.safeParse(v.message);
    if (parsed.success) return { ingest_id: ingestId, message: parsed.data };
    return {
      ingest_id: ingestId,
      raw: JSON.stringify(v.message),
      problem: "the held message does not match its schema",
    };
  }
  return {
    ingest_id: ingestId,
    raw: typeof v.raw === "string" ? v.raw : "",
    problem: typeof v.problem === "string" ? v.problem : "the held entry has no message",
  };
}

/** How long the record of a parked publish answers status lookups, unless the caller says otherwise. */
const DEFAULT_APPLIED_TTL_SECONDS = 86_400;

function eventOf(entry: HeldEntry | undefined): StreamHalt["event"] {
  if (entry?.message) return { event_type: entry.message.event_type, data: entry.message.data };
  return { event_type: "unreadable", data: entry ? { raw: entry.raw ?? "" } : {} };
}

/** The stream's halt, or undefined when it is live. */
export async function readHalt(redis: Redis, streamId: StreamId): Promise<StreamHalt | undefined> {
  const keys = streamKeys(streamId);
  const [status, head, held] = await Promise.all([
    redis.hgetall(keys.status),
    redis.lindex(keys.held, 0),
    redis.llen(keys.held),
  ]);
  if (status.status !== "halted") return undefined;
  return {
    stream_id: streamId,
    reason: status.reason ?? "",
    ingest_id: status.ingest_id ?? "",
    since: status.since ?? "",
    event: eventOf(head === null ? undefined : parseHeldEntry(head)),
    held,
  };
}

/** Every halted stream, sorted by stream id. */
export async function listHaltedStreams(redis: Redis): Promise<StreamHalt[]> {
  const ids = (await redis.smembers(haltedStreamsKey)).sort();
  const halts = await Promise.all(ids.map((id) => readHalt(redis, id)));
  return halts.filter((h): h is StreamHalt => h !== undefined);
}

// KEYS: status, held, parked, applied-of-head
// ARGV: action, expected ingest id ('' = any), head text as read ('' = none), replacement head
// text ('' = keep), parked text, seconds the parked record is kept
// Compares the head with what the caller read, so a concurrent change is refused, never applied.
const RESOLVE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'halted' then return {'NOT_HALTED', ''} end
local offending = redis.call('HGET', KEYS[1], 'ingest_id') or ''
if ARGV[2] ~= '' and ARGV[2] ~= offending then return {'CHANGED', offending} end
local head = redis.call('LINDEX', KEYS[2], 0) or ''
if head ~= ARGV[3] then return {'CHANGED', offending} end
if head ~= '' then
  if ARGV[1] == 'skip' then
    redis.call('LPOP', KEYS[2])
    redis.call('RPUSH', KEYS[3], ARGV[5])
    redis.call('SET', KEYS[4], 'parked', 'EX', ARGV[6])
  elseif ARGV[4] ~= '' then
    redis.call('LSET', KEYS[2], 0, ARGV[4])
  end
end
redis.call('DEL', KEYS[1])
return {'OK', offending}
`;

/**
 * Resolves a stream's halt: `skip` parks the offending publish, `retry` leaves it at the head of
 * the held list (with `request.data` as its fixed data when given). Either way the stream is live
 * again and its owning sequencer numbers the held list; the caller also publishes a ResumeNotice
 * on RESUME_SUBJECT so that happens at once.
 */
export async function resolveHalt(
  redis: Redis,
  streamId: StreamId,
  request: ResolveHaltRequest,
  options: { appliedTtlSeconds?: number } = {},
): Promise<{ stream_id: StreamId; action: ResolveHaltRequest["action"]; ingest_id: string }> {
  const keys = streamKeys(streamId);
  const [status, headText] = await Promise.all([redis.hgetall(keys.status), redis.lindex(keys.held, 0)]);
  if (status.status !== "halted") throw new HeliographError("STREAM_NOT_HALTED");
  if (request.ingest_id !== undefined && request.ingest_id !== status.ingest_id)
    throw new HeliographError("HALT_CHANGED", {
      details: [{ path: "ingest_id", message: `the offending publish is ${status.ingest_id ?? "unknown"}` }],
    });
  const head = headText === null ? undefined : parseHeldEntry(headText);
  let replacement = "";
  if (request.action === "retry" && request.data !== undefined && head) {
    if (!head.message)
      throw new HeliographError("VALIDATION_FAILED", {
        message: "The offending publish cannot be read, so it cannot be fixed; skip it instead",
      });
    const fixed = IngestMessage.safeParse({ ...head.message, data: request.data });
    if (!fixed.success)
      throw new HeliographError("VALIDATION_FAILED", {
        message: "data must carry the event's id and timestamp",
        details: fixed.error.issues.map((i) => ({
          path: ["data", ...i.path.map(String)].join("."),
          message: i.message,
        })),
      });
    replacement = heldEntryText({ ingestId: head.ingest_id, messageText: JSON.stringify(fixed.data) });
  }
  const parked: ParkedPublish | undefined =
    request.action === "skip" && head
      ? {
          ingest_id: head.ingest_id,
          stream_id: streamId,
          reason: status.reason ?? "",
          parked_at: new Date().toISOString(),
          event: eventOf(head),
        }
      : undefined;
  // Marked first, so a crash after the script still leaves the stream for a sequencer to drain;
  // the sequencer removes it only once the held list is empty.
  await redis.sadd(resumableStreamsKey, streamId);
  const [outcome, offending] = (await redis.eval(
    RESOLVE,
    4,
    keys.status,
    keys.held,
    keys.parked,
    keys.appliedPrefix + (head?.ingest_id ?? ""),
    request.action,
    request.ingest_id ?? "",
    headText ?? "",
    replacement,
    parked ? JSON.stringify(parked) : "",
    options.appliedTtlSeconds ?? DEFAULT_APPLIED_TTL_SECONDS,
  )) as [string, string];
  if (outcome === "NOT_HALTED") throw new HeliographError("STREAM_NOT_HALTED");
  if (outcome === "CHANGED") throw new HeliographError("HALT_CHANGED");
  await redis.srem(haltedStreamsKey, streamId);
  await redis.sadd(resumableStreamsKey, streamId);
  return { stream_id: streamId, action: request.action, ingest_id: offending };
}

/** How many publishes operators skipped on the stream. */
export async function countParked(redis: Redis, streamId: StreamId): Promise<number> {
  return redis.llen(streamKeys(streamId).parked);
}

/** Publishes operators skipped on this stream, oldest first. */
export async function readParked(redis: Redis, streamId: StreamId): Promise<ParkedPublish[]> {
  return (await redis.lrange(streamKeys(streamId).parked, 0, -1)).map((text) => JSON.parse(text) as ParkedPublish);
}

/**
 * Where a publish is, from the sequencer's record of it; undefined when the sequencer has not seen
 * it (yet), or its record expired.
 */
export async function readPublishStatus(
  redis: Redis,
  streamId: StreamId,
  ingestId: string,
): Promise<PublishStatus | undefined> {
  const keys = streamKeys(streamId);
  const applied = await redis.get(keys.appliedPrefix + ingestId);
  if (applied === null) return undefined;
  const base = { ingest_id: ingestId, stream_id: streamId };
  if (applied === "held") {
    const status = await redis.hgetall(keys.status);
    const reason =
      status.status === "halted"
        ? (status.reason ?? "the stream is halted")
        : "the stream's halt was resolved; it is numbered once the publishes held before it are";
    return { status: "held", ...base, reason };
  }
  if (applied === "parked") {
    const parked = (await readParked(redis, streamId)).find((p) => p.ingest_id === ingestId);
    return { status: "parked", ...base, reason: parked?.reason ?? "skipped by an operator" };
  }
  return { status: "sequenced", ...base, event_number: Number(applied) };
}

import type { StreamId, StreamStatus } from "@heliograph/contracts";
import type { Redis } from "ioredis";
import { LOG_EVENT_FIELD, logEntryId, streamKeys } from "./keys.js";

/** Last event number of a stream; -1 when it has none. */
export async function readHead(redis: Redis, streamId: StreamId): Promise<number> {
  const head = await redis.get(streamKeys(streamId).head);
  return head === null ? -1 : Number(head);
}

export interface StreamState {
  head: number;
  status: StreamStatus;
}

export async function readStreamState(redis: Redis, streamId: StreamId): Promise<StreamState> {
  const keys = streamKeys(streamId);
  const [head, status] = await Promise.all([redis.get(keys.head), redis.hget(keys.status, "status")]);
  return { head: head === null ? -1 : Number(head), status: status === "halted" ? "halted" : "live" };
}

/**
 * JSON texts of the events after `after` (the last one the reader processed), at most `count`,
 * in order. The texts are stored serialised, so they go to the client without a parse.
 */
export async function readEventsAfter(
  redis: Redis,
  streamId: StreamId,
  after: number,
  count: number,
): Promise<string[]> {
  const entries = await redis.xrange(streamKeys(streamId).log, logEntryId(after + 1), "+", "COUNT", count);
  return entries.map(([, fields]) => fieldOf(fields, LOG_EVENT_FIELD));
}

/** The last `count` events of a stream, oldest first. */
export async function readLastEvents(redis: Redis, streamId: StreamId, count: number): Promise<string[]> {
  const entries = await redis.xrevrange(streamKeys(streamId).log, "+", "-", "COUNT", count);
  return entries.reverse().map(([, fields]) => fieldOf(fields, LOG_EVENT_FIELD));
}

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  throw new Error(`log entry has no field ${name}`);
}

import { createHash } from "node:crypto";
import type { StreamId, StreamStatus } from "@heliograph/contracts";
import type { Redis } from "@heliograph/platform";
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
 * The log no longer holds event `after + 1` (the hot window moved past it; docs/architecture.md,
 * "The hot window") but holds later ones, or none while the head is past `after`: answering from
 * the log would skip, so the read goes to EVENTS. `earliest` is the first event the log holds
 * (Infinity when it holds none).
 */
export class LogTrimmedError extends Error {
  constructor(
    readonly streamId: StreamId,
    readonly after: number,
    readonly earliest: number,
  ) {
    super(`the Redis log of ${streamId} no longer holds event ${after + 1}; it starts at ${earliest}`);
    this.name = "LogTrimmedError";
  }
}

const eventNumberOfEntryId = (id: string): number => Number(id.slice(0, id.indexOf("-"))) - 1;

/**
 * JSON texts of the events after `after` (the last one the reader processed), at most `count`,
 * in order. The texts are stored serialised, so they go to the client without a parse.
 *
 * With `maxBytes`, the texts together hold at most that many bytes (UTF-8), except that the first
 * is always answered whatever its size, so a reader always progresses: fewer events, never an
 * error. Redis does the counting (a Lua script reading the log a page at a time), so a read never
 * brings more than `maxBytes` plus one event into this process, whatever `count` is.
 *
 * Throws {@link LogTrimmedError} when the log's first entry after `after` is not event after+1
 * (trimmed to its window): the caller reads EVENTS instead.
 */
export async function readEventsAfter(
  redis: Redis,
  streamId: StreamId,
  after: number,
  count: number,
  maxBytes?: number,
): Promise<string[]> {
  const log = streamKeys(streamId).log;
  if (maxBytes === undefined) {
    const entries = await redis.xrange(log, logEntryId(after + 1), "+", "COUNT", count);
    const firstId = entries[0]?.[0];
    if (firstId !== undefined && firstId !== logEntryId(after + 1))
      throw new LogTrimmedError(streamId, after, eventNumberOfEntryId(firstId));
    return entries.map(([, fields]) => fieldOf(fields, LOG_EVENT_FIELD));
  }
  if (count <= 0) return [];
  const args = [log, logEntryId(after + 1), count, maxBytes, LOG_EVENT_FIELD, READ_PAGE];
  let reply: unknown[];
  try {
    reply = (await redis.evalsha(READ_BOUNDED_SHA, 1, ...args)) as unknown[];
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
    reply = (await redis.eval(READ_BOUNDED, 1, ...args)) as unknown[];
  }
  // The script's one non-text answer: { 0, <first entry id> } when the log starts after after+1.
  if (typeof reply[0] === "number") throw new LogTrimmedError(streamId, after, eventNumberOfEntryId(String(reply[1])));
  return reply as string[];
}

/**
 * Entries read per XRANGE inside the script at most. Pages are sized from the budget left and the
 * largest event seen, so the script copies little more than it answers, and a full batch of small
 * events still takes few calls.
 */
const READ_PAGE = 64;

/**
 * KEYS[1] the log; ARGV: first entry id, count, byte budget, event field, page size. Answers the
 * texts, or `{0, <first entry id>}` when the log's first entry at or after the asked one is another
 * (trimmed). Pages
 * continue after the last entry read (exclusive range, Redis 6.2+), so a gap is never spanned by
 * arithmetic on ids. Script-side numbers are doubles; only sizes and counts are computed.
 */
const READ_BOUNDED = `
local start = ARGV[1]
local remaining = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local field = ARGV[4]
local page = tonumber(ARGV[5])
local out = {}
local bytes = 0
local largest = 0
while remaining > 0 do
  local size = math.min(remaining, page)
  if largest > 0 then size = math.min(size, math.max(1, math.floor((budget - bytes) / largest))) else size = math.min(size, 4) end
  local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', size)
  if #entries == 0 then return out end
  -- The first entry is not the one asked for: the window was trimmed past it (ids have no gaps).
  if #out == 0 and entries[1][1] ~= ARGV[1] then return { 0, entries[1][1] } end
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local text
    for i = 1, #fields, 2 do
      if fields[i] == field then text = fields[i + 1] end
    end
    if text == nil then return redis.error_reply('log entry ' .. entry[1] .. ' has no field ' .. field) end
    if #out > 0 and bytes + #text > budget then return out end
    out[#out + 1] = text
    bytes = bytes + #text
    if #text > largest then largest = #text end
    remaining = remaining - 1
    if remaining == 0 then return out end
  end
  start = '(' .. entries[#entries][1]
end
return out
`;
const READ_BOUNDED_SHA = createHash("sha1").update(READ_BOUNDED).digest("hex");

/** The last `count` events of a stream, oldest first. */
export async function readLastEvents(redis: Redis, streamId: StreamId, count: number): Promise<string[]> {
  const entries = await redis.xrevrange(streamKeys(streamId).log, "+", "-", "COUNT", count);
  return entries.reverse().map(([, fields]) => fieldOf(fields, LOG_EVENT_FIELD));
}

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  throw new Error(`log entry has no field ${name}`);
}

/** First event number a stream's Redis log holds (its hot window's start); -1 when it holds none. */
export async function readEarliestHot(redis: Redis, streamId: StreamId): Promise<number> {
  const [first] = await redis.xrange(streamKeys(streamId).log, "-", "+", "COUNT", 1);
  return first ? eventNumberOfEntryId(first[0]) : -1;
}

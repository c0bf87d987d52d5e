import { createHash, randomUUID } from "node:crypto";
import { HeliographError, IDEMPOTENCY_KEY_HEADER } from "@heliograph/contracts";
import { defineRedisScripts, fromBackingService, type Redis } from "@heliograph/platform";
import { idempotencyKey, ingestRecordKey } from "@heliograph/store";

const sha256hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * The ingest id of a publish. With an Idempotency-Key it is derived from the publisher and the key
 * alone, so every retry (concurrent, or after a crash between the PubAck and the record) carries
 * the same Nats-Msg-Id (JetStream drops the repeat within its window) and the same ingest id (the
 * sequencer drops it for 24 h). Without a key it is random.
 */
export function ingestIdFor(publisherId: string, key: string | undefined): string {
  if (key === undefined) return `ing_${randomUUID().replaceAll("-", "")}`;
  return `ing_${sha256hex(`${publisherId}\n${key}`).slice(0, 32)}`;
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** What makes two requests "the same" for a key: method, URL and the body's content. */
export const requestHash = (method: string, url: string, body: unknown): string =>
  sha256hex(`${method.toUpperCase()} ${url}\n${canonicalJson(body)}`);

/**
 * Stored at `idempotencyKey(publisher, sha256(key))` once a publish of the key is answered: the
 * first answer, replayed to every retry of the same request.
 */
export interface IdempotencyRecord {
  request_hash: string;
  status: number;
  body: unknown;
}

/**
 * Stored at the same key from before the publish until its answer: the key is bound to this
 * request from then on (another request is a 422, even if this publish then fails, since a
 * publish whose PubAck was lost may still be in INGEST). `pending_until` (Redis time, ms) is when
 * a retry of the same request may take the publish over: at once after a failed publish, else
 * once the owner has had its PubAck timeout and more (it may have died).
 */
interface PendingRecord {
  request_hash: string;
  pending_until: number;
  owner: string;
}

/** Stored at `ingestRecordKey(ingest_id)` for the retention window: whose publish, to which stream. */
export interface IngestRecord {
  stream_id: string;
  publisher_id: string;
}

/**
 * Outcome of reserving a key: this request publishes (`owner` to release or complete it; `fresh`
 * when no request had the key before), or the first answer to replay.
 */
export type Reservation =
  | { kind: "reserved"; owner: string; fresh: boolean }
  | { kind: "replay"; record: IdempotencyRecord };

// Reserves the key for a request hash. Replies {"reserved", fresh}, {"reused"}, {"done", record}
// or {"pending", ms left}. Redis's clock, so instances with skewed clocks agree on expiry.
const RESERVE = `
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local raw = redis.call('GET', KEYS[1])
local function claim(fresh)
  local pending = cjson.encode({ request_hash = ARGV[1], pending_until = now + tonumber(ARGV[3]), owner = ARGV[2] })
  redis.call('SET', KEYS[1], pending, 'EX', ARGV[4])
  return { 'reserved', fresh }
end
if not raw then return claim('1') end
local rec = cjson.decode(raw)
if rec.request_hash ~= ARGV[1] then return { 'reused' } end
if rec.status ~= nil then return { 'done', raw } end
if tonumber(rec.pending_until) <= now then return claim('0') end
return { 'pending', tostring(tonumber(rec.pending_until) - now) }`;

// Gives up a reservation still held by ARGV[1]: deleted ('delete', nothing was published) or
// left bound to its request hash and free for a retry of it at once ('free', a publish failed).
const RELEASE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.status ~= nil or rec.owner ~= ARGV[1] then return 0 end
if ARGV[2] == 'delete' then return redis.call('DEL', KEYS[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
rec.pending_until = 0
redis.call('SET', KEYS[1], cjson.encode(rec), 'PX', ttl)
return 1`;

// Stores the answer over a pending record of the same request (or where the record was lost);
// returns nil when stored, else the record found (an answer already there, or another request's).
const COMPLETE = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local rec = cjson.decode(raw)
  if rec.request_hash ~= ARGV[1] or rec.status ~= nil then return raw end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return false`;

type IdempotencyCommands = {
  heliographIdemReserve(key: string, hash: string, owner: string, windowMs: number, ttl: number): Promise<string[]>;
  heliographIdemRelease(key: string, owner: string, mode: "delete" | "free"): Promise<number>;
  heliographIdemComplete(key: string, hash: string, record: string, ttl: number): Promise<string | null>;
};
function commands(redis: Redis): IdempotencyCommands {
  return defineRedisScripts<IdempotencyCommands>(redis, {
    heliographIdemReserve: { numberOfKeys: 1, lua: RESERVE },
    heliographIdemRelease: { numberOfKeys: 1, lua: RELEASE },
    heliographIdemComplete: { numberOfKeys: 1, lua: COMPLETE },
  });
}

export interface IdempotencyTimings {
  /**
   * How long a reservation is the owner's alone: its PubAck timeout and a margin. Past it a
   * retry of the same request takes the publish over (the same ingest id, so no second event).
   */
  reservationMs: number;
  /** How long a retry of the same request waits for a concurrent one's answer before a 409. */
  maxWaitMs: number;
}

export class IdempotencyStore {
  private readonly cmd: IdempotencyCommands;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly timings: IdempotencyTimings,
  ) {
    this.cmd = commands(redis);
  }

  private redisKey(publisherId: string, key: string): string {
    return idempotencyKey(publisherId, sha256hex(key));
  }

  /**
   * Binds the key to this request before anything is published. Another request is a 422; a
   * retry of the same request gets the first answer, waiting for it while a concurrent one
   * publishes (polling Redis, as the concurrent one may be on another instance), or a 409 with
   * Retry-After once `maxWaitMs` has passed.
   */
  async reserve(publisherId: string, key: string, hash: string): Promise<Reservation> {
    const redisKey = this.redisKey(publisherId, key);
    const owner = randomUUID();
    const deadline = Date.now() + this.timings.maxWaitMs;
    let pause = 5;
    for (;;) {
      const [kind, value] = await fromBackingService(() =>
        this.cmd.heliographIdemReserve(redisKey, hash, owner, this.timings.reservationMs, this.ttlSeconds),
      );
      if (kind === "reserved") return { kind, owner, fresh: value === "1" };
      if (kind === "reused") throw reused();
      if (kind === "done") return { kind: "replay", record: JSON.parse(value as string) as IdempotencyRecord };
      const left = Number(value);
      const now = Date.now();
      if (now >= deadline) {
        throw new HeliographError("IDEMPOTENCY_KEY_IN_PROGRESS", {
          retryAfter: Math.max(1, Math.ceil(left / 1000)),
          details: [{ path: `headers.${IDEMPOTENCY_KEY_HEADER}`, message: "a request with this key is being handled" }],
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left, deadline - now)));
      pause = Math.min(pause * 2, 100);
    }
  }

  /**
   * Gives a reservation up: `delete` when nothing was published (the request was refused before
   * its publish), `free` after a failed publish, which keeps the key bound to the request.
   */
  async release(publisherId: string, key: string, owner: string, mode: "delete" | "free"): Promise<void> {
    await this.cmd.heliographIdemRelease(this.redisKey(publisherId, key), owner, mode);
  }

  /**
   * After the PubAck: writes where the publish can be looked up by its ingest id
   * (`GET /api/v1/publishes/:ingest_id`) and, with an Idempotency-Key, the answer over its
   * reservation. Returns the record found instead when the key no longer held this request's
   * reservation: an answer to the same request already stored (to replay), or `"lost"` when the
   * key is bound to another request (this one's reservation was lost with Redis).
   */
  async recordPublish(
    ingest: IngestRecord & { ingest_id: string },
    idempotency?: { publisherId: string; key: string; record: IdempotencyRecord },
  ): Promise<IdempotencyRecord | "lost" | undefined> {
    // Two lone commands sent in the same tick, not one pipeline: on a Redis Cluster the two keys
    // are in different slots (a pipeline must stay on one node); auto-pipelining still writes
    // them together, one round trip per node.
    const [, found] = await Promise.all([
      this.recordIngest(ingest),
      idempotency
        ? this.cmd.heliographIdemComplete(
            this.redisKey(idempotency.publisherId, idempotency.key),
            idempotency.record.request_hash,
            JSON.stringify(idempotency.record),
            this.ttlSeconds,
          )
        : undefined,
    ]);
    if (!idempotency || typeof found !== "string") return undefined;
    const record = JSON.parse(found) as IdempotencyRecord | PendingRecord;
    if (record.request_hash !== idempotency.record.request_hash || !("status" in record)) return "lost";
    return record;
  }

  /**
   * Writes where a publish without an Idempotency-Key can be looked up by its ingest id. A lone
   * command, so the connection's auto-pipelining sends the records of concurrent requests in one
   * write; the caller runs it alongside the JetStream publish, not after it.
   */
  async recordIngest(ingest: IngestRecord & { ingest_id: string }): Promise<void> {
    const { ingest_id, ...value } = ingest;
    await this.redis.set(
      ingestRecordKey(ingest_id),
      JSON.stringify(value satisfies IngestRecord),
      "EX",
      this.ttlSeconds,
    );
  }

  /** Who published an ingest id, and to which stream; undefined when unknown or expired. */
  async ingestRecord(ingestId: string): Promise<IngestRecord | undefined> {
    const raw = await fromBackingService(() => this.redis.get(ingestRecordKey(ingestId)));
    return raw === null ? undefined : (JSON.parse(raw) as IngestRecord);
  }
}

function reused(): HeliographError {
  return new HeliographError("IDEMPOTENCY_KEY_REUSED", {
    details: [{ path: `headers.${IDEMPOTENCY_KEY_HEADER}`, message: "first used for a different request" }],
  });
}

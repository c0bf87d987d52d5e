import { createHash, randomUUID } from "node:crypto";
import { HeliographError, IDEMPOTENCY_KEY_HEADER } from "@heliograph/contracts";
import { fromBackingService } from "@heliograph/platform";
import { idempotencyKey, ingestRecordKey } from "@heliograph/store";
import type { Redis } from "ioredis";

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

/** Stored at `idempotencyKey(publisher, sha256(key))`: the first answer to a key. */
export interface IdempotencyRecord {
  request_hash: string;
  status: number;
  body: unknown;
}

/** Stored at `ingestRecordKey(ingest_id)` for the retention window: whose publish, to which stream. */
export interface IngestRecord {
  stream_id: string;
  publisher_id: string;
}

/** Outcome of looking a key up: nothing yet, the first answer to replay, or a reuse. */
export type IdempotencyLookup = { kind: "new" } | { kind: "replay"; record: IdempotencyRecord };

export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  private redisKey(publisherId: string, key: string): string {
    return idempotencyKey(publisherId, sha256hex(key));
  }

  /** The first answer to replay, or a 422 when the key was used for another request. */
  async lookup(publisherId: string, key: string, hash: string): Promise<IdempotencyLookup> {
    const raw = await fromBackingService(() => this.redis.get(this.redisKey(publisherId, key)));
    if (raw === null) return { kind: "new" };
    return { kind: "replay", record: sameRequest(JSON.parse(raw) as IdempotencyRecord, hash) };
  }

  /**
   * After the PubAck: writes where the publish can be looked up by its ingest id
   * (`GET /api/v1/publishes/:ingest_id`) and, with an Idempotency-Key, the first answer to it
   * (only the first: SET NX), in one round trip. Returns the first answer to the key: this one,
   * or a concurrent request's that recorded first.
   */
  async recordPublish(
    ingest: IngestRecord & { ingest_id: string },
    idempotency?: { publisherId: string; key: string; record: IdempotencyRecord },
  ): Promise<IdempotencyRecord | undefined> {
    const { ingest_id, ...value } = ingest;
    const pipeline = this.redis
      .pipeline()
      .set(ingestRecordKey(ingest_id), JSON.stringify(value satisfies IngestRecord), "EX", this.ttlSeconds);
    if (idempotency) {
      const redisKey = this.redisKey(idempotency.publisherId, idempotency.key);
      pipeline.set(redisKey, JSON.stringify(idempotency.record), "EX", this.ttlSeconds, "NX").get(redisKey);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    if (!idempotency) return undefined;
    if (results[1]?.[1] === "OK") return idempotency.record;
    const stored = results[2]?.[1];
    if (typeof stored !== "string") return idempotency.record;
    return sameRequest(JSON.parse(stored) as IdempotencyRecord, idempotency.record.request_hash);
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

function sameRequest(record: IdempotencyRecord, hash: string): IdempotencyRecord {
  if (record.request_hash !== hash) {
    throw new HeliographError("IDEMPOTENCY_KEY_REUSED", {
      details: [{ path: `headers.${IDEMPOTENCY_KEY_HEADER}`, message: "first used for a different request" }],
    });
  }
  return record;
}

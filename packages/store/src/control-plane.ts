import { randomBytes, randomUUID } from "node:crypto";
import {
  type Algorithm,
  API_KEY_FORMAT,
  API_KEY_PREFIX,
  algorithmStreamId,
  type CreateAlgorithmRequest,
  type CreateIdeaChannelRequest,
  type CreatePublisherRequest,
  type CreateResourceRequest,
  type CreateSubscriberRequest,
  type CredentialStatus,
  HeliographError,
  type IdeaChannel,
  ideasStreamId,
  newSecret,
  PUBLISHER_SECRET_PREFIX,
  type Publisher,
  type PublisherCredentials,
  type Resource,
  resourceStreamId,
  type StreamId,
  SUBSCRIBER_TOKEN_FORMAT,
  SUBSCRIBER_TOKEN_PREFIX,
  type Subscriber,
  type SubscriberCredentials,
  WEBHOOK_SECRET_PREFIX,
  type WebhookEndpoint,
  type WebhookEndpointCreated,
  type WebhookEndpointStatus,
} from "@heliograph/contracts";
import type { KV, KvEntry } from "@nats-io/kv";
import { controlKeyToken, isRevisionConflict, controlKeys as K } from "./control-bucket.js";
import type { ControlCache, ControlDecoder } from "./control-cache.js";
import { secretComparison, secretHash, storedDigest } from "./secrets.js";

/**
 * A publisher as the bucket holds it: the public fields plus the SHA-256 of its secret ("" once
 * revoked). Records written before revocation existed have no status: they are active.
 */
interface StoredPublisher extends Omit<Publisher, "status"> {
  status?: CredentialStatus;
  secret_hash: string;
}

/** A subscriber as the bucket holds it: entitlements and the token's SHA-256 ("" once revoked) in the one record. */
interface StoredSubscriber {
  id: string;
  name: string;
  created_at: string;
  status?: CredentialStatus;
  token_hash: string;
  streams: StreamId[];
}

/** A subscriber record decoded for lookups: its streams as a set. */
interface SubscriberView extends StoredSubscriber {
  entitled: ReadonlySet<string>;
}

const json = <T>(entry: KvEntry): T => entry.json<T>();
const text = (entry: KvEntry): string => entry.string();
const subscriberView = (entry: KvEntry): SubscriberView => {
  const stored = entry.json<StoredSubscriber>();
  return { ...stored, entitled: new Set(stored.streams) };
};

/** A publisher id no record can have (ids start with a letter or digit): read for an unknown API key. */
const NO_PUBLISHER = "_";

/** How often a compare-and-set that lost a race is tried again before giving up (a 503). */
const CAS_ATTEMPTS = 20;

const newApiKey = () => `${API_KEY_PREFIX}_${randomBytes(12).toString("hex")}`;
const publicPublisher = (p: StoredPublisher): Publisher => ({
  id: p.id,
  name: p.name,
  api_key: p.api_key,
  status: p.status ?? "active",
  created_at: p.created_at,
});
const publicSubscriber = (s: StoredSubscriber): Subscriber => ({
  id: s.id,
  name: s.name,
  streams: [...s.streams].sort(),
  status: s.status ?? "active",
  created_at: s.created_at,
});
/** The stored hash a presented secret is compared with: none for a revoked record. */
const activeHash = (record: { status?: CredentialStatus } | null, hash: string | undefined) =>
  record && record.status !== "revoked" && hash ? hash : null;

/** A kind of record the lifecycle changes: where its records are, and what a missing one answers. */
interface RecordKind {
  keyOf: (id: string) => string;
  notFound:
    | "PUBLISHER_NOT_FOUND"
    | "SUBSCRIBER_NOT_FOUND"
    | "WEBHOOK_NOT_FOUND"
    | "RESOURCE_NOT_FOUND"
    | "ALGORITHM_NOT_FOUND"
    | "IDEA_CHANNEL_NOT_FOUND";
}
const PUBLISHERS: RecordKind = { keyOf: K.publisher, notFound: "PUBLISHER_NOT_FOUND" };
const SUBSCRIBERS: RecordKind = { keyOf: K.subscriber, notFound: "SUBSCRIBER_NOT_FOUND" };
const WEBHOOKS: RecordKind = { keyOf: K.webhook, notFound: "WEBHOOK_NOT_FOUND" };
const RESOURCES: RecordKind = { keyOf: (id) => K.resource(Number(id)), notFound: "RESOURCE_NOT_FOUND" };
const ALGORITHMS: RecordKind = { keyOf: (id) => K.algorithm(Number(id)), notFound: "ALGORITHM_NOT_FOUND" };
const IDEA_CHANNELS: RecordKind = { keyOf: K.ideaChannel, notFound: "IDEA_CHANNEL_NOT_FOUND" };

/**
 * A webhook endpoint as the bucket holds it: with its signing secret, kept as is (not hashed),
 * because the dispatcher signs every delivery with it. Only the admin API's creation answer shows it.
 */
export interface StoredWebhookEndpoint extends WebhookEndpoint {
  secret: string;
  /** After a rotation: the old secret, which also signs deliveries until `previous_until` (ISO time). */
  previous_secret?: string;
  previous_until?: string;
}

/** The public view of a stored endpoint: everything but the secret. */
export const publicWebhookEndpoint = ({
  secret: _secret,
  previous_secret: _previous,
  previous_until: _until,
  ...endpoint
}: StoredWebhookEndpoint): WebhookEndpoint => endpoint;

/** A new signing secret: `whsec_` and base64 of 32 random bytes (the Standard Webhooks format). */
export const newWebhookSecret = (): string => `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
const exists = (
  code:
    | "PUBLISHER_EXISTS"
    | "RESOURCE_EXISTS"
    | "ALGORITHM_EXISTS"
    | "IDEA_CHANNEL_EXISTS"
    | "SUBSCRIBER_EXISTS"
    | "WEBHOOK_EXISTS",
  what: string,
) => new HeliographError(code, { message: `${what} exists`, details: [{ path: "id", message: "exists" }] });

/**
 * Publishers, resources, algorithms, idea channels and subscribers, kept in the NATS KV bucket
 * `heliograph-control` (layout: `controlKeys`; docs/architecture.md, "The control plane"). Secrets
 * are random 256-bit values, so a SHA-256 is a sufficient stored hash (as for API tokens generally)
 * and keeps authentication cheap on the hot path; comparison is constant time.
 *
 * The bucket has no transactions across keys, so writes are ordered for crashes: a unique record
 * is written with `create` (refused when the key exists) and its derived index keys (API key,
 * token hash) are written *before* it, since a crash between the two then leaves at most an index
 * key that points at nothing, or at a record that names another key. Readers treat index keys as
 * hints: a lookup through one is accepted only when the record it leads to names that same key
 * or token hash, so such orphans, and the old key a rotation could not delete, authenticate
 * nothing. Everything that must change together (a subscriber's token and entitlements) is in one
 * record, changed by compare-and-set on its revision.
 *
 * With a `ControlCache`, reads are served from it (the publisher and subscriber APIs); without,
 * every read goes to the bucket (the admin API, which must see what it just wrote).
 */
export class ControlPlane {
  constructor(
    private readonly kv: KV,
    private readonly cache?: ControlCache,
    private readonly cachedReads = true,
  ) {}

  /**
   * The same control plane reading the bucket itself (what the admin API must do), whose writes
   * still evict from the cache at once, so this process's publisher API never answers from an
   * entry it has just replaced, even before the watch reports the change.
   */
  uncachedReads(): ControlPlane {
    return new ControlPlane(this.kv, this.cache, false);
  }

  private async read<T>(key: string, decode: ControlDecoder<T>): Promise<T | null> {
    if (this.cache && this.cachedReads) return this.cache.read(key, decode);
    const entry = await this.kv.get(key);
    return entry && entry.operation === "PUT" ? decode(entry) : null;
  }

  /** The entry itself (value and revision) for a compare-and-set; never cached. */
  private async current(key: string): Promise<KvEntry | null> {
    const entry = await this.kv.get(key);
    return entry && entry.operation === "PUT" ? entry : null;
  }

  /** `create`, false when the key exists. */
  private async createKey(key: string, value: string): Promise<boolean> {
    try {
      await this.kv.create(key, value);
      this.cache?.evict(key);
      return true;
    } catch (err) {
      if (isRevisionConflict(err)) return false;
      throw err;
    }
  }

  /** Removes a key this call wrote and no longer needs; a failure leaves an orphan readers skip. */
  private async forget(key: string): Promise<void> {
    await this.kv.delete(key).catch(() => {});
    this.cache?.evict(key);
  }

  private async keysOf(filter: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys(filter)) keys.push(key);
    return keys;
  }

  private async listed<T>(filter: string, decode: ControlDecoder<T>): Promise<T[]> {
    const entries = await Promise.all((await this.keysOf(filter)).map((key) => this.current(key)));
    return entries.flatMap((entry) => (entry ? [decode(entry)] : []));
  }

  /**
   * Changes the record under `key` by compare-and-set on its revision, reading it again when it
   * changed meanwhile. `change` returns the new record and may write index keys first (`undo`
   * removes them when the switch loses a race); `after` runs once the new record is in.
   */
  private async updateRecord<S, R>(
    kind: RecordKind,
    id: string,
    change: (stored: S) => Promise<{ next: S; undo?: () => Promise<void>; after?: () => Promise<void> }>,
    answer: (next: S) => R,
  ): Promise<R> {
    const { notFound } = kind;
    if (!controlKeyToken(id)) throw new HeliographError(notFound);
    const key = kind.keyOf(id);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await this.current(key);
      if (!entry) throw new HeliographError(notFound);
      const { next, undo, after } = await change(json<S>(entry));
      try {
        await this.kv.update(key, JSON.stringify(next), entry.revision);
      } catch (err) {
        await undo?.();
        if (isRevisionConflict(err)) continue; // changed (or deleted) meanwhile: read it again
        throw err;
      }
      this.cache?.evict(key);
      await after?.();
      return answer(next);
    }
    throw new HeliographError("SERVICE_UNAVAILABLE", { message: "the record kept changing; try again", retryAfter: 1 });
  }

  /**
   * Deletes the record under `key`, then the index key `indexOf` names in it. The record is the
   * switch: once it is gone its index key authenticates nothing, even if deleting it fails.
   */
  private async deleteRecord<S>(
    kind: RecordKind,
    id: string,
    indexOf: (stored: S) => string | undefined,
  ): Promise<void> {
    const key = kind.keyOf(id);
    const entry = controlKeyToken(id) ? await this.current(key) : null;
    if (!entry) throw new HeliographError(kind.notFound);
    await this.kv.delete(key);
    this.cache?.evict(key);
    const index = indexOf(json<S>(entry));
    if (index !== undefined) await this.forget(index);
  }

  private async requirePublisher(id: string): Promise<void> {
    if (!(await this.getPublisher(id)))
      throw new HeliographError("PUBLISHER_NOT_FOUND", {
        details: [{ path: "publisher_id", message: "no such publisher" }],
      });
  }

  async createPublisher(req: CreatePublisherRequest): Promise<PublisherCredentials> {
    const id = req.id ?? `pub-${randomUUID().slice(0, 8)}`;
    const apiKey = newApiKey();
    const apiSecret = newSecret(PUBLISHER_SECRET_PREFIX);
    const publisher: Publisher = {
      id,
      name: req.name,
      api_key: apiKey,
      status: "active",
      created_at: new Date().toISOString(),
    };
    const stored: StoredPublisher = { ...publisher, secret_hash: secretHash(apiSecret) };
    // The index first (a new random key cannot exist), then the record, whose create decides.
    await this.kv.create(K.apiKey(apiKey), id);
    if (!(await this.createKey(K.publisher(id), JSON.stringify(stored)))) {
      await this.forget(K.apiKey(apiKey));
      throw exists("PUBLISHER_EXISTS", `publisher ${id}`);
    }
    return { ...publisher, api_secret: apiSecret };
  }

  /**
   * A new key and secret for a publisher (active again if it was revoked); the old key stops
   * working on every instance within a second.
   */
  async rotatePublisherSecret(id: string): Promise<PublisherCredentials> {
    const apiSecret = newSecret(PUBLISHER_SECRET_PREFIX);
    return this.updateRecord<StoredPublisher, PublisherCredentials>(
      PUBLISHERS,
      id,
      async (existing) => {
        const apiKey = newApiKey();
        // New index, then the record by compare-and-set (the switch), then the old index. Once the
        // record names the new key the old one is refused even if its index key is never deleted.
        await this.kv.create(K.apiKey(apiKey), id);
        return {
          next: { ...existing, api_key: apiKey, status: "active", secret_hash: secretHash(apiSecret) },
          undo: () => this.forget(K.apiKey(apiKey)),
          after: async () => {
            this.cache?.evict(K.apiKey(apiKey));
            await this.forget(K.apiKey(existing.api_key));
          },
        };
      },
      (next) => ({ ...publicPublisher(next), api_secret: apiSecret }),
    );
  }

  /** The publisher's key stops working everywhere within a second; rotating issues a new one. */
  async revokePublisher(id: string): Promise<Publisher> {
    return this.updateRecord<StoredPublisher, Publisher>(
      PUBLISHERS,
      id,
      async (existing) => ({
        next: { ...existing, status: "revoked", secret_hash: "" },
        after: () => this.forget(K.apiKey(existing.api_key)),
      }),
      publicPublisher,
    );
  }

  /**
   * Deletes a publisher and its key. Its resources, algorithms and idea channels stay (their
   * streams are history subscribers read); nobody can publish to them until a publisher with the
   * same id is created again.
   */
  async deletePublisher(id: string): Promise<void> {
    await this.deleteRecord<StoredPublisher>(PUBLISHERS, id, (p) => K.apiKey(p.api_key));
  }

  async getPublisher(id: string): Promise<Publisher | undefined> {
    if (!controlKeyToken(id)) return undefined;
    const stored = await this.read(K.publisher(id), json<StoredPublisher>);
    return stored ? publicPublisher(stored) : undefined;
  }

  async listPublishers(): Promise<Publisher[]> {
    const all = await this.listed(K.all.publishers, json<StoredPublisher>);
    return all.map(publicPublisher).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The publisher id for a key and secret, or a 401 error.
   *
   * Whether an API key exists must not show in how the answer is made (issue 10: one read for an
   * unknown key, two for a known one, none for a cached one). So only a success is remembered,
   * by a digest of the key and the secret together: the publisher who knows the secret is served
   * from memory, and every request that does not takes the same two bucket reads, the key's index
   * and a publisher record (its own, or one that cannot exist), and one comparison.
   */
  async authenticatePublisher(apiKey: string | undefined, apiSecret: string | undefined): Promise<string> {
    if (!apiKey || !apiSecret) {
      throw new HeliographError("AUTH_MISSING", { message: "Send the API-KEY and API-SECRET headers" });
    }
    // A key that was never issued is not looked up: made-up keys cost no read and no cache entry.
    if (!API_KEY_FORMAT.test(apiKey)) {
      secretComparison.matches(apiSecret, undefined);
      throw new HeliographError("AUTH_INVALID", { message: "API-KEY or API-SECRET is not valid" });
    }
    const cache = this.cachedReads ? this.cache : undefined;
    const digest = cache ? secretHash(`${apiKey}\n${apiSecret}`) : "";
    const remembered = cache?.recallAuthentication(digest);
    if (remembered !== undefined) return remembered;

    const mark = cache?.changeMark() ?? 0;
    const id = await this.readUncached(K.apiKey(apiKey), text);
    const recordId = id && controlKeyToken(id) ? id : NO_PUBLISHER;
    const stored = await this.readUncached(K.publisher(recordId), json<StoredPublisher>);
    // The index key is a hint: only a record that names this key counts (a rotated-away or
    // orphaned key does not), and a revoked record has no secret to match.
    const hash = stored?.api_key === apiKey ? activeHash(stored, stored.secret_hash) : null;
    // An unknown key is compared too (against a dummy), so it answers as a wrong secret does.
    if (!secretComparison.matches(apiSecret, storedDigest(hash)) || !id)
      throw new HeliographError("AUTH_INVALID", { message: "API-KEY or API-SECRET is not valid" });
    cache?.rememberAuthentication(digest, id, [K.apiKey(apiKey), K.publisher(id)], mark);
    return id;
  }

  /** A read of the bucket itself, whatever the cache holds. */
  private async readUncached<T>(key: string, decode: ControlDecoder<T>): Promise<T | null> {
    const entry = await this.kv.get(key);
    return entry && entry.operation === "PUT" ? decode(entry) : null;
  }

  /**
   * Creates `record(id)` under `keyOf(id)`: with the given id (refused when it exists), or with
   * the next id of the `seqKey` counter. The counter moves by compare-and-set, so concurrent
   * creates get different ids; an id taken by an explicit create is skipped. A crash after the
   * counter moved loses that id, which is harmless: ids need not be dense.
   */
  private async createNumbered<T>(
    given: number | undefined,
    seqKey: string,
    keyOf: (id: number) => string,
    record: (id: number) => T,
    code: "RESOURCE_EXISTS" | "ALGORITHM_EXISTS",
    what: string,
  ): Promise<T> {
    if (given !== undefined) {
      const value = record(given);
      if (!(await this.createKey(keyOf(given), JSON.stringify(value)))) throw exists(code, `${what} ${given}`);
      return value;
    }
    for (let attempt = 0; attempt < CAS_ATTEMPTS * 5; attempt++) {
      const seq = await this.current(seqKey);
      const id = (seq ? Number(seq.string()) : 0) + 1;
      try {
        if (seq) await this.kv.update(seqKey, String(id), seq.revision);
        else await this.kv.create(seqKey, String(id));
      } catch (err) {
        if (isRevisionConflict(err)) continue; // another create took this id
        throw err;
      }
      const value = record(id);
      if (await this.createKey(keyOf(id), JSON.stringify(value))) return value;
    }
    throw new HeliographError("SERVICE_UNAVAILABLE", { message: `no free ${what} id; try again`, retryAfter: 1 });
  }

  async createResource(req: CreateResourceRequest): Promise<Resource> {
    await this.requirePublisher(req.publisher_id);
    const createdAt = new Date().toISOString();
    return this.createNumbered(
      req.id,
      K.resourceSeq,
      K.resource,
      (id): Resource => ({
        id,
        publisher_id: req.publisher_id,
        title: req.title,
        key_value_type_pairs: req.key_value_type_pairs,
        stream_id: resourceStreamId(id),
        created_at: createdAt,
      }),
      "RESOURCE_EXISTS",
      "resource",
    );
  }

  async getResource(id: number): Promise<Resource | undefined> {
    return (await this.read(K.resource(id), json<Resource>)) ?? undefined;
  }

  async listResources(): Promise<Resource[]> {
    return (await this.listed(K.all.resources, json<Resource>)).sort((a, b) => a.id - b.id);
  }

  /**
   * Deletes a resource: publishes to it are refused from then on (RESOURCE_NOT_FOUND). Its stream
   * is history and stays: its events in Redis and EVENTS, entitlements and webhook endpoints that
   * name it; publishes accepted before are still numbered. Its id is not handed out again by the
   * counter; created again with that id explicitly, it continues the same stream.
   */
  async deleteResource(id: number): Promise<void> {
    await this.deleteRecord(RESOURCES, String(id), () => undefined);
  }

  async createAlgorithm(req: CreateAlgorithmRequest): Promise<Algorithm> {
    await this.requirePublisher(req.publisher_id);
    const createdAt = new Date().toISOString();
    return this.createNumbered(
      req.id,
      K.algorithmSeq,
      K.algorithm,
      (id): Algorithm => ({
        id,
        publisher_id: req.publisher_id,
        name: req.name,
        stream_id: algorithmStreamId(id),
        created_at: createdAt,
      }),
      "ALGORITHM_EXISTS",
      "algorithm",
    );
  }

  async getAlgorithm(id: number): Promise<Algorithm | undefined> {
    return (await this.read(K.algorithm(id), json<Algorithm>)) ?? undefined;
  }

  async listAlgorithms(): Promise<Algorithm[]> {
    return (await this.listed(K.all.algorithms, json<Algorithm>)).sort((a, b) => a.id - b.id);
  }

  /** Deletes an algorithm, as `deleteResource` does a resource: signals are refused, its stream stays. */
  async deleteAlgorithm(id: number): Promise<void> {
    await this.deleteRecord(ALGORITHMS, String(id), () => undefined);
  }

  async createIdeaChannel(req: CreateIdeaChannelRequest): Promise<IdeaChannel> {
    await this.requirePublisher(req.publisher_id);
    const channel: IdeaChannel = {
      id: req.id,
      publisher_id: req.publisher_id,
      title: req.title,
      stream_id: ideasStreamId(req.id),
      created_at: new Date().toISOString(),
    };
    if (!(await this.createKey(K.ideaChannel(req.id), JSON.stringify(channel))))
      throw exists("IDEA_CHANNEL_EXISTS", `idea channel ${req.id}`);
    return channel;
  }

  async getIdeaChannel(id: string): Promise<IdeaChannel | undefined> {
    if (!controlKeyToken(id)) return undefined;
    return (await this.read(K.ideaChannel(id), json<IdeaChannel>)) ?? undefined;
  }

  async listIdeaChannels(): Promise<IdeaChannel[]> {
    return (await this.listed(K.all.ideaChannels, json<IdeaChannel>)).sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  /** Deletes an idea channel, as `deleteResource` does a resource: idea calls are refused, its stream stays. */
  async deleteIdeaChannel(id: string): Promise<void> {
    await this.deleteRecord(IDEA_CHANNELS, id, () => undefined);
  }

  async createSubscriber(req: CreateSubscriberRequest): Promise<SubscriberCredentials> {
    const id = req.id ?? `sub-${randomUUID().slice(0, 8)}`;
    const token = newSecret(SUBSCRIBER_TOKEN_PREFIX);
    const tokenHash = secretHash(token);
    const stored: StoredSubscriber = {
      id,
      name: req.name,
      created_at: new Date().toISOString(),
      status: "active",
      token_hash: tokenHash,
      streams: [...new Set(req.streams)].sort(),
    };
    // As for publishers: the token's index first, then the record, whose create decides.
    await this.kv.create(K.tokenHash(tokenHash), id);
    if (!(await this.createKey(K.subscriber(id), JSON.stringify(stored)))) {
      await this.forget(K.tokenHash(tokenHash));
      throw exists("SUBSCRIBER_EXISTS", `subscriber ${id}`);
    }
    return { ...publicSubscriber(stored), token };
  }

  async getSubscriber(id: string): Promise<Subscriber | undefined> {
    if (!controlKeyToken(id)) return undefined;
    const stored = await this.read(K.subscriber(id), subscriberView);
    return stored ? publicSubscriber(stored) : undefined;
  }

  async listSubscribers(): Promise<Subscriber[]> {
    const all = await this.listed(K.all.subscribers, json<StoredSubscriber>);
    return all.map(publicSubscriber).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Replaces the streams a subscriber may read; every instance applies it within a second. */
  async setEntitlements(id: string, streams: StreamId[]): Promise<Subscriber> {
    return this.updateRecord<StoredSubscriber, Subscriber>(
      SUBSCRIBERS,
      id,
      async (existing) => ({ next: { ...existing, streams: [...new Set(streams)].sort() } }),
      publicSubscriber,
    );
  }

  /**
   * A new bearer token for a subscriber (active again if it was revoked); the old one is refused
   * on every instance within a second, and its held long polls end.
   */
  async rotateSubscriberToken(id: string): Promise<SubscriberCredentials> {
    const token = newSecret(SUBSCRIBER_TOKEN_PREFIX);
    const tokenHash = secretHash(token);
    return this.updateRecord<StoredSubscriber, SubscriberCredentials>(
      SUBSCRIBERS,
      id,
      async (existing) => {
        // As for publishers: new index, the record (the switch), then the old index.
        await this.kv.create(K.tokenHash(tokenHash), id);
        return {
          next: { ...existing, status: "active", token_hash: tokenHash },
          undo: () => this.forget(K.tokenHash(tokenHash)),
          after: async () => {
            this.cache?.evict(K.tokenHash(tokenHash));
            if (existing.token_hash) await this.forget(K.tokenHash(existing.token_hash));
          },
        };
      },
      (next) => ({ ...publicSubscriber(next), token }),
    );
  }

  /** The subscriber's token stops working everywhere within a second; rotating issues a new one. */
  async revokeSubscriber(id: string): Promise<Subscriber> {
    return this.updateRecord<StoredSubscriber, Subscriber>(
      SUBSCRIBERS,
      id,
      async (existing) => ({
        next: { ...existing, status: "revoked", token_hash: "" },
        after: async () => {
          if (existing.token_hash) await this.forget(K.tokenHash(existing.token_hash));
        },
      }),
      publicSubscriber,
    );
  }

  /** Deletes a subscriber, its token and its entitlements. */
  async deleteSubscriber(id: string): Promise<void> {
    // A revoked subscriber has no token, hence no index key left to delete.
    await this.deleteRecord<StoredSubscriber>(SUBSCRIBERS, id, (s) =>
      s.token_hash ? K.tokenHash(s.token_hash) : undefined,
    );
  }

  /** The subscriber id of a bearer token, or a 401 error. */
  async authenticateSubscriber(authorization: string | undefined): Promise<string> {
    const match = authorization ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
    if (!match) throw new HeliographError("AUTH_MISSING", { message: "Send Authorization: Bearer <token>" });
    const token = match[1] as string;
    // Nor is a token that was never issued (nor hashed: a made-up token costs a regular expression).
    const id = SUBSCRIBER_TOKEN_FORMAT.test(token) ? await this.read(K.tokenHash(secretHash(token)), text) : null;
    const stored = id && controlKeyToken(id) ? await this.read(K.subscriber(id), subscriberView) : null;
    // Found by its hash, the token is still compared with the subscriber's stored one (and an
    // unknown token with a dummy), so every token takes the same path as for publishers.
    if (!secretComparison.matches(token, storedDigest(activeHash(stored, stored?.token_hash))) || !id)
      throw new HeliographError("AUTH_INVALID", { message: "The bearer token is not valid" });
    return id;
  }

  async isEntitled(subscriberId: string, streamId: StreamId): Promise<boolean> {
    if (!controlKeyToken(subscriberId)) return false;
    const view = await this.read(K.subscriber(subscriberId), subscriberView);
    // A revoked subscriber is entitled to nothing, whatever its record lists.
    return view !== null && view.status !== "revoked" && view.entitled.has(streamId);
  }

  /**
   * Creates a webhook endpoint for a subscriber on a stream it is entitled to; the answer holds
   * its signing secret, which is shown this once. `startAfter`: the event number before the first
   * one to deliver.
   */
  async createWebhookEndpoint(
    req: { id?: string | undefined; subscriber_id: string; stream_id: StreamId; url: string },
    startAfter: number,
  ): Promise<WebhookEndpointCreated> {
    const subscriber = await this.getSubscriber(req.subscriber_id);
    if (!subscriber)
      throw new HeliographError("SUBSCRIBER_NOT_FOUND", {
        details: [{ path: "subscriber_id", message: "no such subscriber" }],
      });
    if (!(await this.isEntitled(req.subscriber_id, req.stream_id)))
      throw new HeliographError("STREAM_FORBIDDEN", {
        details: [{ path: "stream_id", message: `subscriber ${req.subscriber_id} is not entitled to it` }],
      });
    const id = req.id ?? `wh-${randomUUID().slice(0, 8)}`;
    const stored: StoredWebhookEndpoint = {
      id,
      subscriber_id: req.subscriber_id,
      stream_id: req.stream_id,
      url: req.url,
      status: "active",
      start_after: startAfter,
      created_at: new Date().toISOString(),
      secret: newWebhookSecret(),
    };
    if (!(await this.createKey(K.webhook(id), JSON.stringify(stored))))
      throw exists("WEBHOOK_EXISTS", `webhook endpoint ${id}`);
    return { ...publicWebhookEndpoint(stored), secret: stored.secret };
  }

  async getWebhookEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    if (!controlKeyToken(id)) return undefined;
    const stored = await this.read(K.webhook(id), json<StoredWebhookEndpoint>);
    return stored ? publicWebhookEndpoint(stored) : undefined;
  }

  async listWebhookEndpoints(): Promise<WebhookEndpoint[]> {
    const all = await this.listed(K.all.webhooks, json<StoredWebhookEndpoint>);
    return all.map(publicWebhookEndpoint).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Pauses or resumes an endpoint. A pause may carry the error that caused it (the dispatcher's,
   * once retries ran out); a resume keeps the last error for operators to read.
   */
  async setWebhookStatus(id: string, status: WebhookEndpointStatus, lastError?: string): Promise<WebhookEndpoint> {
    return this.updateRecord<StoredWebhookEndpoint, WebhookEndpoint>(
      WEBHOOKS,
      id,
      async (existing) => {
        // last_error says why the dispatcher paused the endpoint: a resume ends that pause.
        const { last_error: _, ...withoutError } = existing;
        const kept = status === "active" ? withoutError : existing;
        return { next: { ...kept, status, ...(lastError === undefined ? {} : { last_error: lastError }) } };
      },
      publicWebhookEndpoint,
    );
  }

  /**
   * A new signing secret (shown once). For `graceSeconds` the dispatcher signs with the old one
   * too, so a receiver that has not switched yet keeps verifying.
   */
  async rotateWebhookSecret(id: string, graceSeconds: number): Promise<WebhookEndpointCreated> {
    const secret = newWebhookSecret();
    return this.updateRecord<StoredWebhookEndpoint, WebhookEndpointCreated>(
      WEBHOOKS,
      id,
      async (existing) => {
        const { previous_secret: _s, previous_until: _u, ...rest } = existing;
        const grace =
          graceSeconds > 0
            ? {
                previous_secret: existing.secret,
                previous_until: new Date(Date.now() + graceSeconds * 1000).toISOString(),
              }
            : {};
        return { next: { ...rest, secret, ...grace } };
      },
      (next) => ({ ...publicWebhookEndpoint(next), secret }),
    );
  }

  async deleteWebhookEndpoint(id: string): Promise<void> {
    await this.deleteRecord<StoredWebhookEndpoint>(WEBHOOKS, id, () => undefined);
  }
}

import { randomBytes, randomUUID } from "node:crypto";
import {
  type Algorithm,
  algorithmStreamId,
  type CreateAlgorithmRequest,
  type CreateIdeaChannelRequest,
  type CreatePublisherRequest,
  type CreateResourceRequest,
  type CreateSubscriberRequest,
  HeliographError,
  type IdeaChannel,
  ideasStreamId,
  type Publisher,
  type PublisherCredentials,
  type Resource,
  resourceStreamId,
  type StreamId,
  type Subscriber,
  type SubscriberCredentials,
} from "@heliograph/contracts";
import type { Redis } from "ioredis";
import { controlPlaneKeys as K } from "./keys.js";
import { newSecret, secretComparison, secretHash, storedDigest } from "./secrets.js";

/**
 * Publishers, resources, algorithms, idea channels and subscribers, kept in Redis. Secrets are random 256-bit
 * values, so a SHA-256 is a sufficient stored hash (as for API tokens generally) and keeps
 * authentication cheap on the hot path; comparison is constant time.
 */
export class ControlPlane {
  private readonly cache = new Map<string, { value: unknown; until: number }>();

  /** @param cacheTtlMs how long authentication and ownership lookups are cached in-process (default 1 s). */
  constructor(
    private readonly redis: Redis,
    private readonly cacheTtlMs = 1_000,
  ) {}

  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.cacheTtlMs > 0) {
      const hit = this.cache.get(key);
      if (hit && hit.until > Date.now()) return hit.value as T;
    }
    const value = await load();
    if (this.cacheTtlMs > 0) {
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(key, { value, until: Date.now() + this.cacheTtlMs });
    }
    return value;
  }

  async createPublisher(req: CreatePublisherRequest): Promise<PublisherCredentials> {
    const id = req.id ?? `pub-${randomUUID().slice(0, 8)}`;
    const apiKey = `hgk_${randomBytes(12).toString("hex")}`;
    const apiSecret = newSecret("hgs");
    const publisher: Publisher = { id, name: req.name, api_key: apiKey, created_at: new Date().toISOString() };
    const created = await this.redis.hsetnx(K.publisher(id), "id", id);
    if (!created)
      throw new HeliographError("PUBLISHER_EXISTS", {
        message: `publisher ${id} exists`,
        details: [{ path: "id", message: "exists" }],
      });
    await this.redis
      .multi()
      .hset(K.publisher(id), { ...publisher, secret_hash: secretHash(apiSecret) })
      .set(K.apiKey(apiKey), id)
      .sadd(K.publisherIndex, id)
      .exec();
    return { ...publisher, api_secret: apiSecret };
  }

  /** A new key and secret for a publisher; the old key stops working. */
  async rotatePublisherSecret(id: string): Promise<PublisherCredentials> {
    const existing = await this.getPublisher(id);
    if (!existing) throw new HeliographError("PUBLISHER_NOT_FOUND");
    const apiKey = `hgk_${randomBytes(12).toString("hex")}`;
    const apiSecret = newSecret("hgs");
    await this.redis
      .multi()
      .del(K.apiKey(existing.api_key))
      .hset(K.publisher(id), { api_key: apiKey, secret_hash: secretHash(apiSecret) })
      .set(K.apiKey(apiKey), id)
      .exec();
    this.cache.clear();
    return { ...existing, api_key: apiKey, api_secret: apiSecret };
  }

  async getPublisher(id: string): Promise<Publisher | undefined> {
    const h = await this.redis.hgetall(K.publisher(id));
    if (!h.id) return undefined;
    return { id: h.id, name: h.name ?? "", api_key: h.api_key ?? "", created_at: h.created_at ?? "" };
  }

  async listPublishers(): Promise<Publisher[]> {
    const ids = (await this.redis.smembers(K.publisherIndex)).sort();
    return (await Promise.all(ids.map((id) => this.getPublisher(id)))).filter((p): p is Publisher => !!p);
  }

  /** The publisher id for a key and secret, or a 401 error. */
  async authenticatePublisher(apiKey: string | undefined, apiSecret: string | undefined): Promise<string> {
    if (!apiKey || !apiSecret) {
      throw new HeliographError("AUTH_MISSING", { message: "Send the API-KEY and API-SECRET headers" });
    }
    const found = await this.cached(`pub:${apiKey}`, async () => {
      const id = await this.redis.get(K.apiKey(apiKey));
      const hash = id ? await this.redis.hget(K.publisher(id), "secret_hash") : null;
      return { id, hash };
    });
    // An unknown key is compared too (against a dummy), so it answers as slowly as a wrong secret.
    if (!secretComparison.matches(apiSecret, storedDigest(found.hash)) || !found.id)
      throw new HeliographError("AUTH_INVALID", { message: "API-KEY or API-SECRET is not valid" });
    return found.id;
  }

  async createResource(req: CreateResourceRequest): Promise<Resource> {
    if (!(await this.getPublisher(req.publisher_id)))
      throw new HeliographError("PUBLISHER_NOT_FOUND", {
        details: [{ path: "publisher_id", message: "no such publisher" }],
      });
    const id = req.id ?? (await this.nextFreeId(K.resourceSeq, K.resource));
    const resource: Resource = {
      id,
      publisher_id: req.publisher_id,
      title: req.title,
      key_value_type_pairs: req.key_value_type_pairs,
      stream_id: resourceStreamId(id),
      created_at: new Date().toISOString(),
    };
    const ok = await this.redis.set(K.resource(id), JSON.stringify(resource), "NX");
    if (ok !== "OK")
      throw new HeliographError("RESOURCE_EXISTS", {
        message: `resource ${id} exists`,
        details: [{ path: "id", message: "exists" }],
      });
    await this.redis.sadd(K.resourceIndex, String(id));
    return resource;
  }

  async getResource(id: number): Promise<Resource | undefined> {
    return this.cached(`res:${id}`, async () => {
      const raw = await this.redis.get(K.resource(id));
      return raw ? (JSON.parse(raw) as Resource) : undefined;
    });
  }

  async listResources(): Promise<Resource[]> {
    const ids = (await this.redis.smembers(K.resourceIndex)).map(Number).sort((a, b) => a - b);
    return (await Promise.all(ids.map((id) => this.getResource(id)))).filter((r): r is Resource => !!r);
  }

  async createAlgorithm(req: CreateAlgorithmRequest): Promise<Algorithm> {
    if (!(await this.getPublisher(req.publisher_id)))
      throw new HeliographError("PUBLISHER_NOT_FOUND", {
        details: [{ path: "publisher_id", message: "no such publisher" }],
      });
    const id = req.id ?? (await this.nextFreeId(K.algorithmSeq, K.algorithm));
    const algorithm: Algorithm = {
      id,
      publisher_id: req.publisher_id,
      name: req.name,
      stream_id: algorithmStreamId(id),
      created_at: new Date().toISOString(),
    };
    const ok = await this.redis.set(K.algorithm(id), JSON.stringify(algorithm), "NX");
    if (ok !== "OK")
      throw new HeliographError("ALGORITHM_EXISTS", {
        message: `algorithm ${id} exists`,
        details: [{ path: "id", message: "exists" }],
      });
    await this.redis.sadd(K.algorithmIndex, String(id));
    return algorithm;
  }

  async getAlgorithm(id: number): Promise<Algorithm | undefined> {
    return this.cached(`alg:${id}`, async () => {
      const raw = await this.redis.get(K.algorithm(id));
      return raw ? (JSON.parse(raw) as Algorithm) : undefined;
    });
  }

  async listAlgorithms(): Promise<Algorithm[]> {
    const ids = (await this.redis.smembers(K.algorithmIndex)).map(Number).sort((a, b) => a - b);
    return (await Promise.all(ids.map((id) => this.getAlgorithm(id)))).filter((a): a is Algorithm => !!a);
  }

  async createIdeaChannel(req: CreateIdeaChannelRequest): Promise<IdeaChannel> {
    if (!(await this.getPublisher(req.publisher_id)))
      throw new HeliographError("PUBLISHER_NOT_FOUND", {
        details: [{ path: "publisher_id", message: "no such publisher" }],
      });
    const channel: IdeaChannel = {
      id: req.id,
      publisher_id: req.publisher_id,
      title: req.title,
      stream_id: ideasStreamId(req.id),
      created_at: new Date().toISOString(),
    };
    const ok = await this.redis.set(K.ideaChannel(req.id), JSON.stringify(channel), "NX");
    if (ok !== "OK")
      throw new HeliographError("IDEA_CHANNEL_EXISTS", {
        message: `idea channel ${req.id} exists`,
        details: [{ path: "id", message: "exists" }],
      });
    await this.redis.sadd(K.ideaChannelIndex, req.id);
    return channel;
  }

  async getIdeaChannel(id: string): Promise<IdeaChannel | undefined> {
    return this.cached(`chan:${id}`, async () => {
      const raw = await this.redis.get(K.ideaChannel(id));
      return raw ? (JSON.parse(raw) as IdeaChannel) : undefined;
    });
  }

  async listIdeaChannels(): Promise<IdeaChannel[]> {
    const ids = (await this.redis.smembers(K.ideaChannelIndex)).sort();
    return (await Promise.all(ids.map((id) => this.getIdeaChannel(id)))).filter((c): c is IdeaChannel => !!c);
  }

  async createSubscriber(req: CreateSubscriberRequest): Promise<SubscriberCredentials> {
    const id = req.id ?? `sub-${randomUUID().slice(0, 8)}`;
    const token = newSecret("hgt");
    const created = await this.redis.hsetnx(K.subscriber(id), "id", id);
    if (!created)
      throw new HeliographError("SUBSCRIBER_EXISTS", {
        message: `subscriber ${id} exists`,
        details: [{ path: "id", message: "exists" }],
      });
    const createdAt = new Date().toISOString();
    const tx = this.redis
      .multi()
      .hset(K.subscriber(id), { id, name: req.name, created_at: createdAt, token_hash: secretHash(token) })
      .set(K.tokenHash(secretHash(token)), id)
      .sadd(K.subscriberIndex, id);
    if (req.streams.length > 0) tx.sadd(K.subscriberStreams(id), ...req.streams);
    await tx.exec();
    return { id, name: req.name, streams: [...new Set(req.streams)].sort(), created_at: createdAt, token };
  }

  async getSubscriber(id: string): Promise<Subscriber | undefined> {
    const h = await this.redis.hgetall(K.subscriber(id));
    if (!h.id) return undefined;
    const streams = (await this.redis.smembers(K.subscriberStreams(id))).sort();
    return { id: h.id, name: h.name ?? "", streams, created_at: h.created_at ?? "" };
  }

  async listSubscribers(): Promise<Subscriber[]> {
    const ids = (await this.redis.smembers(K.subscriberIndex)).sort();
    return (await Promise.all(ids.map((id) => this.getSubscriber(id)))).filter((s): s is Subscriber => !!s);
  }

  async setEntitlements(id: string, streams: StreamId[]): Promise<Subscriber> {
    if (!(await this.getSubscriber(id))) throw new HeliographError("SUBSCRIBER_NOT_FOUND");
    const tx = this.redis.multi().del(K.subscriberStreams(id));
    if (streams.length > 0) tx.sadd(K.subscriberStreams(id), ...streams);
    await tx.exec();
    this.cache.clear();
    return (await this.getSubscriber(id)) as Subscriber;
  }

  /** The subscriber id of a bearer token, or a 401 error. */
  async authenticateSubscriber(authorization: string | undefined): Promise<string> {
    const match = authorization ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
    if (!match) throw new HeliographError("AUTH_MISSING", { message: "Send Authorization: Bearer <token>" });
    const token = match[1] as string;
    const hash = secretHash(token);
    const found = await this.cached(`tok:${hash}`, async () => {
      const id = await this.redis.get(K.tokenHash(hash));
      const stored = id ? await this.redis.hget(K.subscriber(id), "token_hash") : null;
      return { id, stored };
    });
    // Found by its hash, the token is still compared with the subscriber's stored one (and an
    // unknown token with a dummy), so every token takes the same path as for publishers.
    if (!secretComparison.matches(token, storedDigest(found.stored)) || !found.id)
      throw new HeliographError("AUTH_INVALID", { message: "The bearer token is not valid" });
    return found.id;
  }

  async isEntitled(subscriberId: string, streamId: StreamId): Promise<boolean> {
    return this.cached(
      `ent:${subscriberId}:${streamId}`,
      async () => (await this.redis.sismember(K.subscriberStreams(subscriberId), streamId)) === 1,
    );
  }

  private async nextFreeId(seqKey: string, keyOf: (id: number) => string): Promise<number> {
    for (;;) {
      const id = await this.redis.incr(seqKey);
      if (!(await this.redis.exists(keyOf(id)))) return id;
    }
  }
}

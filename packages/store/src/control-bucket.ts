import { isTransientJetStreamFailure, JetStreamErrorCodes } from "@heliograph/contracts";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** The NATS KV bucket of the control plane (its JetStream stream is `KV_heliograph-control`). */
export const CONTROL_BUCKET = "heliograph-control";

/**
 * Key layout of the control-plane bucket (docs/architecture.md, "The control plane"). Every id is
 * one key token; `controlKeyToken` says which presented strings may be looked up at all.
 */
export const controlKeys = {
  /** Publisher record: `StoredPublisher` JSON (with the SHA-256 of its secret). */
  publisher: (id: string) => `publisher.${id}`,
  /** API key → publisher id. A hint only: authentication also checks the record names this key. */
  apiKey: (apiKey: string) => `api-key.${apiKey}`,
  /** Resource JSON (with its key schema). */
  resource: (id: number) => `resource.${id}`,
  /** Algorithm JSON. */
  algorithm: (id: number) => `algorithm.${id}`,
  /** Idea channel JSON. */
  ideaChannel: (id: string) => `channel.${id}`,
  /** Subscriber record: `StoredSubscriber` JSON (token SHA-256 and the entitled streams, one key). */
  subscriber: (id: string) => `subscriber.${id}`,
  /** SHA-256 of a bearer token → subscriber id; a hint like `apiKey`. */
  tokenHash: (hash: string) => `token.${hash}`,
  /** Webhook endpoint: `StoredWebhookEndpoint` JSON (with its signing secret, which signing needs as is). */
  webhook: (id: string) => `webhook.${id}`,
  /** Last id handed out for resources without an explicit id (compare-and-set counter). */
  resourceSeq: "seq.resource",
  /** Last id handed out for algorithms without an explicit id. */
  algorithmSeq: "seq.algorithm",
  /** Wildcards for listing one kind. */
  all: {
    publishers: "publisher.*",
    resources: "resource.*",
    algorithms: "algorithm.*",
    ideaChannels: "channel.*",
    subscribers: "subscriber.*",
    webhooks: "webhook.*",
  },
} as const;

/** The subscriber id a control-plane key holds the record of; undefined for any other key. */
export const subscriberOfControlKey = (key: string): string | undefined =>
  key.startsWith("subscriber.") ? key.slice("subscriber.".length) : undefined;

/**
 * Whether a presented string (an id from a path, an API key from a header) can be one key token.
 * Anything else cannot name a stored entry, so it is not looked up (the KV client would throw).
 */
export const controlKeyToken = (s: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(s);

export interface ControlBucketSettings {
  /** Replicas of the bucket's stream: the services' JETSTREAM_REPLICAS, like INGEST and EVENTS. */
  replicas: number;
  /** How long JetStream may stay unavailable before opening fails (default 30 s). */
  retryForMs?: number;
}

const OPEN_RETRY_FOR_MS = 30_000;

/**
 * Creates the control-plane bucket or opens it, and brings an existing bucket's replicas to the
 * configured count (the client's create only creates). File storage, history 1: the control plane
 * needs each key's current value and its revision (for compare-and-set), not its past.
 *
 * Direct gets are off: with them, a replica that lags may answer a read, and an admin write would
 * not be seen by the next read (a publisher created and at once refused). Reads are rare anyway:
 * every service caches them (`ControlCache`).
 */
export async function openControlBucket(nc: NatsConnection, settings: ControlBucketSettings): Promise<KV> {
  const deadline = Date.now() + (settings.retryForMs ?? OPEN_RETRY_FOR_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      const kv = await new Kvm(nc).create(CONTROL_BUCKET, {
        replicas: settings.replicas,
        history: 1,
        storage: StorageType.File,
        allow_direct: false,
        description: "Heliograph control plane: publishers, resources, algorithms, idea channels, subscribers",
      });
      const status = await kv.status();
      if (status.replicas !== settings.replicas) {
        const jsm = await jetstreamManager(nc);
        const config: StreamConfig = { ...status.streamInfo.config, num_replicas: settings.replicas };
        await jsm.streams.update(config.name, config);
      }
      return kv;
    } catch (err) {
      // Services start together: another one may create the stream between our info and add, and
      // JetStream may not answer yet on a fresh cluster. A refusal of the request itself is final.
      const delay = Math.min(100 * 2 ** attempt, 2_000);
      if (!openWorthRetrying(err) || Date.now() + delay > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Worth another try (isTransientJetStreamFailure), and also: the stream name in use or, on
 * nats-server 2.9, a subject overlap, while another service creates the same bucket (the next
 * attempt finds it; a real overlap fails again).
 */
function openWorthRetrying(err: unknown): boolean {
  return isTransientJetStreamFailure(err, err instanceof JetStreamApiError ? err : undefined, [
    JetStreamErrorCodes.StreamNameInUse,
    JetStreamErrorCodes.StreamSubjectOverlap,
  ]);
}

/** A create or compare-and-set that found the key at another revision (it exists, or it changed). */
export function isRevisionConflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence;
}

import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  INGEST_STREAM,
  INGEST_SUBJECTS,
  isTransientJetStreamFailure,
  JetStreamErrorCodes,
} from "@heliograph/contracts";
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { createLogger } from "./logger.js";
import type { NatsCredentials } from "./nats-permissions.js";

export type { NatsConnection } from "@nats-io/nats-core";

/** Where and as whom to connect: a URL list and a role's credentials (a testkit server handle is one). */
export interface NatsTarget {
  url: string;
  /** None: connect anonymously, which a server with auth on refuses. */
  credentials?: NatsCredentials | undefined;
}

/**
 * Connects to NATS and keeps reconnecting forever: a service outlives a NATS restart. Status
 * changes are logged; the connection's own buffering covers the gap for publishes. Requests and
 * JetStream consumers reply under the credentials' inbox prefix, the only one the role may read.
 */
export async function connectNats(target: string | NatsTarget, log: Logger, name: string): Promise<NatsConnection> {
  const { url, credentials } = typeof target === "string" ? { url: target, credentials: undefined } : target;
  const nc = await connect({
    servers: url.split(","),
    name,
    ...(credentials
      ? {
          user: credentials.user,
          pass: credentials.password,
          ...(credentials.inboxPrefix ? { inboxPrefix: credentials.inboxPrefix } : {}),
        }
      : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 3,
    // Otherwise every request (each JetStream publish) builds two Error objects up front for
    // their stack traces: about a third of the sequencer's CPU when draining a backlog.
    noAsyncTraces: true,
  });
  const natsLog = log.child({ component: "nats" });
  natsLog.info({ server: nc.getServer() }, "connected to NATS");
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "error") natsLog.warn({ status }, "NATS connection status");
      else if (status.type === "reconnect") natsLog.info({ status }, "NATS reconnected");
      else natsLog.debug({ status }, "NATS connection status");
    }
  })();
  return nc;
}

export interface StreamSettings {
  replicas: number;
  /** INGEST byte limit; when it is full, publishes are refused (503), never dropped. */
  ingestMaxBytes?: number;
  /** Window in which JetStream drops a repeated Nats-Msg-Id. */
  duplicateWindowMs?: number;
  /** EVENTS removes events older than this (0 or unset: whatever their age). */
  eventsMaxAgeSeconds?: number;
  /** EVENTS keeps at most this many events per stream (0 or unset: all). */
  eventsMaxMsgsPerSubject?: number;
  /** Each retry is logged here at warn (default: a logger of its own). */
  log?: Logger;
  /** How long JetStream may stay unavailable before ensureStreams fails (default 30 s). */
  retryForMs?: number;
}

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

const ENSURE_RETRY_FOR_MS = 30_000;
const ensureBackoffMs = (attempt: number) => Math.min(100 * 2 ** attempt, 2_000) * (0.5 + Math.random() / 2);

/**
 * Creates INGEST and EVENTS, or updates their settings. Every service calls it at start, so
 * whichever starts first makes them; the configuration is identical everywhere.
 *
 * On a fresh cluster the JetStream API answers nothing (timeouts, no responders) or "temporarily
 * unavailable" until its meta leader is elected, and every service starts at that moment: so each
 * call is retried with a capped backoff for up to `retryForMs` before the error is thrown. A
 * refusal of the request itself (a 4xx API error, such as a bad configuration) fails at once.
 */
export async function ensureStreams(nc: NatsConnection, settings: StreamSettings): Promise<JetStreamManager> {
  const log = settings.log ?? createLogger({ name: "nats" });
  const deadline = Date.now() + (settings.retryForMs ?? ENSURE_RETRY_FOR_MS);
  const retrying = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        const delay = ensureBackoffMs(attempt);
        if (!isTransientJetStreamError(err) || Date.now() + delay > deadline) throw err;
        log.warn({ err, attempt, what, retryInMs: Math.round(delay) }, "JetStream not ready; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
  const jsm = await retrying("JetStream account info", () => jetstreamManager(nc));
  const duplicateWindow = ms(settings.duplicateWindowMs ?? 10 * 60_000);
  const ingest = {
    name: INGEST_STREAM,
    subjects: [INGEST_SUBJECTS],
    storage: StorageType.File,
    // Acked messages are removed, so a recreated consumer with deliver_policy all starts at the
    // oldest unnumbered publish: the sequencer resyncs its order that way.
    retention: RetentionPolicy.Workqueue,
    // New publishes are refused when full: the gateway answers 503 rather than losing old ones.
    discard: DiscardPolicy.New,
    max_bytes: settings.ingestMaxBytes ?? 1024 * 1024 * 1024,
    num_replicas: settings.replicas,
    duplicate_window: duplicateWindow,
  };
  const events = {
    name: EVENTS_STREAM,
    subjects: [EVENTS_SUBJECTS],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    // EVENTS is the record Redis is rebuilt from: it keeps everything unless configured otherwise.
    // A per-subject cap bounds each stream alike (a stream-wide cap would let a busy stream evict a
    // quiet one's whole history).
    max_age: ms((settings.eventsMaxAgeSeconds ?? 0) * 1_000),
    max_msgs_per_subject: settings.eventsMaxMsgsPerSubject ? settings.eventsMaxMsgsPerSubject : -1,
    num_replicas: settings.replicas,
    duplicate_window: duplicateWindow,
  };
  for (const config of [ingest, events]) {
    // Each call is idempotent, so a retry may safely repeat one that took effect but timed out.
    await retrying(`stream ${config.name}`, async () => {
      try {
        await jsm.streams.info(config.name);
        await jsm.streams.update(config.name, config);
      } catch (err) {
        if (!isStreamNotFound(err)) throw err;
        try {
          await jsm.streams.add(config);
        } catch (addErr) {
          // Another service created it between our two calls. nats-server 2.9 answers a concurrent
          // create of the same stream either way: "name already in use", or "subjects overlap"
          // while the other create is still being applied; the latter counts only once a stream
          // of our name holds those subjects (else another stream really overlaps ours).
          if (isJetStreamApiError(addErr, JetStreamErrorCodes.StreamNameInUse)) return;
          if (!isJetStreamApiError(addErr, JetStreamErrorCodes.StreamSubjectOverlap)) throw addErr;
          const existing = await jsm.streams.info(config.name).catch(() => undefined);
          if (!existing?.config.subjects?.every((subject) => config.subjects.includes(subject))) throw addErr;
        }
      }
    });
  }
  return jsm;
}

/** Worth another try while the servers come up (see isTransientJetStreamFailure). */
function isTransientJetStreamError(err: unknown): boolean {
  return isTransientJetStreamFailure(err, err instanceof JetStreamApiError ? err : undefined);
}

/**
 * True when the JetStream API refused a request with `code` (its `err_code`, e.g. one of
 * `JetStreamApiCodes`). The client's own subclasses (ConsumerNotFoundError, ...) carry it too.
 */
export function isJetStreamApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

export const isStreamNotFound = (err: unknown): boolean => isJetStreamApiError(err, JetStreamApiCodes.StreamNotFound);

export const isConsumerNotFound = (err: unknown): boolean =>
  isJetStreamApiError(err, JetStreamApiCodes.ConsumerNotFound);

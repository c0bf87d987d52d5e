import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookAttempt,
  webhookId,
} from "@heliograph/contracts";
import type { Counter, Histogram, Logger, Redis } from "@heliograph/platform";
import {
  advanceWebhookPosition,
  type ControlPlane,
  readWebhookPosition,
  recordWebhookAttempt,
  renewWebhookLease,
  type StoredWebhookEndpoint,
  webhookFailingSince,
} from "@heliograph/store";
import type { WebhookSettings } from "./config.js";
import { EventsEvictedError } from "./event-texts.js";
import { webhookSignatures } from "./signature.js";
import { postWebhook } from "./webhook-post.js";

/** Events read per look. */
const BATCH = 100;

export interface WorkerDeps {
  redis: Redis;
  controlPlane: ControlPlane;
  readEvents: (streamId: string, after: number, count: number) => Promise<string[]>;
  config: WebhookSettings;
  /** This instance's id: the lease's holder. */
  instanceId: string;
  log: Logger;
  attempts: Counter<"outcome">;
  latency: Histogram;
  /** Told when the worker ends by itself (lease lost, endpoint paused), so it can be restarted later. */
  onEnd: () => void;
}

/** A delay the next attempt waits: exponential from the base, capped, with full jitter in its upper half. */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 40));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Delivers one endpoint's events, one at a time in number order, while this instance holds the
 * endpoint's lease: read the position, read the next events, POST each until a 2xx (retrying with
 * backoff), then advance the position (compare-and-set, so a replay made meanwhile wins).
 */
export class EndpointWorker {
  private stopped = false;
  /** Ends an idle wait (new events); a retry's backoff is not cut short by them. */
  private wakeUp: (() => void) | undefined;
  /** Ends any wait (stop). */
  private interrupt: (() => void) | undefined;
  private readonly renewal: NodeJS.Timeout;
  readonly done: Promise<void>;

  constructor(
    private endpoint: StoredWebhookEndpoint,
    private readonly deps: WorkerDeps,
  ) {
    const ttl = deps.config.WEBHOOK_LEASE_MS;
    this.renewal = setInterval(
      () => {
        renewWebhookLease(deps.redis, endpoint.id, deps.instanceId, ttl)
          .then((held) => {
            if (!held) {
              deps.log.warn({ endpoint: endpoint.id }, "lost the endpoint's lease; another instance delivers now");
              this.stop();
            }
          })
          .catch((err: unknown) => deps.log.warn({ err, endpoint: endpoint.id }, "renewing the lease failed"));
      },
      Math.max(100, Math.floor(ttl / 3)),
    );
    this.done = this.run().finally(() => {
      clearInterval(this.renewal);
      deps.onEnd();
    });
  }

  get streamId(): string {
    return this.endpoint.stream_id;
  }

  /** The record changed (URL, status): the next delivery uses it. */
  update(endpoint: StoredWebhookEndpoint): void {
    this.endpoint = endpoint;
    if (endpoint.status !== "active") this.stop();
  }

  /** New events may be there. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops after the delivery in flight (its answer still counts). */
  stop(): void {
    this.stopped = true;
    this.interrupt?.();
  }

  private async sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
      if (wakeable) this.wakeUp = done;
    });
    this.wakeUp = undefined;
    this.interrupt = undefined;
  }

  private async run(): Promise<void> {
    const { redis, log } = this.deps;
    while (!this.stopped) {
      try {
        const stored = await readWebhookPosition(redis, this.endpoint.id);
        const position = stored ?? this.endpoint.start_after;
        const texts = await this.deps.readEvents(this.endpoint.stream_id, position, BATCH);
        if (texts.length === 0) {
          await this.sleep(this.deps.config.WEBHOOK_SCAN_MS, true);
          continue;
        }
        let expected = stored;
        for (const [i, text] of texts.entries()) {
          const eventNumber = position + 1 + i;
          if (!(await this.deliver(eventNumber, text, expected))) break;
          const advanced = await advanceWebhookPosition(
            redis,
            this.endpoint.id,
            expected,
            eventNumber,
            this.deps.instanceId,
          );
          if (advanced === "lease-lost") {
            // Taken over, or deleted with its position: reading on would start again from its start.
            log.warn({ endpoint: this.endpoint.id }, "the endpoint's lease is gone; stopping its deliveries");
            this.stop();
            break;
          }
          if (advanced === "moved") break; // a replay moved the position: read again
          expected = eventNumber;
          if (this.stopped) break;
        }
      } catch (err) {
        if (err instanceof EventsEvictedError) {
          await this.pause(err.message);
          return;
        }
        log.warn({ err, endpoint: this.endpoint.id }, "webhook delivery step failed; trying again");
        await this.sleep(this.deps.config.WEBHOOK_SCAN_MS, false);
      }
    }
  }

  /**
   * POSTs one event until a 2xx: true then; false when stopped, paused (retries ran out), or the
   * position moved from `expected` meanwhile (an operator's replay: it applies at once, even to
   * an event that keeps failing).
   */
  private async deliver(eventNumber: number, body: string, expected: number | null): Promise<boolean> {
    const { config, redis } = this.deps;
    const id = webhookId(this.endpoint.stream_id, eventNumber);
    for (let failures = 0; !this.stopped; ) {
      const timestamp = Math.floor(Date.now() / 1000);
      const outcome = await postWebhook(
        this.endpoint.url,
        {
          "content-type": "application/json",
          "user-agent": "Heliograph-Webhooks/1",
          [WEBHOOK_ID_HEADER]: id,
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: webhookSignatures(this.endpoint, id, timestamp, body),
        },
        body,
        { timeoutMs: config.WEBHOOK_TIMEOUT_MS, allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_TARGETS },
      );
      const ok = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
      const error = ok
        ? undefined
        : (outcome.error ??
          `the receiver answered ${outcome.status}${outcome.status! >= 300 && outcome.status! < 400 ? " (redirects are not followed)" : ""}`);
      const attempt: WebhookAttempt = {
        event_number: eventNumber,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        latency_ms: outcome.latencyMs,
        ...(error === undefined ? {} : { error }),
        at: new Date().toISOString(),
      };
      this.deps.attempts.inc({ outcome: ok ? "delivered" : outcome.status === undefined ? "no_answer" : "refused" });
      this.deps.latency.observe(outcome.latencyMs / 1000);
      await recordWebhookAttempt(redis, this.endpoint.id, attempt, config.WEBHOOK_LOG_SIZE);
      if (ok) return true;
      failures++;
      const since = await webhookFailingSince(redis, this.endpoint.id, eventNumber, Date.now());
      const delay = retryDelayMs(failures, config.WEBHOOK_RETRY_BASE_MS, config.WEBHOOK_RETRY_MAX_DELAY_MS);
      if (Date.now() + delay - since > config.WEBHOOK_RETRY_LIMIT_MS) {
        await this.pause(`event ${eventNumber}: ${error}`);
        return false;
      }
      await this.sleep(delay, false);
      if ((await readWebhookPosition(redis, this.endpoint.id)) !== expected) return false;
    }
    return false;
  }

  /** Retries ran out (or the events are gone): pause the endpoint with the error, for operators. */
  private async pause(lastError: string): Promise<void> {
    this.deps.log.warn({ endpoint: this.endpoint.id, lastError }, "pausing the webhook endpoint");
    await this.deps.controlPlane.setWebhookStatus(this.endpoint.id, "paused", lastError);
    this.stop();
  }
}

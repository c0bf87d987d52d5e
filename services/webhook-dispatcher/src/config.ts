import { BaseEnv, envBoolean, envInt } from "@heliograph/platform";
import { z } from "zod";

export const WebhookDispatcherEnv = BaseEnv.extend({
  HOST: z.string().min(1).default("127.0.0.1"),
  /** /healthz, /readyz and /metrics only: the dispatcher serves no API. */
  PORT: envInt(8083, 0, 65_535),
  /** How long a receiver has to answer one delivery; beyond it the attempt failed (and is retried). */
  WEBHOOK_TIMEOUT_MS: envInt(10_000, 100, 300_000),
  /** How long one event is retried before its endpoint is paused with the last error (default 24 h). */
  WEBHOOK_RETRY_LIMIT_MS: envInt(24 * 3_600_000, 0, 30 * 86_400_000),
  /** First retry delay; each next one doubles, with jitter, up to WEBHOOK_RETRY_MAX_DELAY_MS. */
  WEBHOOK_RETRY_BASE_MS: envInt(1_000, 1, 3_600_000),
  WEBHOOK_RETRY_MAX_DELAY_MS: envInt(10 * 60_000, 1, 86_400_000),
  /** Send to private, loopback or link-local addresses too (local development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: envBoolean(false),
  /**
   * An endpoint's lease: another instance takes over a dead one's endpoints this long after its
   * last renewal (renewed every third of it).
   */
  WEBHOOK_LEASE_MS: envInt(10_000, 300, 600_000),
  /**
   * How often the endpoint list is read from the control plane (new, paused, deleted endpoints)
   * and idle endpoints look for events a missed notice did not announce.
   */
  WEBHOOK_SCAN_MS: envInt(1_000, 50, 60_000),
  /** Attempts kept in each endpoint's delivery log. */
  WEBHOOK_LOG_SIZE: envInt(100, 1, 10_000),
});
export type WebhookDispatcherConfig = z.infer<typeof WebhookDispatcherEnv>;

/** What the dispatcher's delivery reads of its configuration. */
export type WebhookSettings = Pick<
  WebhookDispatcherConfig,
  | "WEBHOOK_TIMEOUT_MS"
  | "WEBHOOK_RETRY_LIMIT_MS"
  | "WEBHOOK_RETRY_BASE_MS"
  | "WEBHOOK_RETRY_MAX_DELAY_MS"
  | "WEBHOOK_ALLOW_PRIVATE_TARGETS"
  | "WEBHOOK_LEASE_MS"
  | "WEBHOOK_SCAN_MS"
  | "WEBHOOK_LOG_SIZE"
>;

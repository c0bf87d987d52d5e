import { z } from "zod";
import { StreamId } from "./stream-id.js";

/**
 * Webhook endpoints (issue 12, item 4): a subscriber's URL to which the webhook dispatcher POSTs
 * the events of one stream, in number order, signed per the Standard Webhooks specification.
 */

/** Prefix of a signing secret; the rest is base64 of 32 random bytes (Standard Webhooks' format). */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** Standard Webhooks headers of every delivery. */
export const WEBHOOK_ID_HEADER = "webhook-id";
export const WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const WEBHOOK_SIGNATURE_HEADER = "webhook-signature";

/** A delivery's `webhook-id`: the same for every attempt of one event, so receivers drop duplicates. */
export const webhookId = (streamId: StreamId, eventNumber: number): string => `${streamId}:${eventNumber}`;

const EndpointId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "id must match ^[a-z0-9][a-z0-9_-]{0,63}$");

/** `active`: delivering; `paused`: by an operator, or by the dispatcher once retries ran out (see last_error). */
export const WebhookEndpointStatus = z.enum(["active", "paused"]);
export type WebhookEndpointStatus = z.infer<typeof WebhookEndpointStatus>;

export const WebhookUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "must be an http or https URL");

export const CreateWebhookEndpointRequest = z.strictObject({
  subscriber_id: EndpointId,
  stream_id: StreamId,
  url: WebhookUrl,
  id: EndpointId.optional(),
  /** First event number to deliver; absent: only events numbered after the endpoint is created. */
  from: z.number().int().nonnegative().optional(),
});
export type CreateWebhookEndpointRequest = z.infer<typeof CreateWebhookEndpointRequest>;

export const WebhookEndpoint = z.object({
  id: z.string(),
  subscriber_id: z.string(),
  stream_id: StreamId,
  url: z.string(),
  status: WebhookEndpointStatus,
  /** Why the dispatcher paused it (the last attempt's error), until an operator resumes it. */
  last_error: z.string().optional(),
  /** The last event number before the first one delivered, as created (the position Redis falls back to). */
  start_after: z.number().int(),
  created_at: z.string(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** Returned once, at creation: the signing secret (`whsec_…`). */
export const WebhookEndpointCreated = WebhookEndpoint.extend({ secret: z.string() });
export type WebhookEndpointCreated = z.infer<typeof WebhookEndpointCreated>;

/** An endpoint with where its delivery stands. */
export const WebhookEndpointDetail = WebhookEndpoint.extend({
  /** The last event number delivered (answered 2xx) or skipped by a replay; the next is this + 1. */
  position: z.number().int(),
});
export type WebhookEndpointDetail = z.infer<typeof WebhookEndpointDetail>;

export const RotateWebhookSecretRequest = z.strictObject({
  /**
   * How long deliveries stay signed with the old secret too (Standard Webhooks allows several
   * signatures), so the receiver can switch without refusing any: default a day, 0 = at once.
   */
  grace_seconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(86_400),
});
export type RotateWebhookSecretRequest = z.infer<typeof RotateWebhookSecretRequest>;

export const ReplayWebhookRequest = z.strictObject({
  /** The next event number to deliver (earlier ones are delivered again, later ones skipped). */
  from: z.number().int().nonnegative(),
});
export type ReplayWebhookRequest = z.infer<typeof ReplayWebhookRequest>;

/** One delivery attempt, as the endpoint's delivery log keeps it. */
export const WebhookAttempt = z.object({
  event_number: z.number().int().nonnegative(),
  /** The receiver's HTTP status; absent when none came (timeout, refused connection, forbidden address). */
  status: z.number().int().optional(),
  latency_ms: z.number().nonnegative(),
  error: z.string().optional(),
  at: z.string(),
});
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

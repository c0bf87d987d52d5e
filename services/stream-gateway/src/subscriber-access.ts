import {
  type ErrorCode,
  errorResponses,
  HeliographError,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
  type StreamId,
} from "@heliograph/contracts";
import { fromBackingService, type Logger, type RateLimiter } from "@heliograph/platform";
import type { ControlPlane, StreamState } from "@heliograph/store";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The subscriber the request authenticated as; null outside the subscriber API. */
    subscriberId: string | null;
  }
}

/** Shared by every subscriber route: who the caller is, what they may read, how answers go out. */
export interface SubscriberAccess {
  /** The subscriber id of an `Authorization: Bearer` header, or a 401. */
  authenticate(authorization: string | undefined): Promise<string>;
  /** 403 whether or not the stream exists, so a subscriber cannot probe for stream ids. */
  requireEntitled(subscriberId: string, streamId: StreamId, paramPath?: string): Promise<void>;
  /**
   * For a held poll whose subscriber changed: the same token must still name the same subscriber
   * (else 401) and it must still be entitled to the stream (else 403). Not rate limited: the
   * client sent nothing.
   */
  stillAllowed(authorization: string | undefined, subscriberId: string, streamId: StreamId): Promise<void>;
}

export const AUTH_NOTE = "Authorization: Bearer <token>. A subscriber reads only the streams it is entitled to.";

/**
 * The OpenAPI error answers of a subscriber read: the stream id, then the route's own `codes`, then
 * authentication, entitlement, rate and backing-service refusals, each with the route's note.
 */
export const subscriberReadErrors = (codes: ErrorCode[], notes: Partial<Record<ErrorCode, string>>) =>
  errorResponses(
    [
      "STREAM_ID_INVALID",
      ...codes,
      "AUTH_MISSING",
      "AUTH_INVALID",
      "STREAM_FORBIDDEN",
      "RATE_LIMITED",
      "SERVICE_UNAVAILABLE",
    ],
    notes,
  );

export function invalid(code: ErrorCode, path: string, raw: unknown, why: string, message?: string): HeliographError {
  return new HeliographError(code, {
    ...(message ? { message } : {}),
    details: [{ path, message: `${JSON.stringify(raw)} ${why}` }],
  });
}

/** Redis or NATS trouble is a 503 the client can retry, not a 500; logged with what was being done. */
export function backend<T>(log: Logger, what: string, run: () => Promise<T>): Promise<T> {
  return fromBackingService(run, (err) => log.warn({ err }, `${what} failed`));
}

/**
 * The subscriber API's request identity: the `Authorization: Bearer` token is checked in an
 * onRequest hook, before any parameter (401, then 400, then 403), and the routes of the scope read
 * `req.subscriberId` (see {@link subscriberOf}).
 */
export function authenticateSubscribers(scope: FastifyInstance, access: SubscriberAccess): void {
  scope.decorateRequest("subscriberId", null);
  scope.addHook("onRequest", async (req) => {
    req.subscriberId = await access.authenticate(req.headers.authorization);
  });
}

/** The subscriber the request authenticated as (only inside the subscriber API). */
export function subscriberOf(req: FastifyRequest): string {
  if (req.subscriberId === null) throw new HeliographError("AUTH_MISSING");
  return req.subscriberId;
}

export function subscriberAccess(controlPlane: ControlPlane, log: Logger, limiter?: RateLimiter): SubscriberAccess {
  const authenticated = (authorization: string | undefined) =>
    backend(log, "authentication", () => controlPlane.authenticateSubscriber(authorization));
  const requireEntitled = async (subscriberId: string, streamId: StreamId, paramPath = "params.stream_id") => {
    const entitled = await backend(log, "entitlement check", () => controlPlane.isEntitled(subscriberId, streamId));
    if (!entitled) {
      throw new HeliographError("STREAM_FORBIDDEN", {
        details: [{ path: paramPath, message: `not entitled to ${JSON.stringify(streamId)}` }],
      });
    }
  };
  return {
    async authenticate(authorization) {
      const id = await authenticated(authorization);
      // After authentication, so a stranger cannot use up a subscriber's allowance.
      limiter?.check(id);
      return id;
    },
    requireEntitled,
    async stillAllowed(authorization, subscriberId, streamId) {
      const id = await authenticated(authorization);
      if (id !== subscriberId) throw new HeliographError("AUTH_INVALID", { message: "The bearer token is not valid" });
      await requireEntitled(id, streamId);
    },
  };
}

/**
 * Sends stored JSON text as it is (no parse, no re-serialisation) with the stream's head and
 * status, as every subscriber read does.
 */
export function sendStoredJson(reply: FastifyReply, body: string, state: StreamState): FastifyReply {
  return reply
    .header(STREAM_HEAD_HEADER, String(state.head))
    .header(STREAM_STATUS_HEADER, state.status)
    .header("cache-control", "no-store")
    .type("application/json; charset=utf-8")
    .send(body);
}

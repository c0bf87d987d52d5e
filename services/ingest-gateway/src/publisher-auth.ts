import { HeliographError, IdempotencyHeaders, PublisherAuthHeaders, PublishWaitHeaders } from "@heliograph/contracts";
import { fromBackingService, headersParsedByHooks, parseRequestPart, type RateLimiter } from "@heliograph/platform";
import type { ControlPlane } from "@heliograph/store";
import type { FastifyInstance, FastifyRequest } from "fastify";

/** What a publish asked for in its headers besides its credentials. */
export interface PublishOptions {
  /** The Idempotency-Key; undefined when none was sent. */
  idempotencyKey: string | undefined;
  /** How long to wait for the event number (X-Heliograph-Wait); 0 = answer 202 once stored. */
  waitMs: number;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The publisher the request authenticated as; null outside the publisher API. */
    publisherId: string | null;
    /** The publish's Idempotency-Key and wait, parsed with the credentials; null outside the publisher API. */
    publishOptions: PublishOptions | null;
  }
}

const PublishOptionHeaders = IdempotencyHeaders.extend(PublishWaitHeaders.shape);

/**
 * The publisher API's request identity: `API-KEY` + `API-SECRET`, as in the resources document,
 * then the Idempotency-Key and (on a POST) X-Heliograph-Wait, each parsed once, in an onRequest
 * hook, so an unauthenticated client cannot make the gateway parse (or buffer) a body. Routes of
 * the scope read `req.publisherId` and `req.publishOptions`; their `headers` schemas document.
 */
export function authenticatePublishers(scope: FastifyInstance, controlPlane: ControlPlane, limiter?: RateLimiter) {
  scope.decorateRequest("publisherId", null);
  scope.decorateRequest("publishOptions", null);
  headersParsedByHooks(scope);
  scope.addHook("onRequest", async (req) => {
    const credentials = parseRequestPart(PublisherAuthHeaders, req.headers, "headers");
    const publisherId = await fromBackingService(() =>
      controlPlane.authenticatePublisher(credentials["api-key"], credentials["api-secret"]),
    );
    // After authentication, so a stranger cannot use up a publisher's allowance.
    limiter?.check(publisherId);
    req.publisherId = publisherId;
    // A lookup waits for nothing: only its key is checked.
    const headers =
      req.method === "POST"
        ? parseRequestPart(PublishOptionHeaders, req.headers, "headers")
        : { ...parseRequestPart(IdempotencyHeaders, req.headers, "headers"), "x-heliograph-wait": 0 };
    req.publishOptions = { idempotencyKey: headers["idempotency-key"], waitMs: headers["x-heliograph-wait"] };
  });
}

/** The publisher the request authenticated as (only inside the publisher API). */
export function publisherOf(req: FastifyRequest): string {
  if (req.publisherId === null) throw new HeliographError("AUTH_MISSING");
  return req.publisherId;
}

/** The publish's parsed headers (only inside the publisher API). */
export function publishOptionsOf(req: FastifyRequest): PublishOptions {
  if (req.publishOptions === null) throw new HeliographError("AUTH_MISSING");
  return req.publishOptions;
}

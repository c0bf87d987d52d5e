import { HeliographError } from "@heliograph/contracts";
import type { RateLimiter } from "@heliograph/platform";
import { fromBackingService } from "@heliograph/platform";
import type { ControlPlane } from "@heliograph/store";
import type { FastifyRequest } from "fastify";

const publishers = new WeakMap<FastifyRequest, string>();

/**
 * onRequest hook of the publisher API: `API-KEY` + `API-SECRET`, as in the resources document.
 * It runs before the body is read, so an unauthenticated client cannot make the gateway parse
 * (or buffer) anything.
 */
export function publisherAuthHook(controlPlane: ControlPlane, limiter?: RateLimiter) {
  return async (req: FastifyRequest): Promise<void> => {
    const apiKey = singleHeader(req.headers["api-key"]);
    const apiSecret = singleHeader(req.headers["api-secret"]);
    const publisherId = await fromBackingService(() => controlPlane.authenticatePublisher(apiKey, apiSecret));
    // After authentication, so a stranger cannot use up a publisher's allowance.
    limiter?.check(publisherId);
    publishers.set(req, publisherId);
  };
}

/** The publisher the request was authenticated as (only inside the publisher API). */
export function publisherOf(req: FastifyRequest): string {
  const id = publishers.get(req);
  if (!id) throw new HeliographError("AUTH_MISSING");
  return id;
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value?.trim() || undefined;
}

/**
 * A model of the subscriber API's stream reads, written from the trade-ideas document and
 * docs/architecture.md, not from the gateway's code: of any raw request it says whether it must be answered
 * 200, or which code must refuse it. The checks run in the documented order: the HTTP parser and
 * the router, the bearer token, the stream id, event_number, batch_size, X-Long-Poll, entitlement.
 */
import { accepted, type Expectation, refused } from "./answer-checks.js";
import { headLimitExpectations, isControl, wireHeaders, wireTarget } from "./http-model.js";
import type { RawRequest } from "./raw-http.js";

export interface ReadWorld {
  /** Bearer token → the streams its subscriber is entitled to. */
  subscribers: Map<string, Set<string>>;
}

const MAX_PARAM_LENGTH = 256;
const REFUSED_TARGET = [refused("a space or control character in the request target", "MALFORMED_REQUEST")];
const PREFIX = "/api/v1/stream/";
const IDEAS_PREFIX = "/api/v1/ideas/";

export class ReadModel {
  constructor(private readonly world: ReadWorld) {}

  expect(req: RawRequest): Expectation[] {
    return headLimitExpectations(req, this.outcome(req));
  }

  private outcome(req: RawRequest): Expectation[] {
    const headers = wireHeaders(req.headers ?? []);
    if (headers.some(([, v]) => [...v].some(isControl))) {
      return [refused("a control character in a header", "MALFORMED_REQUEST")];
    }
    const wire = wireTarget(req.path);
    if (wire === undefined) return REFUSED_TARGET;
    const target = wire.split(/[?#]/, 1)[0] as string;
    let decoded: string[];
    try {
      decodeURIComponent(target);
      decoded = target.startsWith(PREFIX) ? target.slice(PREFIX.length).split("/").map(decodeURIComponent) : [];
    } catch {
      return [refused("bad percent-encoding in the path", "MALFORMED_REQUEST")];
    }
    // GET routes answer HEAD too.
    const read = req.method === "GET" || req.method === "HEAD";
    if (target.startsWith(IDEAS_PREFIX)) return this.ideas(read, target, headers);
    // The router refuses an over-long value wherever it tries one of the three parameters.
    if (read && decoded.slice(0, 3).some((s) => s.length > MAX_PARAM_LENGTH)) {
      return [refused("a path parameter over 256 characters", "URI_TOO_LONG")];
    }
    const batch = /^\/api\/v1\/stream\/([^/]*)\/([^/]*)\/([^/]*)$/.exec(target);
    const recent = /^\/api\/v1\/stream\/([^/]*)\/?$/.exec(target);
    if (!read || (!batch && !recent)) return [refused("no such route", "ROUTE_NOT_FOUND")];
    const [sid, n, b] = decoded as [string, string?, string?];
    const routed = this.routed(headers, sid, batch ? { n: n as string, b: b as string } : undefined);
    // Whether the router matches an empty parameter is its business: either answer is fair.
    if (decoded.slice(0, batch ? 3 : 1).some((s) => s === "")) {
      return [...routed, refused("an empty path segment", "ROUTE_NOT_FOUND")];
    }
    return routed;
  }

  /** GET /api/v1/ideas/:channel(/) and /api/v1/ideas/:channel/:idea_id; no idea was ever published here. */
  private ideas(read: boolean, target: string, headers: [string, string][]): Expectation[] {
    const decoded = target.slice(IDEAS_PREFIX.length).split("/").map(decodeURIComponent);
    if (read && decoded.slice(0, 2).some((s) => s.length > MAX_PARAM_LENGTH)) {
      return [refused("a path parameter over 256 characters", "URI_TOO_LONG")];
    }
    const open = /^\/api\/v1\/ideas\/([^/]*)\/?$/.test(target);
    const one = /^\/api\/v1\/ideas\/([^/]*)\/([^/]+)$/.test(target);
    if (!read || (!open && !one)) return [refused("no such route", "ROUTE_NOT_FOUND")];
    const [channel, ideaId] = decoded as [string, string?];
    const outcome = ((): Expectation[] => {
      const who = this.subscriber(headers);
      if (!Array.isArray(who)) return [who];
      const [entitled, limited] = who;
      if (!/^[a-z0-9][a-z0-9_-]{0,57}$/.test(channel))
        return [refused("a malformed channel", "STREAM_ID_INVALID"), limited];
      if (one && !/^[A-Za-z0-9_-]{1,64}$/.test(ideaId as string)) {
        return [refused("a malformed idea id", "VALIDATION_FAILED"), limited];
      }
      if (!entitled.has(`ideas-${channel}`)) return [refused("a channel not entitled", "STREAM_FORBIDDEN"), limited];
      return one ? [refused("an idea never published", "IDEA_NOT_FOUND"), limited] : [accepted(), limited];
    })();
    return channel === "" ? [...outcome, refused("an empty path segment", "ROUTE_NOT_FOUND")] : outcome;
  }

  /** The bearer token's entitlements (and the rate-limit refusal it may get), or its refusal. */
  private subscriber(headers: [string, string][]): Expectation | [Set<string>, Expectation] {
    // Node keeps the first Authorization of several.
    const authorization = headers.find(([n]) => n === "authorization")?.[1];
    const token = authorization === undefined ? undefined : /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization)?.[1];
    if (token === undefined) return refused("no bearer token", "AUTH_MISSING");
    const entitled = this.world.subscribers.get(token);
    if (!entitled) return refused("an unknown token", "AUTH_INVALID");
    // A subscriber over its allowance is refused whatever it asks; never the case at these rates, but fair.
    return [entitled, refused("over the subscriber's rate limit", "RATE_LIMITED")];
  }

  private routed(headers: [string, string][], sid: string, batch: { n: string; b: string } | undefined): Expectation[] {
    const who = this.subscriber(headers);
    if (!Array.isArray(who)) return [who];
    const [entitled, limited] = who;
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(sid))
      return [refused("a malformed stream id", "STREAM_ID_INVALID"), limited];
    if (batch) {
      const after = Number(batch.n);
      if (!/^-?\d{1,16}$/.test(batch.n) || !Number.isSafeInteger(after) || after < -1) {
        return [refused("event_number is not an integer >= -1", "EVENT_NUMBER_INVALID"), limited];
      }
      const size = Number(batch.b);
      if (!/^\d{1,16}$/.test(batch.b) || !Number.isSafeInteger(size) || size < 1) {
        return [refused("batch_size is not an integer >= 1", "BATCH_SIZE_INVALID"), limited];
      }
      // A repeated custom header reaches the server joined with ", ".
      const values = headers.filter(([name]) => name === "x-long-poll").map(([, v]) => v);
      const longPoll = values.length === 0 ? undefined : values.join(", ").trim();
      if (longPoll !== undefined && !(/^\d{1,3}(\.\d{1,3})?$/.test(longPoll) && Number(longPoll) <= 60)) {
        return [refused("X-Long-Poll is not 0 to 60 seconds", "LONG_POLL_INVALID"), limited];
      }
    }
    if (!entitled.has(sid)) return [refused("a stream the subscriber is not entitled to", "STREAM_FORBIDDEN"), limited];
    return [accepted(), limited];
  }
}

/**
 * A model of the publisher API, written from its contract (docs/architecture.md, docs/errors.md, the
 * contracts' zod schemas and each resource's declared key types), not from the gateway's code: it
 * says of any raw request whether it must be accepted, or which code must refuse it. The checks run
 * in the order the gateway documents: the HTTP parser and the router, credentials, the
 * Idempotency-Key and X-Heliograph-Wait headers, the body's media type, size and JSON, its schema,
 * the key's first answer, then ownership and content.
 */
import { IdeaChannelId, IdeaPublishRequest, TradingSignalRequest, UploadResourceRequest } from "@heliograph/contracts";
import { accepted, type Expectation, refused } from "./answer-checks.js";
import { frontDoor, headLimitExpectations, readBody, unrouted, wireHeaders } from "./http-model.js";
import type { RawRequest } from "./raw-http.js";

/** A declared key type, as the admin API stores it. */
type KeyDeclaration = string | { type: string; optional?: boolean };

/** What the control plane holds: who owns what, and each resource's declared keys. */
export interface PublishWorld {
  /** api_key → publisher id and secret. */
  publishers: Map<string, { id: string; secret: string }>;
  algorithms: Map<number, string>;
  resources: Map<number, { publisherId: string; pairs: Record<string, KeyDeclaration> }>;
  channels: Map<string, string>;
}

/** Where the router tries a path parameter, per method: the publisher API's two routes with one. */
const PARAM_PREFIXES: Record<string, RegExp> = {
  POST: /^\/api\/v1\/ideas\/([^/]*)/,
  GET: /^\/api\/v1\/publishes\/([^/]*)/,
};

type Route =
  | { kind: "signal" }
  | { kind: "resource" }
  | { kind: "idea"; segment: string; action: "open" | "update" | "close" }
  | { kind: "lookup"; segment: string };

export class PublishModel {
  /** First accepted request per publisher and Idempotency-Key: what a retry must repeat. */
  private readonly firstRequests = new Map<string, string>();

  constructor(private readonly world: PublishWorld) {}

  /**
   * What `req` must get, and `commit`, to call when it was accepted (it records the key's first
   * request, as the gateway does).
   */
  expect(req: RawRequest): { expected: Expectation[]; commit: () => void } {
    let commit = () => {};
    const outcome = this.outcome(req, (c) => {
      commit = c;
    });
    return { expected: headLimitExpectations(req, [outcome]), commit };
  }

  private outcome(req: RawRequest, onAccept: (commit: () => void) => void): Expectation {
    const headers = wireHeaders(req.headers ?? []);
    const door = frontDoor(req, PARAM_PREFIXES);
    if ("done" in door) return door.done;
    const target = door.target;
    const route = routeOf(req.method, target);
    if (!route) return unrouted(req, headers);

    // Credentials, then the Idempotency-Key and X-Heliograph-Wait headers (before the body is read).
    const apiKey = present(single(headers, "api-key"));
    const apiSecret = present(single(headers, "api-secret"));
    if (apiKey === undefined || apiSecret === undefined) return refused("no credentials", "AUTH_MISSING");
    const publisher = this.world.publishers.get(apiKey);
    if (!publisher || publisher.secret !== apiSecret) return refused("wrong credentials", "AUTH_INVALID");
    const key = single(headers, "idempotency-key");
    if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
      return refused("a malformed Idempotency-Key", "IDEMPOTENCY_KEY_INVALID");
    }
    if (route.kind === "lookup") return this.lookup(route.segment);
    const wait = single(headers, "x-heliograph-wait");
    if (wait !== undefined && !(/^\s*\d{1,3}(\.\d{1,6})?\s*$/.test(wait) && Number(wait) <= 30)) {
      return refused("a malformed X-Heliograph-Wait", "WAIT_INVALID");
    }

    const body = readBody(req, headers);
    if ("done" in body) return body.done;
    const value = body.value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return refused("a body that is not an object", "VALIDATION_FAILED");
    }
    if (route.kind === "idea" && !IdeaChannelId.safeParse(decodeURIComponent(route.segment)).success) {
      return refused("a malformed channel id", "VALIDATION_FAILED");
    }
    const schema =
      route.kind === "signal"
        ? TradingSignalRequest
        : route.kind === "resource"
          ? UploadResourceRequest
          : IdeaPublishRequest;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const conflict = parsed.error.issues.some(
        (i) => i.code === "custom" && (i.params as Record<string, unknown> | undefined)?.alias_conflict,
      );
      return conflict
        ? refused("a field and its alias disagree", "SIGNAL_FIELD_CONFLICT")
        : refused(`the schema refuses it: ${parsed.error.issues[0]?.message}`, "VALIDATION_FAILED");
    }

    // The key's first answer comes before any check of content: a retry gets it, another request a 422.
    const identity = `${req.method} ${req.path}\n${canonical(parsed.data)}`;
    const keyed = key === undefined ? undefined : `${publisher.id}\n${key}`;
    if (keyed !== undefined && this.firstRequests.has(keyed)) {
      return this.firstRequests.get(keyed) === identity
        ? accepted("a retry of an accepted request")
        : refused("an Idempotency-Key first used for another request", "IDEMPOTENCY_KEY_REUSED");
    }
    const content = this.content(route, parsed.data as Record<string, unknown>, publisher.id);
    if (content) return content;
    onAccept(() => {
      if (keyed !== undefined) this.firstRequests.set(keyed, identity);
    });
    return accepted();
  }

  /** Ownership and content, after the schema: what only the control plane knows. */
  private content(route: Route, body: Record<string, unknown>, publisherId: string): Expectation | undefined {
    if (route.kind === "signal") {
      if (body.order_type !== "market")
        return refused("an order type other than market", "SIGNAL_ORDER_TYPE_UNSUPPORTED");
      const owner = this.world.algorithms.get(body.algorithm_id as number);
      if (owner === undefined) return refused("an unknown algorithm", "ALGORITHM_NOT_FOUND");
      if (owner !== publisherId) return refused("another publisher's algorithm", "ALGORITHM_FORBIDDEN");
      return undefined;
    }
    if (route.kind === "resource") {
      const resource = this.world.resources.get(body.resource_id as number);
      if (resource === undefined) return refused("an unknown resource", "RESOURCE_NOT_FOUND");
      if (resource.publisherId !== publisherId) return refused("another publisher's resource", "RESOURCE_FORBIDDEN");
      const problem = dictProblem(resource.pairs, body.resource_dict as Record<string, unknown>);
      return problem ? refused(problem, "RESOURCE_VALUE_INVALID") : undefined;
    }
    if (route.kind === "idea") {
      const owner = this.world.channels.get(decodeURIComponent(route.segment));
      if (owner === undefined) return refused("an unknown idea channel", "IDEA_CHANNEL_NOT_FOUND");
      if (owner !== publisherId) return refused("another publisher's idea channel", "IDEA_CHANNEL_FORBIDDEN");
      const idea = body.idea as { state: string; close_timestamp: string | null };
      const closing = route.action === "close";
      if (idea.state !== (closing ? "closed" : "open") || (idea.close_timestamp === null) === closing) {
        return refused(`an idea body that does not fit ${route.action}`, "IDEA_BODY_INCONSISTENT");
      }
      // No sequencer runs in this suite: no idea is ever open, so only an open can pass.
      if (route.action !== "open") return refused(`${route.action} of an idea never opened`, "IDEA_NOT_OPEN");
      return undefined;
    }
    return undefined;
  }

  /** GET /publishes/:ingest_id: the ids asked for are never ones a publish was answered with. */
  private lookup(segment: string): Expectation {
    const id = decodeURIComponent(segment);
    if (id.length < 1 || id.length > 128) return refused("a malformed ingest id", "VALIDATION_FAILED");
    return refused("an ingest id nobody was answered with", "INGEST_NOT_FOUND");
  }
}

function routeOf(method: string, path: string): Route | undefined {
  if (method === "POST" && path === "/api/v1/create_trading_signal") return { kind: "signal" };
  if (method === "POST" && path === "/api/v1/upload_resource") return { kind: "resource" };
  const idea = /^\/api\/v1\/ideas\/([^/]*)\/(open|update|close)$/.exec(path);
  if (method === "POST" && idea) {
    return { kind: "idea", segment: idea[1] as string, action: idea[2] as "open" | "update" | "close" };
  }
  const lookup = /^\/api\/v1\/publishes\/([^/]*)$/.exec(path);
  if (method === "GET" && lookup) return { kind: "lookup", segment: lookup[1] as string };
  return undefined;
}

/** A custom header's value as Node gives it: several are joined with ", ". */
function single(headers: [string, string][], name: string): string | undefined {
  const values = headers.filter(([n]) => n === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(", ");
}

const present = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value.trim());

/** JSON with sorted keys: one text per value. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The resources document's rule: every declared key present (an optional one may be absent or
 * null), each value of its declared type, no other key. ARRAY takes an array or a keyed object,
 * as the document's own example sends.
 */
function dictProblem(pairs: Record<string, KeyDeclaration>, dict: Record<string, unknown>): string | undefined {
  for (const [key, decl] of Object.entries(pairs)) {
    const type = typeof decl === "string" ? decl : decl.type;
    const optional = typeof decl === "string" ? false : decl.optional === true;
    if (!Object.hasOwn(dict, key)) {
      if (optional) continue;
      return `${key} is missing`;
    }
    const value = dict[key];
    if (value === null && optional) continue;
    const fits: Record<string, boolean> = {
      STRING: typeof value === "string",
      NUMBER: typeof value === "number" && Number.isFinite(value),
      INTEGER: Number.isSafeInteger(value),
      BOOLEAN: typeof value === "boolean",
      ARRAY: typeof value === "object" && value !== null,
      OBJECT: typeof value === "object" && value !== null && !Array.isArray(value),
    };
    if (!fits[type]) return `${key} is not ${type}`;
  }
  const extra = Object.keys(dict).find((k) => !Object.hasOwn(pairs, k));
  return extra === undefined ? undefined : `${extra} is not declared`;
}

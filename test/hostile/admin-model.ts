/**
 * A model of the admin API from its contract: of any raw request it says whether it may be
 * accepted and which codes may refuse it. Routing, the admin token and the body's form and schema
 * are decided exactly (a request that fails them must be refused with that code, never accepted);
 * what depends on the control plane's state (exists, not found, not halted) is left open to the
 * codes the route documents.
 */
import {
  CreateAlgorithmRequest,
  CreateIdeaChannelRequest,
  CreatePublisherRequest,
  CreateResourceRequest,
  CreateSubscriberRequest,
  CreateWebhookEndpointRequest,
  type ErrorCode,
  IdeaChannelId,
  ReplayWebhookRequest,
  ResolveHaltRequest,
  RotateWebhookSecretRequest,
  SetEntitlementsRequest,
} from "@heliograph/contracts";
import { accepted, type Expectation, refused } from "./answer-checks.js";
import { frontDoor, headLimitExpectations, readBody, unrouted, wireHeaders } from "./http-model.js";
import type { RawRequest } from "./raw-http.js";

interface AdminRouteModel {
  method: string;
  path: RegExp;
  /** Whether the path parameter (decoded) passes the route's schema. */
  param?: (value: string) => boolean;
  body?: { safeParse(value: unknown): { success: boolean } };
  /** What the route may answer, beyond a 2xx, once the request is well formed. */
  codes: ErrorCode[];
}

const textId = (s: string) => s.length >= 1 && s.length <= 64;
const numericId = (s: string) => {
  const n = Number(s);
  return Number.isInteger(n) && n > 0 && n <= Number.MAX_SAFE_INTEGER;
};
const streamParam = (s: string) => s.length <= 128;
/** The stream id the handlers check after the schema (STREAM_ID_INVALID). */
const STREAM_CODES: ErrorCode[] = ["STREAM_ID_INVALID", "STREAM_NOT_FOUND"];

const ROUTES: AdminRouteModel[] = [
  { method: "POST", path: /^\/admin\/v1\/publishers$/, body: CreatePublisherRequest, codes: ["PUBLISHER_EXISTS"] },
  { method: "GET", path: /^\/admin\/v1\/publishers$/, codes: [] },
  { method: "GET", path: /^\/admin\/v1\/publishers\/([^/]*)$/, param: textId, codes: ["PUBLISHER_NOT_FOUND"] },
  {
    method: "POST",
    path: /^\/admin\/v1\/publishers\/([^/]*)\/rotate-secret$/,
    param: textId,
    codes: ["PUBLISHER_NOT_FOUND"],
  },
  { method: "POST", path: /^\/admin\/v1\/publishers\/([^/]*)\/revoke$/, param: textId, codes: ["PUBLISHER_NOT_FOUND"] },
  { method: "DELETE", path: /^\/admin\/v1\/publishers\/([^/]*)$/, param: textId, codes: ["PUBLISHER_NOT_FOUND"] },
  {
    method: "POST",
    path: /^\/admin\/v1\/resources$/,
    body: CreateResourceRequest,
    codes: ["RESOURCE_EXISTS", "PUBLISHER_NOT_FOUND"],
  },
  { method: "GET", path: /^\/admin\/v1\/resources$/, codes: [] },
  { method: "GET", path: /^\/admin\/v1\/resources\/([^/]*)$/, param: numericId, codes: ["RESOURCE_NOT_FOUND"] },
  {
    method: "POST",
    path: /^\/admin\/v1\/algorithms$/,
    body: CreateAlgorithmRequest,
    codes: ["ALGORITHM_EXISTS", "PUBLISHER_NOT_FOUND"],
  },
  { method: "GET", path: /^\/admin\/v1\/algorithms$/, codes: [] },
  { method: "GET", path: /^\/admin\/v1\/algorithms\/([^/]*)$/, param: numericId, codes: ["ALGORITHM_NOT_FOUND"] },
  { method: "POST", path: /^\/admin\/v1\/subscribers$/, body: CreateSubscriberRequest, codes: ["SUBSCRIBER_EXISTS"] },
  { method: "GET", path: /^\/admin\/v1\/subscribers$/, codes: [] },
  { method: "GET", path: /^\/admin\/v1\/subscribers\/([^/]*)$/, param: textId, codes: ["SUBSCRIBER_NOT_FOUND"] },
  {
    method: "POST",
    path: /^\/admin\/v1\/subscribers\/([^/]*)\/(?:rotate-token|revoke)$/,
    param: textId,
    codes: ["SUBSCRIBER_NOT_FOUND"],
  },
  { method: "DELETE", path: /^\/admin\/v1\/subscribers\/([^/]*)$/, param: textId, codes: ["SUBSCRIBER_NOT_FOUND"] },
  {
    method: "PUT",
    path: /^\/admin\/v1\/subscribers\/([^/]*)\/streams$/,
    param: textId,
    body: SetEntitlementsRequest,
    codes: ["SUBSCRIBER_NOT_FOUND"],
  },
  {
    method: "POST",
    path: /^\/admin\/v1\/channels$/,
    body: CreateIdeaChannelRequest,
    codes: ["IDEA_CHANNEL_EXISTS", "PUBLISHER_NOT_FOUND"],
  },
  { method: "GET", path: /^\/admin\/v1\/channels$/, codes: [] },
  {
    method: "GET",
    path: /^\/admin\/v1\/channels\/([^/]*)$/,
    param: (s) => IdeaChannelId.safeParse(s).success,
    codes: ["IDEA_CHANNEL_NOT_FOUND"],
  },
  {
    method: "POST",
    path: /^\/admin\/v1\/webhooks$/,
    body: CreateWebhookEndpointRequest,
    codes: ["WEBHOOK_EXISTS", "SUBSCRIBER_NOT_FOUND", "STREAM_FORBIDDEN", "WEBHOOK_TARGET_FORBIDDEN"],
  },
  { method: "GET", path: /^\/admin\/v1\/webhooks$/, codes: [] },
  {
    method: "GET",
    path: /^\/admin\/v1\/webhooks\/([^/]*)(?:\/attempts)?$/,
    param: textId,
    codes: ["WEBHOOK_NOT_FOUND"],
  },
  { method: "DELETE", path: /^\/admin\/v1\/webhooks\/([^/]*)$/, param: textId, codes: ["WEBHOOK_NOT_FOUND"] },
  {
    method: "POST",
    path: /^\/admin\/v1\/webhooks\/([^/]*)\/(?:pause|resume)$/,
    param: textId,
    codes: ["WEBHOOK_NOT_FOUND"],
  },
  {
    method: "POST",
    path: /^\/admin\/v1\/webhooks\/([^/]*)\/rotate-secret$/,
    param: textId,
    // No body and a JSON null both mean the default grace (the route's schema is nullish too).
    body: RotateWebhookSecretRequest.nullish(),
    codes: ["WEBHOOK_NOT_FOUND"],
  },
  {
    method: "POST",
    path: /^\/admin\/v1\/webhooks\/([^/]*)\/replay$/,
    param: textId,
    body: ReplayWebhookRequest,
    codes: ["WEBHOOK_NOT_FOUND"],
  },
  { method: "GET", path: /^\/admin\/v1\/halts$/, codes: [] },
  {
    method: "GET",
    path: /^\/admin\/v1\/streams\/([^/]*)\/halt$/,
    param: streamParam,
    codes: [...STREAM_CODES, "STREAM_NOT_HALTED"],
  },
  {
    method: "POST",
    path: /^\/admin\/v1\/streams\/([^/]*)\/resolve$/,
    param: streamParam,
    body: ResolveHaltRequest,
    codes: [...STREAM_CODES, "STREAM_NOT_HALTED", "HALT_CHANGED"],
  },
  { method: "GET", path: /^\/admin\/v1\/streams\/([^/]*)\/parked$/, param: streamParam, codes: STREAM_CODES },
  { method: "GET", path: /^\/admin\/v1\/streams\/([^/]*)$/, param: streamParam, codes: STREAM_CODES },
];

/** Where the router tries a parameter, per method. */
const PARAM_PREFIXES: Record<string, RegExp> = {
  GET: /^\/admin\/v1\/(?:publishers|resources|algorithms|subscribers|channels|webhooks|streams)\/([^/]*)/,
  POST: /^\/admin\/v1\/(?:publishers|subscribers|webhooks|streams)\/([^/]*)/,
  DELETE: /^\/admin\/v1\/(?:publishers|subscribers|webhooks)\/([^/]*)/,
  PUT: /^\/admin\/v1\/subscribers\/([^/]*)/,
};

export class AdminModel {
  constructor(private readonly adminToken: string) {}

  expect(req: RawRequest): Expectation[] {
    return headLimitExpectations(req, this.outcome(req));
  }

  private outcome(req: RawRequest): Expectation[] {
    const headers = wireHeaders(req.headers ?? []);
    const door = frontDoor(req, PARAM_PREFIXES);
    if ("done" in door) return [door.done];
    const route = ROUTES.find((r) => r.method === req.method && r.path.test(door.target));
    if (!route) return [unrouted(req, headers)];
    const raw = route.path.exec(door.target)?.[1];
    const param = raw === undefined ? undefined : decodeURIComponent(raw);
    const outcome = this.routed(req, headers, route, param);
    // Whether the router matches an empty parameter is its business: either answer is fair.
    return param === "" ? [...outcome, refused("an empty path segment", "ROUTE_NOT_FOUND")] : outcome;
  }

  private routed(
    req: RawRequest,
    headers: [string, string][],
    route: AdminRouteModel,
    param: string | undefined,
  ): Expectation[] {
    // Node keeps the first Authorization of several.
    const authorization = headers.find(([n]) => n === "authorization")?.[1];
    const token = authorization === undefined ? undefined : /^Bearer\s+(\S{1,1024})\s*$/i.exec(authorization)?.[1];
    if (token === undefined) return [refused("no bearer token", "AUTH_MISSING")];
    if (token !== this.adminToken) return [refused("a wrong admin token", "AUTH_INVALID")];
    let value: unknown;
    if (req.method !== "GET") {
      const body = readBody(req, headers);
      if ("done" in body) return [body.done];
      value = body.value;
    }
    if (param !== undefined && route.param && !route.param(param)) {
      return [refused("a path parameter the route's schema refuses", "VALIDATION_FAILED")];
    }
    if (route.body && !route.body.safeParse(value).success) {
      return [refused("a body the route's schema refuses", "VALIDATION_FAILED")];
    }
    return [accepted(), ...(route.codes.length > 0 ? [refused("the control plane's state", ...route.codes)] : [])];
  }
}

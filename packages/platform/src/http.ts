import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import {
  ALIAS_CONFLICT,
  detailsFromIssues,
  ErrorBody,
  type ErrorCode,
  errorCodeOfIssue,
  HeliographError,
  MAX_BODY_BYTES,
} from "@heliograph/contracts";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import { registeredOnce } from "./metrics.js";

export type HttpApp = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  Logger,
  ZodTypeProvider
>;

/** An encapsulated scope of an {@link HttpApp} (a plugin's `scope`), where routes are declared. */
export type HttpScope = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A named check for `/readyz`: resolves when the dependency answers. */
export type ReadinessCheck = { name: string; check: () => Promise<unknown> };

export interface HttpAppOptions {
  logger: Logger;
  service: string;
  description: string;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** Bounds on slow clients and open connections; {@link DEFAULT_HTTP_LIMITS} for what is not given. */
  limits?: Partial<HttpLimits>;
  /**
   * The credentials every documented route of the app requires, for its OpenAPI document: named
   * schemes, all of which a request carries (the publisher API's key and secret are two headers).
   */
  security?: Record<string, SecurityScheme>;
}

/** How a request authenticates, as OpenAPI describes it. */
export type SecurityScheme =
  | { type: "apiKey"; in: "header"; name: string; description: string }
  | { type: "http"; scheme: "bearer"; description: string };

/**
 * What a client may hold of a process (promise 8): the time to send a request's head, the time
 * to send the whole request, an idle keep-alive connection's life, and open connections.
 */
export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/** The same defaults as the configuration's (`BaseEnv`), for apps built without one (tests). */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 60_000,
});

export function httpLimitsOf(config: {
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
  MAX_CONNECTIONS: number;
}): HttpLimits {
  return {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: config.MAX_CONNECTIONS,
  };
}

/**
 * Sets the limits on the app's server; call it before `listen` (Node starts its check of
 * expired requests when the server starts listening).
 *
 * Node times a request from its first byte (or the connection's) until it is fully received,
 * then stops: the time to answer is not bounded here, so long polls hold their answer as long
 * as `X-Long-Poll` says. A connection idle between requests is bounded by the keep-alive timeout.
 */
export function applyHttpLimits(app: HttpApp, limits: HttpLimits): void {
  const server = app.server;
  server.requestTimeout = limits.requestTimeoutMs;
  // Node treats a head bound above the request bound as a misconfiguration.
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Node looks for expired requests every 30 s by default, which would let a 10 s bound run to
  // 40 s; it walks only connections with a request still arriving, so looking often is cheap.
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(
    1_000,
    Math.max(100, Math.floor(server.headersTimeout / 4)),
  );
}

export function sendError(reply: FastifyReply, error: HeliographError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header("retry-after", String(error.retryAfter));
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.statusCode).type("application/json").send(error.toBody());
}

/** Maps whatever was thrown to a Heliograph error with a stable code. */
export function toHeliographError(err: FastifyError | HeliographError | Error): HeliographError {
  if (err instanceof HeliographError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = (err as { validationContext?: string }).validationContext;
    return refusalOfIssues(
      err.validation.map((v) => ({
        path: v.instancePath.split("/").filter(Boolean),
        message: v.message ?? "invalid",
        params: (v.params as { params?: unknown }).params,
      })),
      context === "body" ? undefined : context,
    );
  }
  const fe = err as FastifyError;
  const byCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
    FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
    FST_ERR_CTP_EMPTY_JSON_BODY: "MALFORMED_JSON",
    FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_JSON",
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_FAILED",
    FST_ERR_BAD_URL: "MALFORMED_REQUEST",
    FST_ERR_MAX_PARAM_LENGTH: "URI_TOO_LONG",
  };
  const mapped = fe.code ? byCode[fe.code] : undefined;
  if (mapped) return new HeliographError(mapped, { cause: err });
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(err.message))) {
    return new HeliographError("MALFORMED_JSON", {
      message: `The request body is not valid JSON: ${err.message}`,
      cause: err,
    });
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HeliographError("VALIDATION_FAILED", { message: err.message, cause: err });
  }
  return new HeliographError("INTERNAL", { cause: err });
}

type Issue = { path: readonly PropertyKey[]; message: string; params?: unknown };

/**
 * The 400 of a refused request part: the code the first coded issue names (a header's or a
 * parameter's own, see contracts `ISSUE_ERROR_CODE`), else VALIDATION_FAILED; details name each
 * field under `part` (`headers.x-long-poll`, `params.event_number`; a body's fields bare).
 */
function refusalOfIssues(issues: readonly Issue[], part: string | undefined): HeliographError {
  const details = detailsFromIssues(issues, part);
  const conflict = issues.some((issue) => (issue.params as Record<string, unknown> | undefined)?.[ALIAS_CONFLICT]);
  const coded = issues.map((issue) => errorCodeOfIssue(issue.params)).find((code) => code !== undefined);
  const code: ErrorCode = coded ?? (conflict ? "SIGNAL_FIELD_CONFLICT" : "VALIDATION_FAILED");
  return new HeliographError(code, { details });
}

/**
 * Parses a request part (its headers, in a hook that runs before the body is read) with its
 * contracts schema, once: the parsed value, or the same 400 Fastify's own validation would give.
 */
export function parseRequestPart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: "headers" | "params",
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw refusalOfIssues(result.error.issues, part);
  return result.data;
}

/**
 * For a scope whose hooks parse the headers themselves (with {@link parseRequestPart}, before the
 * body is read): a route's `headers` schema then documents them in the OpenAPI document and is not
 * parsed a second time. Other parts are validated as usual. Handlers read what the hook parsed
 * (a request decoration), not `req.headers`: that holds the raw text whatever its declared type.
 */
export function headersParsedByHooks(scope: FastifyInstance): void {
  scope.setValidatorCompiler<z.ZodType>((route) =>
    route.httpPart === "headers" ? () => true : validatorCompiler(route),
  );
}

/**
 * A Fastify app with Heliograph's conventions: zod schemas for validation and OpenAPI, the error
 * body on every failure, `/healthz`, `/readyz`, `/metrics`, `/docs`, and 503 while shutting down.
 * It never listens by itself, so tests use `inject()` or `listen({ port: 0 })`.
 */
export async function createHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: MAX_BODY_BYTES,
    // Per-request lines would cost more than the request at ingest rates; 5xx are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
    requestIdHeader: "x-request-id",
    // Long polls are held up to a minute without a byte sent: no inactivity timeout on the
    // socket. Slow senders are bounded by the request timeouts instead (applyHttpLimits).
    connectionTimeout: 0,
    forceCloseConnections: "idle",
    routerOptions: { maxParamLength: 256 },
    // Errors the router raises before a route runs (bad percent-encoding, an over-long segment)
    // get the same error body as everything else.
    frameworkErrors: (err, _req, reply) => sendError(reply, toHeliographError(err)),
    // Requests Node's HTTP parser refuses never reach Fastify: answer them on the socket.
    clientErrorHandler: (err, socket) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      const error = new HeliographError(
        code === "HPE_HEADER_OVERFLOW"
          ? "HEADERS_TOO_LARGE"
          : code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? "REQUEST_TIMEOUT"
            : "MALFORMED_REQUEST",
      );
      const body = JSON.stringify(error.toBody());
      socket.end(
        `HTTP/1.1 ${error.statusCode} ${STATUS_TEXT[error.statusCode] ?? "Bad Request"}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  }).withTypeProvider<ZodTypeProvider>();
  applyHttpLimits(app as unknown as HttpApp, { ...DEFAULT_HTTP_LIMITS, ...options.limits });
  const dropped = registeredOnce(
    options.metrics,
    "heliograph_http_connections_dropped_total",
    (name) =>
      new Counter({
        name,
        help: "Connections closed on accept because the process held MAX_CONNECTIONS already",
        registers: [options.metrics],
      }),
  );
  app.server.on("drop", () => dropped.inc());
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Fastify parses text/plain by default; every body of every API is JSON or a 415.
  app.removeContentTypeParser("text/plain");

  let closing = false;
  app.addHook("onClose", async () => {
    closing = true;
  });
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (req, reply) => {
    if (closing && !req.url.startsWith("/healthz")) {
      reply.header("connection", "close");
      return sendError(reply, new HeliographError("SHUTTING_DOWN", { retryAfter: 1 }));
    }
  });

  // Handlers walk bodies recursively (validation, hashing, serialising); a body nested thousands
  // of levels deep would overflow the stack there, so it is refused up front.
  app.addHook("preValidation", async (req) => {
    if (req.body !== undefined && nestingDepthExceeds(req.body, MAX_BODY_DEPTH)) {
      throw new HeliographError("BODY_TOO_DEEP", {
        details: [{ path: "", message: `nests deeper than ${MAX_BODY_DEPTH} levels` }],
      });
    }
  });

  const duration = registeredOnce(
    options.metrics,
    "heliograph_http_request_duration_seconds",
    (name) =>
      new Histogram({
        name,
        help: "HTTP request duration by route and status",
        labelNames: ["method", "route", "status"] as const,
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
        registers: [options.metrics],
      }),
  );
  app.addHook("onResponse", async (req, reply) => {
    duration.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const error = toHeliographError(err as FastifyError);
    if (error.statusCode >= 500) req.log.error({ err }, "request failed");
    else req.log.debug({ code: error.code }, "request refused");
    return sendError(reply, error);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new HeliographError("ROUTE_NOT_FOUND", { message: `No route ${req.method} ${req.url.split("?")[0]}` }),
    ),
  );

  const security = options.security ?? {};
  await app.register(swagger, {
    openapi: {
      info: { title: `Heliograph ${options.service}`, description: options.description, version: "0.1.0" },
      ...(Object.keys(security).length === 0
        ? {}
        : {
            components: { securitySchemes: security },
            security: [Object.fromEntries(Object.keys(security).map((name) => [name, []]))],
          }),
    },
    transform: jsonSchemaTransform,
    // Schemas registered with an id (contracts' ErrorCode) become components, referenced once each.
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // Probes and scrapes carry no credentials, whatever the app's API requires.
  const operations = { tags: ["operations"], security: [] };
  app.get(
    "/healthz",
    {
      schema: {
        ...operations,
        summary: "Liveness: the process runs",
        description: "200 while the process runs, shutting down included: restart the process only when this fails.",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        ...operations,
        summary: "Readiness: NATS, Redis and the service's own checks answer",
        description:
          "200 with every check `ok`; otherwise 503 with each check's error (`checks`), or 503 SHUTTING_DOWN once " +
          "the process is stopping. Send traffic only to ready instances.",
        response: {
          200: ReadinessAnswer,
          503: z
            .union([ReadinessAnswer, ErrorBody])
            .describe("A check failed (the checks), or SHUTTING_DOWN (the error body)"),
        },
      },
    },
    async (_req, reply) => {
      const results = await Promise.all(
        options.readiness.map(async ({ name, check }) => {
          try {
            await withTimeout(check(), 1_000);
            return [name, "ok"] as const;
          } catch (err) {
            return [name, (err as Error).message] as const;
          }
        }),
      );
      const ok = !closing && results.every(([, r]) => r === "ok");
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? "ready" : "not ready", checks: Object.fromEntries(results) });
    },
  );
  app.get(
    "/metrics",
    {
      schema: {
        ...operations,
        summary: "Prometheus metrics (heliograph_*)",
        description: "The Prometheus text format; every series carries a `service` label.",
        response: { 200: z.string().describe("Prometheus text exposition format") },
      },
    },
    async (_req, reply) => reply.type(options.metrics.contentType).send(await options.metrics.metrics()),
  );
  return app as unknown as HttpApp;
}

const MAX_BODY_DEPTH = 64;

const ReadinessAnswer = z.object({
  status: z.enum(["ready", "not ready"]),
  checks: z.record(z.string(), z.string()).describe('Each check: "ok", or why it failed'),
});

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** True when `value` nests objects/arrays deeper than `max`; iterative, so it cannot overflow. */
export function nestingDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Gateways as processes on real NATS and Redis for the hostile-input suites, two publishers and a
 * subscriber seeded through the admin API, and the checks every answer must pass (promise 5).
 */
import { type AdminMethod, adminClient } from "@heliograph/admin-client";
import { ERROR_CODES, type ErrorCode, INGEST_STREAM } from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_1 } from "@heliograph/contracts/fixtures";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  type ServiceHandle,
  type ServiceName,
  startStack,
} from "@heliograph/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { RawResponse } from "./raw-http.js";

/** Property runs per endpoint: 1 000 in CI, 100 locally, HG_PROPERTY_RUNS to choose. */
export const PROPERTY_RUNS = Number(process.env.HG_PROPERTY_RUNS ?? (process.env.CI === "true" ? 1_000 : 100));

export interface Credentials {
  id: string;
  api_key: string;
  api_secret: string;
}

export interface HostileStack {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  nc: NatsConnection;
  services: Partial<Record<ServiceName, ServiceHandle>>;
  adminToken: string;
  /** Owns resources 1 (the document's) and 3 (an optional key), algorithm 1 and idea channel `a-ideas`. */
  a: Credentials;
  /** Owns resource 2, algorithm 2 and idea channel `b-ideas`. */
  b: Credentials;
  /** Entitled to algorithm-1, resource-1 and ideas-a-ideas. */
  subscriber: { id: string; token: string };
  /** Entitled to algorithm-2 only. */
  otherSubscriber: { id: string; token: string };
  admin<T>(method: AdminMethod, path: string, body?: unknown): Promise<T>;
  ingestMessages(): Promise<number>;
  /** Every started service still runs and answers /healthz 200. */
  assertAlive(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHostileStack(options: {
  services: ServiceName[];
  env?: Record<string, string>;
}): Promise<HostileStack> {
  if (!options.services.includes("ingest-gateway"))
    throw new Error("the hostile stack needs the ingest gateway (for the admin API)");
  const base = await startStack({
    nats: { reuseEnv: false },
    redis: { reuseEnv: false },
    services: Object.fromEntries(options.services.map((name) => [name, 1])),
    env: { LOG_LEVEL: "warn", ...options.env },
    ownProcessGroup: true,
    stopGraceMs: 3_000,
  });
  const { nats, redis, adminToken, services } = base;
  const admin = adminClient({ url: base.ingest.url, token: adminToken });
  const a = await admin<Credentials>("POST", "/publishers", { id: "hostile-a", name: "Publisher A" });
  const b = await admin<Credentials>("POST", "/publishers", { id: "hostile-b", name: "Publisher B" });
  await admin("POST", "/resources", { ...DOCUMENT_RESOURCE_1, publisher_id: a.id });
  await admin("POST", "/resources", {
    id: 2,
    title: "B's resource",
    key_value_type_pairs: { Symbol: "STRING" },
    publisher_id: b.id,
  });
  await admin("POST", "/resources", {
    id: 3,
    title: "With an optional key",
    key_value_type_pairs: { Symbol: "STRING", Price: "NUMBER", Note: { type: "STRING", optional: true } },
    publisher_id: a.id,
  });
  await admin("POST", "/algorithms", { id: 1, name: "A's algorithm", publisher_id: a.id });
  await admin("POST", "/algorithms", { id: 2, name: "B's algorithm", publisher_id: b.id });
  await admin("POST", "/channels", { id: "a-ideas", title: "A's ideas", publisher_id: a.id }).catch(() => {});
  await admin("POST", "/channels", { id: "b-ideas", title: "B's ideas", publisher_id: b.id }).catch(() => {});
  const subscriber = await admin<{ id: string; token: string }>("POST", "/subscribers", {
    id: "hostile-sub",
    name: "Subscriber",
    streams: ["algorithm-1", "resource-1", "ideas-a-ideas"],
  });
  const otherSubscriber = await admin<{ id: string; token: string }>("POST", "/subscribers", {
    id: "hostile-other-sub",
    name: "Other subscriber",
    streams: ["algorithm-2"],
  });
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);

  return {
    nats,
    redis,
    nc,
    services,
    adminToken,
    a,
    b,
    subscriber,
    otherSubscriber,
    admin,
    ingestMessages: async () => (await jsm.streams.info(INGEST_STREAM)).state.messages,
    async assertAlive() {
      for (const [name, handle] of Object.entries(services)) {
        if (!handle?.running()) throw new Error(`${name} exited:\n${handle?.output().slice(-4_000)}`);
        const res = await fetch(`${handle.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        if (res.status !== 200) throw new Error(`${name} /healthz answered ${res.status}`);
      }
    },
    async stop() {
      await nc.close();
      await base.stop();
    },
  };
}

/**
 * Promise 5 for one answer: a 4xx with exactly `{"error":{"code","message","details"}}` whose code
 * has that status, or a 2xx; never a 5xx, never anything else. Returns the problem, or undefined.
 */
export function answerProblem(res: RawResponse, method = "GET"): string | undefined {
  if (res.status >= 500) return `answered ${res.status} (a 5xx)`;
  if (res.status >= 200 && res.status < 300) {
    if (method === "HEAD") return undefined;
    return res.json === undefined ? `answered ${res.status} with a body that is not JSON` : undefined;
  }
  if (res.status < 400) return `answered ${res.status}`;
  if (method !== "HEAD" && !/^application\/json/.test(res.headers["content-type"] ?? "")) {
    return `answered ${res.status} with content-type ${res.headers["content-type"]}`;
  }
  if (method === "HEAD") return undefined;
  const error = (res.json as { error?: Record<string, unknown> } | undefined)?.error;
  const body = res.json as Record<string, unknown> | undefined;
  if (!body || typeof error !== "object" || error === null || Object.keys(body).join() !== "error") {
    return `answered ${res.status} without the error body`;
  }
  if (Object.keys(error).sort().join() !== "code,details,message") return `error keys are ${Object.keys(error)}`;
  if (typeof error.message !== "string" || !Array.isArray(error.details)) return "error message/details malformed";
  const known = ERROR_CODES[error.code as ErrorCode];
  if (!known) return `unknown error code ${JSON.stringify(error.code)}`;
  if (known.status !== res.status) return `code ${error.code} is documented as ${known.status}, answered ${res.status}`;
  for (const d of error.details as unknown[]) {
    const detail = d as Record<string, unknown>;
    if (typeof detail?.path !== "string" || typeof detail?.message !== "string") return "a detail lacks path/message";
  }
  return undefined;
}

/** A short printable form of a request, for failure messages. */
export function showRequest(req: {
  method: string;
  path: string;
  headers?: [string, string][];
  body?: unknown;
}): string {
  const body = typeof req.body === "string" ? req.body : req.body === undefined ? "" : String(req.body);
  return JSON.stringify({
    method: req.method,
    path: req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length})` : req.path,
    headers: req.headers?.map(([n, v]) => [n, v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v]),
    body: body.length > 600 ? `${body.slice(0, 600)}…(${body.length} chars)` : body,
  });
}

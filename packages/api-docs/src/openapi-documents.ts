import { newAdminToken } from "@heliograph/contracts";
import { buildApp as buildIngestGateway } from "@heliograph/ingest-gateway";
import { IngestEnv } from "@heliograph/ingest-gateway/config";
import {
  connectNats,
  connectRedis,
  createLogger,
  createMetricsRegistry,
  ensureStreams,
  type HttpApp,
  loadConfig,
} from "@heliograph/platform";
import { buildApp as buildSequencer } from "@heliograph/sequencer";
import { buildApp as buildStreamGateway } from "@heliograph/stream-gateway";
import { StreamGatewayEnv } from "@heliograph/stream-gateway/config";
import { startServers } from "@heliograph/testkit";
import { buildApp as buildWebhookDispatcher } from "@heliograph/webhook-dispatcher";
import { WebhookDispatcherEnv } from "@heliograph/webhook-dispatcher/config";
import type { OpenApiDocument } from "./openapi-types.js";

/** One listener's OpenAPI document, named as its file in `docs/openapi/` is. */
export interface ServiceDocument {
  /** `ingest-gateway`, `ingest-gateway-admin`, `stream-gateway`, `sequencer`, `webhook-dispatcher`. */
  name: string;
  /** Where the listener is, in words (the reference's section heading says it). */
  listener: string;
  document: OpenApiDocument;
}

/**
 * The OpenAPI document of every listener, exactly as each serves it at `/openapi.json`: each
 * service's `buildApp`, never listening, against a nats-server and a redis-server of its own
 * (the apps open the control-plane bucket and JetStream consumers as they are built).
 */
export async function buildOpenApiDocuments(): Promise<ServiceDocument[]> {
  const servers = await startServers({ nats: { reuseEnv: false }, redis: { reuseEnv: false } });
  const log = createLogger({ name: "api-docs", level: "silent" });
  const nc = await connectNats(servers.nats, log, "api-docs");
  const redis = await connectRedis(servers.redis.url, log, "api-docs");
  const apps: HttpApp[] = [];
  try {
    await ensureStreams(nc, { replicas: 1 });
    const env = { NATS_URL: servers.nats.url, REDIS_URL: servers.redis.url, ADMIN_TOKEN: newAdminToken() };
    const ingest = await buildIngestGateway({ log, nc, redis, config: loadConfig(IngestEnv, env) });
    apps.push(ingest.app);
    const stream = await buildStreamGateway({ log, nc, redis, config: loadConfig(StreamGatewayEnv, env) });
    apps.push(stream);
    const sequencer = await buildSequencer({ log, nc, redis, metrics: createMetricsRegistry("sequencer") });
    apps.push(sequencer);
    const dispatcher = await buildWebhookDispatcher({ log, nc, redis, config: loadConfig(WebhookDispatcherEnv, env) });
    apps.push(dispatcher);
    const listeners: [string, string, HttpApp][] = [
      ["ingest-gateway", "the ingest gateway's public listener (`PORT`; 8080 in `pnpm dev`)", ingest.app],
      ["ingest-gateway-admin", "the ingest gateway's admin listener (`ADMIN_HOST:ADMIN_PORT`; 8090)", ingest.admin],
      ["stream-gateway", "the stream gateway's listener (`PORT`; 8081)", stream],
      ["sequencer", "the sequencer's listener (`PORT`; 8082): health and metrics only", sequencer],
      ["webhook-dispatcher", "the webhook dispatcher's listener (`PORT`; 8083): health and metrics only", dispatcher],
    ];
    const documents: ServiceDocument[] = [];
    for (const [name, listener, app] of listeners) {
      await app.ready();
      const answer = await app.inject({ method: "GET", url: "/openapi.json" });
      if (answer.statusCode !== 200) throw new Error(`${name}: /openapi.json answered ${answer.statusCode}`);
      documents.push({ name, listener, document: normalizedDocument(answer.json() as OpenApiDocument) });
    }
    return documents;
  } finally {
    // The ingest gateway's public app closes its admin app too.
    for (const app of apps.reverse()) await app.close().catch(() => {});
    await nc.close().catch(() => {});
    redis.disconnect();
    await servers.stop();
  }
}

/**
 * The document with a stable key order: every map sorted by key (paths, methods, statuses,
 * components), except a schema's `properties`, which keep the order the contracts declare them in.
 */
export function normalizedDocument(document: OpenApiDocument): OpenApiDocument {
  return sortKeys(document, false) as OpenApiDocument;
}

function sortKeys(value: unknown, keepOrder: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, false));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (!keepOrder) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, child]) => [key, sortKeys(child, key === "properties" && !keepOrder)]));
}

/** The committed text of a document: two-space JSON and a final newline. */
export function documentText(document: OpenApiDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

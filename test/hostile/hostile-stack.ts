/**
 * Gateways as processes on real NATS and Redis for the hostile-input suites, two publishers and a
 * subscriber seeded through the admin API. The checks every answer must pass are in answer-checks.ts.
 */
import { type AdminMethod, adminClient } from "@heliograph/admin-client";
import { INGEST_STREAM } from "@heliograph/contracts";
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

/**
 * Property runs per endpoint: 250 in CI, 100 locally, HG_PROPERTY_RUNS to choose (1,000 for a deep
 * run by hand). 1,000 in CI took 80-170 s of one of CI's two cores, the longest file of the suite.
 */
export const PROPERTY_RUNS = Number(process.env.HG_PROPERTY_RUNS ?? (process.env.CI === "true" ? 250 : 100));

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
  const admin = adminClient(base.admin);
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
  const nc = await connect(nats.connectOptions());
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

/**
 * A stack for fault tests: NATS (one server, or a cluster given by URL), Redis and the three
 * services, each its own process group so a kill -9 really kills the service (see killHard), a
 * tenant seeded through the admin API, and the ledger check at the end.
 */
import { adminClient } from "@heliograph/admin-client";
import { INGEST_STREAM } from "@heliograph/contracts";
import {
  type GivenServer,
  type NatsServerHandle,
  type RedisServerHandle,
  type ServiceHandle,
  type ServiceName,
  startStack,
  waitFor,
} from "@heliograph/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type SignalLoad, startSignalLoad } from "../ledger/load.js";
import { type ReadBackReport, readBackAndCheck } from "../ledger/read-back.js";

export interface FaultStack {
  nats: NatsServerHandle | undefined;
  redis: RedisServerHandle;
  natsUrl: string;
  /** nats.js connect options for the test's own connections (admin unless a role is named). */
  natsConnectOptions: NatsServerHandle["connectOptions"];
  adminToken: string;
  services: Record<ServiceName, ServiceHandle>;
  /** Every instance of every service (a restart replaces its entry). */
  instances: Record<ServiceName, ServiceHandle[]>;
  publisher: { id: string; api_key: string; api_secret: string };
  subscriber: { id: string; token: string };
  algorithmIds: number[];
  /** kill -9 of the service's whole process group (its first instance unless `index`); waits until its port no longer answers. */
  killHard(name: ServiceName, index?: number): Promise<void>;
  /** Starts the service (its first instance unless `index`) again on its port and waits for /readyz. */
  restart(name: ServiceName, index?: number): Promise<void>;
  /**
   * One sequential publishing client per algorithm stream (all of them unless named). `tag`
   * prefixes the markers (loads of one stream started one after another need their own), `limit`
   * and `clockOrigin` are startSignalLoad's.
   */
  startLoads(
    ratePerSecond: number,
    algorithmIds?: number[],
    options?: { tag?: string; limit?: number; clockOrigin?: number },
  ): SignalLoad[];
  /**
   * Stops the loads, waits until INGEST is drained, reads every stream back over HTTP and from
   * EVENTS, checks the ledger on each and compares the two event for event.
   */
  finish(loads: SignalLoad[], options?: { drainTimeoutMs?: number }): Promise<ReadBackReport>;
  stop(): Promise<void>;
}

export async function startFaultStack(
  options: {
    nats?: GivenServer;
    /** A Redis given by URL (a Redis Cluster's seed list); default: a redis-server of its own. */
    redis?: GivenServer;
    algorithms?: number;
    env?: Record<string, string>;
    sequencers?: number;
  } = {},
): Promise<FaultStack> {
  const base = await startStack({
    nats: options.nats ?? { reuseEnv: false },
    services: { "ingest-gateway": 1, sequencer: options.sequencers ?? 1, "stream-gateway": 1 },
    redis: options.redis ?? { reuseEnv: false },
    env: {
      // A restarted sequencer takes over the dead one's partitions after this long.
      LEASE_TTL_MS: "1500",
      LOG_LEVEL: process.env.HG_FAULT_LOG_LEVEL ?? "warn",
      ...options.env,
    },
    // So that killHard is a kill -9 of everything a service started.
    ownProcessGroup: true,
    stopGraceMs: 3_000,
  });
  const nats = options.nats ? undefined : base.nats;
  const { redis, adminToken } = base;
  const natsUrl = base.nats.url;
  const ingest = base.ingest;
  const services = base.services as Record<ServiceName, ServiceHandle>;
  const admin = adminClient({ url: ingest.adminUrl as string, token: adminToken });
  const publisher = await admin<{ id: string; api_key: string; api_secret: string }>("POST", "/publishers", {
    id: "fault-publisher",
    name: "Fault publisher",
  });
  const algorithmIds = Array.from({ length: options.algorithms ?? 2 }, (_, i) => i + 1);
  for (const id of algorithmIds) {
    await admin("POST", "/algorithms", { id, name: `Fault algorithm ${id}`, publisher_id: publisher.id });
  }
  const subscriber = await admin<{ id: string; token: string }>("POST", "/subscribers", {
    id: "fault-subscriber",
    name: "Fault subscriber",
    streams: algorithmIds.map((id) => `algorithm-${id}`),
  });

  const stack: FaultStack = {
    nats,
    redis,
    natsUrl,
    natsConnectOptions: (role) => base.nats.connectOptions(role),
    adminToken,
    services,
    instances: base.instances,
    publisher,
    subscriber,
    algorithmIds,
    killHard: (name, index) => base.killHard(name, index),
    async restart(name, index) {
      await base.restart(name, index);
    },
    startLoads(ratePerSecond, ids = algorithmIds, loadOptions = {}) {
      return ids.map((algorithmId) =>
        startSignalLoad({
          ingestUrl: ingest.url,
          publisher,
          algorithmId,
          ratePerSecond,
          tag: `${loadOptions.tag ?? ""}a${algorithmId}-`,
          ...(loadOptions.limit === undefined ? {} : { limit: loadOptions.limit }),
          ...(loadOptions.clockOrigin === undefined ? {} : { clockOrigin: loadOptions.clockOrigin }),
        }),
      );
    },
    async finish(loads, finishOptions = {}) {
      const publishes = (await Promise.all(loads.map((l) => l.stop()))).flat();
      const nc = await connect({ ...base.nats.connectOptions(), maxReconnectAttempts: -1 });
      try {
        const jsm = await jetstreamManager(nc);
        await waitFor(async () => (await jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
          timeoutMs: finishOptions.drainTimeoutMs ?? 20_000,
          intervalMs: 100,
          what: "INGEST to be drained (every publish numbered)",
        }).catch(async (err) => {
          // Say where it is stuck: what INGEST holds, what each partition's consumer has, what the sequencer said.
          const info = await jsm.streams.info(INGEST_STREAM).catch((e) => ({ error: String(e) }));
          const consumers: unknown[] = [];
          for await (const c of jsm.consumers.list(INGEST_STREAM)) {
            consumers.push({
              name: c.name,
              pending: c.num_pending,
              ack_pending: c.num_ack_pending,
              redelivered: c.num_redelivered,
              waiting: c.num_waiting,
              delivered: c.delivered.stream_seq,
              ack_floor: c.ack_floor.stream_seq,
            });
          }
          const seq = stack.services.sequencer;
          throw new Error(
            `${(err as Error).message}\nINGEST: ${JSON.stringify((info as { state?: unknown }).state ?? info)}\n` +
              `consumers: ${JSON.stringify(consumers)}\nsequencer (${seq.running() ? "running" : "exited"}) said:\n` +
              seq.output().slice(-6_000),
          );
        });
        const reports = await readBackAndCheck({
          nc,
          streamUrl: stack.services["stream-gateway"].url,
          token: subscriber.token,
          streamIds: loads.map((l) => l.streamId),
          publishes,
        });
        if (process.env.HG_LEDGER_LOG === "1") console.log(reports.http.describe());
        reports.serviceLog = (streamIds) => servicesSaid(base.instances, streamIds);
        return reports;
      } finally {
        await nc.close();
      }
    },
    stop: () => base.stop(),
  };
  return stack;
}

/** Lines the services logged that name one of the streams or are errors, the last `limit` of them. */
function servicesSaid(instances: Record<ServiceName, ServiceHandle[]>, streamIds: string[], limit = 80): string {
  const lines: string[] = [];
  for (const [name, handles] of Object.entries(instances))
    for (const [index, handle] of handles.entries())
      for (const line of handle.output().split("\n"))
        if (streamIds.some((id) => line.includes(`"${id}"`)) || line.includes('"level":50'))
          lines.push(`[${name}#${index}] ${line.slice(0, 600)}`);
  return lines.slice(-limit).join("\n");
}

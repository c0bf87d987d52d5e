/**
 * `pnpm cluster` (`npm run cluster`): the production shape on this machine, to try scale-out and
 * failover. A 3-node NATS cluster (INGEST and EVENTS with 3 replicas), a Redis Cluster (3 masters,
 * 3 replicas), two of every service, and a round-robin front for each gateway and for the admin
 * API (HG_INGEST_PORT 9080, HG_STREAM_PORT 9081, HG_ADMIN_PORT 9090 on loopback: not `pnpm dev`'s
 * ports, so both can run at once). Then the demo tenant and a demo webhook endpoint to a local
 * receiver (HG_RECEIVER_PORT 9084) are seeded and .heliograph/dev.json written, where the CLI and
 * scripts find it, with every process's PID and port (for `kill -9`). NATS and Redis keep their data
 * in temp folders: a cluster run starts empty and leaves nothing behind.
 *
 * `pnpm dev`'s dev.json, when there is one, is kept in .heliograph/cluster/ while the cluster runs
 * and put back when it stops (its credentials stay valid for `pnpm dev`'s data).
 *
 * A process that dies (a `kill -9` you sent) is started again after HG_RESTART_DELAY_MS (3 s: time
 * for NATS and Redis to fail over first), as a supervisor would. Ctrl-C stops the fronts, the
 * services, Redis, then NATS. HG_STATE_DIR puts the state folder (.heliograph) elsewhere (the test
 * uses a temp folder).
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  type ManagedProcess,
  type NatsCluster,
  type RedisClusterHandle,
  type ServiceName,
  type Stack,
  startNatsCluster,
  startRedisCluster,
  startStack,
} from "@heliograph/testkit";
import {
  envPort,
  examplesText,
  fail as failWith,
  readDevJson,
  refuseTakenPorts,
  stateFolder,
  stopOnSignals,
  writeDevJson,
} from "./local-run.js";
import { type RoundRobinProxy, startRoundRobinProxy } from "./round-robin-proxy.js";
import { type DevConfig, seedDemoTenant } from "./seed.js";
import { seedDemoWebhook, startDemoReceiver } from "./webhook-receiver.js";

const STATE = stateFolder(".heliograph");
/** What the cluster keeps beside dev.json: `pnpm dev`'s dev.json while the cluster's is in its place. */
const CLUSTER_DIR = join(STATE.dir, "cluster");
const KEPT_DEV_JSON = join(CLUSTER_DIR, "pnpm-dev.json");
const PORTS = {
  ingest: envPort("HG_INGEST_PORT", 9080),
  stream: envPort("HG_STREAM_PORT", 9081),
  admin: envPort("HG_ADMIN_PORT", 9090),
  receiver: envPort("HG_RECEIVER_PORT", 9084),
};
const RESTART_DELAY_MS = Number(process.env.HG_RESTART_DELAY_MS ?? 3_000);
const SERVICES: ServiceName[] = ["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"];

/** One process of the cluster, as dev.json lists it. */
export interface ClusterProcess {
  /** `nats-n1`, `redis-12001`, `sequencer-2`. */
  name: string;
  pid: number | undefined;
  port: number;
}

/** `.heliograph/dev.json` while the cluster runs: pnpm dev's fields (URLs are the fronts) and every process. */
export interface ClusterDevConfig extends DevConfig {
  processes: ClusterProcess[];
}

/**
 * Moves `pnpm dev`'s dev.json aside (a cluster's, left by a cluster that was killed, is not kept:
 * it names processes that are gone). Returns how to put it back.
 */
function keepDevJsonOfPnpmDev(): () => void {
  const existing = readDevJson<ClusterDevConfig>(STATE);
  mkdirSync(CLUSTER_DIR, { recursive: true });
  if (existsSync(STATE.devJson) && !("processes" in existing)) copyFileSync(STATE.devJson, KEPT_DEV_JSON);
  return () => {
    if (existsSync(KEPT_DEV_JSON)) renameSync(KEPT_DEV_JSON, STATE.devJson);
    else rmSync(STATE.devJson, { force: true });
  };
}

function fail(message: string): never {
  return failWith("cluster", message);
}

async function main() {
  await refuseTakenPorts("cluster", PORTS);
  console.log(
    "starting a 3-node NATS cluster and a Redis Cluster (3 masters, 3 replicas), then two of every service ...",
  );
  const [natsStart, redisStart] = await Promise.allSettled([
    // Out of the terminal's process group: Ctrl-C reaches this process, which stops NATS last.
    startNatsCluster(3, { ownProcessGroup: true }),
    startRedisCluster({ masters: 3, replicasPerMaster: 1, ownProcessGroup: true }),
  ]);
  if (natsStart.status === "rejected" || redisStart.status === "rejected") {
    if (natsStart.status === "fulfilled") await natsStart.value.stop();
    if (redisStart.status === "fulfilled") await redisStart.value.stop();
    const reason = natsStart.status === "rejected" ? natsStart.reason : (redisStart as PromiseRejectedResult).reason;
    fail(
      `${(reason as Error).message}\npnpm cluster needs nats-server (2.9+) and redis-server with redis-cli (7+) on the PATH: ` +
        "apt-get install nats-server redis-server.",
    );
  }
  const nats: NatsCluster = natsStart.value;
  const redis: RedisClusterHandle = redisStart.value;

  let stack: Stack;
  try {
    stack = await startStack({
      nats: { url: nats.url, roles: nats.roles },
      redis: { url: redis.url },
      services: { "ingest-gateway": 2, sequencer: 2, "stream-gateway": 2, "webhook-dispatcher": 2 },
      env: {
        JETSTREAM_REPLICAS: "3",
        // The demo receiver is on loopback: never set this where subscribers register URLs.
        WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
        // Eight services on one terminal: warnings and errors only, unless asked.
        LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
        LOG_PRETTY: process.env.LOG_PRETTY ?? "true",
      },
      echo: true,
      ownProcessGroup: true,
    });
  } catch (err) {
    await redis.stop();
    await nats.stop();
    fail((err as Error).message);
  }

  const fronts: RoundRobinProxy[] = [];
  let receiver: Awaited<ReturnType<typeof startDemoReceiver>> | undefined;
  let restoreDevJson = () => {};
  const stopAll = async () => {
    for (const front of fronts) await front.close();
    await stack.stop();
    receiver?.closeAllConnections();
    receiver?.close();
    await redis.stop();
    await nats.stop();
    restoreDevJson();
  };
  const { stopping } = stopOnSignals("the fronts, the services, then Redis and NATS", stopAll);

  const instanceName = (name: ServiceName, index: number) => `${name}-${index + 1}`;
  const frontOf = (name: string, port: number, targets: { name: string; url: string | undefined }[]) =>
    startRoundRobinProxy({
      name,
      port,
      targets: targets.map((t) => {
        if (!t.url) throw new Error(`${t.name} has no URL for the ${name} front`);
        return { name: t.name, url: t.url };
      }),
    });
  const instancesOf = (name: ServiceName, url: (h: { url: string; adminUrl?: string }) => string | undefined) =>
    stack.instances[name].map((handle, i) => ({ name: instanceName(name, i), url: url(handle) }));
  let dev: ClusterDevConfig;
  try {
    fronts.push(
      await frontOf(
        "ingest-gateway",
        PORTS.ingest,
        instancesOf("ingest-gateway", (h) => h.url),
      ),
      await frontOf(
        "stream-gateway",
        PORTS.stream,
        instancesOf("stream-gateway", (h) => h.url),
      ),
      // Each ingest gateway's admin listener (loopback); the fronts listen on loopback too.
      await frontOf(
        "admin API",
        PORTS.admin,
        instancesOf("ingest-gateway", (h) => h.adminUrl),
      ),
    );
    const [ingestFront, streamFront, adminFront] = fronts as [RoundRobinProxy, RoundRobinProxy, RoundRobinProxy];
    const admin = { url: adminFront.url, token: stack.adminToken };
    const seeded = await seedDemoTenant({ ingest: ingestFront, stream: streamFront, admin });
    dev = { ...seeded, processes: [] };
    receiver = await startDemoReceiver(PORTS.receiver, () => dev.webhook?.secret);
    dev.webhook = await seedDemoWebhook(
      admin,
      dev.subscriber,
      dev.streams.algorithm,
      `http://127.0.0.1:${PORTS.receiver}/webhook`,
      undefined,
    );
  } catch (err) {
    // The servers and services lead their own process groups: nothing else would stop them.
    await stopAll();
    fail(`starting the fronts and seeding the demo tenant failed: ${(err as Error).stack ?? String(err)}`);
  }
  restoreDevJson = keepDevJsonOfPnpmDev();

  const processes = (): ClusterProcess[] => [
    ...nats.nodes.map((n) => ({ name: `nats-${n.name}`, pid: n.process?.pid, port: n.port })),
    ...redis.nodes.map((n) => ({ name: `redis-${n.port}`, pid: n.process?.pid, port: n.port })),
    ...SERVICES.flatMap((name) =>
      stack.instances[name].map((h, i) => ({ name: instanceName(name, i), pid: h.pid, port: h.port })),
    ),
  ];
  const record = () => writeDevJson(STATE, { ...dev, processes: processes() } as ClusterDevConfig);
  record();

  const table = processes()
    .map((p) => `    ${p.name.padEnd(22)} pid ${String(p.pid).padEnd(8)} port ${p.port}`)
    .join("\n");
  console.log(
    examplesText(dev, STATE, {
      urls: `  ingest front     ${dev.ingest_url}   (round-robin over ingest-gateway-1 and -2; X-Heliograph-Instance names the one that answered)
  stream front     ${dev.stream_url}   (round-robin over stream-gateway-1 and -2)
  admin front      ${dev.admin_url}   (round-robin over both ingest gateways' admin listeners; loopback only)
  web console      ${dev.admin_url}/console/   (sign in with the admin token)
  admin token      ${dev.admin_token}   (pnpm heliograph … uses it from ${STATE.shown}/dev.json)
  webhooks         ${dev.webhook?.url} receives ${dev.streams.algorithm} (endpoint ${dev.webhook?.id}, delivered by webhook-dispatcher-1 or -2; it prints each event below)
  NATS             ${nats.url}   (admin user ${nats.roles.admin.user}, password ${nats.roles.admin.password})
  Redis Cluster    ${redis.url}

  Processes (also in ${STATE.shown}/dev.json; kill -9 any one: it is started again ${RESTART_DELAY_MS / 1000} s later):
${table}`,
      footer: `Ctrl-C stops everything; NATS and Redis data were in temp folders and go with it${
        existsSync(KEPT_DEV_JSON)
          ? `, and pnpm dev's dev.json (kept in ${STATE.shown}/cluster meanwhile) is put back`
          : ""
      }.`,
    }),
  );

  // A killed process comes back, as under a supervisor; the fronts skip a gateway until it does.
  const supervise = async (name: string, current: () => ManagedProcess | undefined, start: () => Promise<unknown>) => {
    for (;;) {
      const proc = current();
      if (!proc) return;
      const code = await proc.exited();
      if (stopping()) return;
      console.error(`\n${name} exited (${code}); starting it again in ${RESTART_DELAY_MS} ms`);
      await delay(RESTART_DELAY_MS);
      if (stopping()) return;
      try {
        await start();
      } catch (err) {
        console.error(`${name} did not start again: ${(err as Error).message}`);
        return;
      }
      if (stopping()) return;
      console.error(`${name} is back (pid ${current()?.pid})`);
      record();
    }
  };
  for (const node of nats.nodes)
    void supervise(
      `nats-${node.name}`,
      () => node.process,
      () => node.start(),
    );
  for (const node of redis.nodes)
    void supervise(
      `redis-${node.port}`,
      () => node.process,
      () => node.restart(),
    );
  for (const name of SERVICES)
    stack.instances[name].forEach((_, i) => {
      void supervise(
        instanceName(name, i),
        () => stack.instances[name][i],
        () => stack.restart(name, i),
      );
    });
}

main().catch((err) => fail((err as Error).stack ?? String(err)));

import type { NatsCredentials, NatsRole } from "@heliograph/platform";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort } from "./free-port.js";
import { generateNatsAuth, natsConnectOptions } from "./nats-auth.js";
import { type ManagedProcess, startProcess, which } from "./process.js";
import { tcpReady } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";
import { waitFor } from "./wait-for.js";

export interface ClusterNode {
  name: string;
  port: number;
  clusterPort: number;
  storeDir: string;
  url: string;
  process: ManagedProcess | undefined;
  /** Starts the node again with the same name, ports and store (after a kill). */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's URL, comma-separated, as the services' NATS_URL takes it. */
  url: string;
  /** Each role's credentials: the nodes run with the same users as a single test server. */
  roles: Record<NatsRole, NatsCredentials>;
  node(name: string): ClusterNode;
  /** Resolves once JetStream answers with a meta leader. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A JetStream cluster of `size` nats-servers on loopback ports, each with its own file store,
 * routed to each other (cluster name `hg`, node names `n1`…): what deploy/ runs with R3 streams.
 * `ownProcessGroup`: each node leads its own process group, so Ctrl-C in a terminal reaches only
 * the parent (`pnpm cluster`), which stops the nodes last. `startNodes`: how many of them run
 * when it resolves (a quorum at least; the rest wait for their `start()`), the shape of a cluster
 * whose last node is still coming up.
 */
export async function startNatsCluster(
  size = 3,
  options: { ownProcessGroup?: boolean; startNodes?: number } = {},
): Promise<NatsCluster> {
  const binary = which("nats-server");
  if (!binary) throw new Error("nats-server is not on the PATH");
  const specs = await Promise.all(
    Array.from({ length: size }, async (_, i) => ({
      name: `n${i + 1}`,
      port: await freePort(),
      clusterPort: await freePort(),
      storeDir: tempDataDir(`hg-nats-n${i + 1}-`),
    })),
  );
  const auth = generateNatsAuth();
  const routes = specs.map((s) => `nats://127.0.0.1:${s.clusterPort}`).join(",");
  const nodes: ClusterNode[] = specs.map((spec) => {
    const node: ClusterNode = {
      ...spec,
      url: `nats://127.0.0.1:${spec.port}`,
      process: undefined,
      async start() {
        node.process = startProcess(
          `nats-${spec.name}`,
          binary,
          [
            "-c",
            auth.configFile,
            "-a",
            "127.0.0.1",
            "-p",
            String(spec.port),
            "-js",
            "-sd",
            spec.storeDir,
            "-n",
            spec.name,
            "--cluster_name",
            "hg",
            "--cluster",
            `nats://127.0.0.1:${spec.clusterPort}`,
            "--routes",
            routes,
          ],
          { ownProcessGroup: options.ownProcessGroup ?? false },
        );
        await waitFor(() => tcpReady(spec.port), { timeoutMs: 15_000, what: `nats ${spec.name}` }).catch((err) => {
          throw new Error(`${err.message}\n${node.process?.output()}`);
        });
      },
      async kill(signal = "SIGKILL") {
        await node.process?.kill(signal);
      },
    };
    return node;
  });
  await Promise.all(nodes.slice(0, options.startNodes ?? size).map((n) => n.start()));
  const url = nodes.map((n) => n.url).join(",");
  const cluster: NatsCluster = {
    nodes,
    url,
    roles: auth.roles,
    node(name) {
      const found = nodes.find((n) => n.name === name);
      if (!found) throw new Error(`no node ${name}`);
      return found;
    },
    async waitForJetStream(timeoutMs = 20_000) {
      const nc = await connect({ ...natsConnectOptions(url, auth.roles.admin), maxReconnectAttempts: -1 });
      try {
        await waitFor(
          async () => {
            const jsm = await jetstreamManager(nc, { timeout: 1_000 });
            await jsm.getAccountInfo();
            return true;
          },
          { timeoutMs, intervalMs: 200, what: "the JetStream cluster to elect a meta leader" },
        );
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.process?.stop()));
    },
  };
  await cluster.waitForJetStream();
  return cluster;
}

/** Where a stream's leader is now ("" while it has none), asked of whichever node answers. */
export async function streamLeader(
  cluster: NatsCluster,
  stream: string,
): Promise<{ leader: string; replicas: number }> {
  const nc = await connect({ ...natsConnectOptions(cluster.url, cluster.roles.admin), maxReconnectAttempts: -1 });
  try {
    const info = await (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(stream);
    return { leader: info.cluster?.leader ?? "", replicas: info.config.num_replicas };
  } finally {
    await nc.close();
  }
}

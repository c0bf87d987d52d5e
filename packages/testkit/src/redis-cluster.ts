import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freeClusterNodePort } from "./free-port.js";
import { which } from "./process.js";
import { ownedServer, type ServerHandle, tcpReady } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";
import { waitFor } from "./wait-for.js";

const run = promisify(execFile);

/** One node of a test Redis Cluster: a redis-server process the harness owns. */
export interface RedisClusterNode extends ServerHandle {
  dir: string;
}

export interface RedisClusterHandle {
  /** Every node, in start order (the first `masters` were created as masters). */
  nodes: RedisClusterNode[];
  /** `redis://127.0.0.1:<port>` of every node, comma-separated: a seed list for a cluster client. */
  url: string;
  /** The node serving `key`'s slot as master now (after a failover too). */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** Whether a running replica follows this master: a kill of it then fails over instead of taking its slots down. */
  hasLiveReplica(master: RedisClusterNode): Promise<boolean>;
  /** Until every live node reports cluster_state:ok and agrees on a master for every slot. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Commands through redis-cli -c against a live node; the answer's lines. */
  cli(...args: string[]): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster on loopback: `masters` × (1 + `replicasPerMaster`) `redis-server
 * --cluster-enabled yes` processes on free ports, AOF on, joined by `redis-cli --cluster create`.
 * A short node timeout (1 s) so a killed master's replica is promoted within seconds.
 */
export async function startRedisCluster(
  options: {
    masters?: number;
    replicasPerMaster?: number;
    nodeTimeoutMs?: number;
    /** Each node leads its own process group: a terminal's Ctrl-C reaches only the parent, which stops them in order. */
    ownProcessGroup?: boolean;
  } = {},
): Promise<RedisClusterHandle> {
  const binary = which("redis-server");
  const cliBinary = which("redis-cli");
  if (!binary || !cliBinary)
    throw new Error("redis-server and redis-cli must be on the PATH (apt-get install redis-server)");
  const masters = options.masters ?? 3;
  const count = masters * (1 + (options.replicasPerMaster ?? 1));
  const nodes: RedisClusterNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freeClusterNodePort();
      const dir = tempDataDir("hg-redis-cluster-");
      const server = await ownedServer(`redis-cluster-${port}`, `redis://127.0.0.1:${port}`, port, {
        binary,
        args: [
          ["--bind", "127.0.0.1"],
          ["--port", String(port)],
          ["--dir", dir],
          ["--cluster-enabled", "yes"],
          ["--cluster-config-file", "nodes.conf"],
          ["--cluster-node-timeout", String(options.nodeTimeoutMs ?? 1_000)],
          // A replica always stands for election, however long since it last heard its master:
          // with the default factor a replica idle past ~20 s refuses, and the slot stays down.
          ["--cluster-replica-validity-factor", "0"],
          ["--repl-ping-replica-period", "1"],
          ["--appendonly", "yes"],
          ["--appendfsync", "everysec"],
          ["--save", ""],
          ["--protected-mode", "no"],
        ].flat(),
        ownProcessGroup: options.ownProcessGroup,
      });
      nodes.push(Object.assign(server, { dir }));
    }
    await run(cliBinary, [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      String(options.replicasPerMaster ?? 1),
      "--cluster-yes",
    ]);
  } catch (err) {
    await stop();
    throw err;
  }

  const live = async (): Promise<RedisClusterNode> => {
    for (const node of nodes) if (node.process?.running() && (await tcpReady(node.port))) return node;
    throw new Error("no Redis Cluster node is running");
  };
  const cliAt = async (port: number, args: string[]) =>
    (await run(cliBinary, ["-p", String(port), "-c", ...args])).stdout
      .split("\n")
      .map((l) => l.replace(/\r$/, ""))
      .filter((l) => l !== "");
  /** CLUSTER NODES as one node at `port` sees it, each row with the harness's node it names. */
  const clusterNodesAt = async (port: number) =>
    (await cliAt(port, ["CLUSTER", "NODES"])).map((line) => {
      const [id, address, flags = "", masterId, , , , state, ...ranges] = line.split(" ");
      const nodePort = Number(address?.split("@")[0]?.split(":")[1]);
      return { id, node: nodes.find((n) => n.port === nodePort), flags, masterId, state, ranges };
    });

  const handle: RedisClusterHandle = {
    nodes,
    url: nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(","),
    async masterOf(key) {
      const node = await live();
      const [slot] = await cliAt(node.port, ["CLUSTER", "KEYSLOT", key]);
      for (const { node: found, flags, state, ranges } of await clusterNodesAt(node.port)) {
        if (!flags.includes("master") || flags.includes("fail") || state !== "connected") continue;
        const owns = ranges.some((r) => {
          const [from, to] = r.split("-").map(Number);
          return Number(slot) >= (from as number) && Number(slot) <= (to ?? from ?? -1);
        });
        if (owns && found) return found;
      }
      throw new Error(`no master serves the slot of ${key}`);
    },
    async hasLiveReplica(master) {
      const rows = await clusterNodesAt((await live()).port);
      const masterId = rows.find((row) => row.node === master)?.id;
      return rows.some(
        (row) =>
          row.flags.includes("slave") &&
          !row.flags.includes("fail") &&
          row.masterId === masterId &&
          row.node?.process?.running() === true,
      );
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          for (const node of nodes) {
            if (!node.process?.running()) continue;
            const info = await cliAt(node.port, ["CLUSTER", "INFO"]);
            if (!info.includes("cluster_state:ok")) return false;
            if (!info.includes("cluster_slots_ok:16384")) return false;
            // A master killed a moment ago may still be listed as serving its slots: healthy only
            // once every master with slots is a running process.
            for (const row of await clusterNodesAt(node.port)) {
              if (!row.flags.includes("master") || row.ranges.length === 0) continue;
              if (!row.node?.process?.running()) return false;
            }
          }
          return true;
        },
        { timeoutMs, intervalMs: 100, what: "the Redis Cluster to be healthy" },
      );
    },
    async cli(...args) {
      return cliAt((await live()).port, args);
    },
    stop,
  };
  await handle.waitHealthy();
  return handle;
}

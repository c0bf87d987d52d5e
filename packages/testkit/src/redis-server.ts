import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ContainerServer, dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { tcpReady } from "./nats-server.js";
import { type ManagedProcess, startProcess, which } from "./process.js";
import { waitFor } from "./wait-for.js";

export interface RedisServerHandle {
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess | undefined;
  restart(): Promise<void>;
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `redis-server` with AOF on (fsync every second) on a free loopback port in a temp folder,
 * or uses `REDIS_URL` when it is set.
 */
export async function startRedisServer(
  options: { port?: number; dir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean } = {},
): Promise<RedisServerHandle> {
  if (options.reuseEnv !== false && process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    const unsupported = async () => {
      throw new Error("REDIS_URL is set: the harness does not own that server");
    };
    return {
      url,
      port: Number(new URL(url).port),
      dir: "",
      process: undefined,
      restart: unsupported,
      stop: async () => {},
      kill: unsupported,
    };
  }
  const binary = which("redis-server");
  if (!binary && dockerEngineRuns()) return fromContainer(await startContainerServer("redis"));
  if (!binary)
    throw new Error("redis-server is not on the PATH: install it (apt-get install redis-server) or set REDIS_URL");
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "hg-redis-"));
  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: undefined,
    async restart() {
      handle.process = startProcess(
        "redis-server",
        binary,
        [
          "--bind",
          "127.0.0.1",
          "--port",
          String(port),
          "--dir",
          dir,
          "--appendonly",
          "yes",
          "--appendfsync",
          "everysec",
          "--save",
          "",
          "--daemonize",
          "no",
          "--protected-mode",
          "no",
        ],
        { ownProcessGroup: options.ownProcessGroup },
      );
      await waitFor(() => tcpReady(port), { timeoutMs: 15_000, what: `redis-server on ${port}` }).catch((err) => {
        throw new Error(`${err.message}\n${handle.process?.output()}`);
      });
    },
    async stop() {
      await handle.process?.stop();
    },
    async kill(signal = "SIGKILL") {
      await handle.process?.kill(signal);
    },
  };
  await handle.restart();
  return handle;
}

function fromContainer(server: ContainerServer): RedisServerHandle {
  const unsupported = async () => {
    throw new Error("a containerised server cannot be killed or restarted by PID");
  };
  return {
    url: server.url,
    port: server.port,
    dir: "",
    process: undefined,
    restart: unsupported,
    stop: server.stop,
    kill: unsupported,
  };
}

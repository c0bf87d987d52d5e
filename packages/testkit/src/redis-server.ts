import { dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { which } from "./process.js";
import { ownedServer, type ServerHandle, unownedServer } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";

export interface RedisServerHandle extends ServerHandle {
  /** Redis's data folder, with the AOF ("" when the harness does not own the server). */
  dir: string;
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
    return { ...unownedServer(url, Number(new URL(url).port), "REDIS_URL is set"), dir: "" };
  }
  const binary = which("redis-server");
  if (!binary && dockerEngineRuns()) {
    const server = await startContainerServer("redis");
    return { ...unownedServer(server.url, server.port, "a container", server.stop), dir: "" };
  }
  if (!binary)
    throw new Error("redis-server is not on the PATH: install it (apt-get install redis-server) or set REDIS_URL");
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? tempDataDir("hg-redis-");
  const server = await ownedServer("redis-server", `redis://127.0.0.1:${port}`, port, {
    binary,
    args: [
      ["--bind", "127.0.0.1"],
      ["--port", String(port)],
      ["--dir", dir],
      ["--appendonly", "yes"],
      ["--appendfsync", "everysec"],
      ["--save", ""],
      ["--daemonize", "no"],
      ["--protected-mode", "no"],
    ].flat(),
    ownProcessGroup: options.ownProcessGroup,
  });
  return Object.assign(server, { dir });
}

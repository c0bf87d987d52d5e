import { dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { which } from "./process.js";
import { ownedServer, type ServerHandle, unownedServer } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";

export interface NatsServerHandle extends ServerHandle {
  /** JetStream's file store ("" when the harness does not own the server). */
  storeDir: string;
}

/**
 * Starts `nats-server -js` on a free loopback port with file storage in a temp folder, or uses
 * `NATS_URL` when it is set (then restart/kill are not available).
 */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean } = {},
): Promise<NatsServerHandle> {
  if (options.reuseEnv !== false && process.env.NATS_URL) {
    const url = process.env.NATS_URL;
    const port = Number(new URL(url.replace("nats://", "http://")).port);
    return { ...unownedServer(url, port, "NATS_URL is set"), storeDir: "" };
  }
  const binary = which("nats-server");
  if (!binary && dockerEngineRuns()) {
    const server = await startContainerServer("nats");
    return { ...unownedServer(server.url, server.port, "a container", server.stop), storeDir: "" };
  }
  if (!binary)
    throw new Error("nats-server is not on the PATH: install it (apt-get install nats-server) or set NATS_URL");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? tempDataDir("hg-nats-");
  const server = await ownedServer("nats-server", `nats://127.0.0.1:${port}`, port, {
    binary,
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
    ownProcessGroup: options.ownProcessGroup,
  });
  return Object.assign(server, { storeDir });
}

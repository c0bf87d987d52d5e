import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ContainerServer, dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { type ManagedProcess, startProcess, which } from "./process.js";
import { waitFor } from "./wait-for.js";

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ManagedProcess | undefined;
  /** Starts it again on the same port and store (after a stop or a kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export const tcpReady = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/**
 * Starts `nats-server -js` on a free loopback port with file storage in a temp folder, or uses
 * `NATS_URL` when it is set (then restart/kill are not available).
 */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean } = {},
): Promise<NatsServerHandle> {
  if (options.reuseEnv !== false && process.env.NATS_URL) {
    const url = process.env.NATS_URL;
    const unsupported = async () => {
      throw new Error("NATS_URL is set: the harness does not own that server");
    };
    return {
      url,
      port: Number(new URL(url.replace("nats://", "http://")).port),
      storeDir: "",
      process: undefined,
      restart: unsupported,
      stop: async () => {},
      kill: unsupported,
    };
  }
  const binary = which("nats-server");
  if (!binary && dockerEngineRuns()) return fromContainer(await startContainerServer("nats"));
  if (!binary)
    throw new Error("nats-server is not on the PATH: install it (apt-get install nats-server) or set NATS_URL");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "hg-nats-"));
  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: undefined,
    async restart() {
      handle.process = startProcess(
        "nats-server",
        binary,
        ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
        { ownProcessGroup: options.ownProcessGroup },
      );
      await waitFor(() => tcpReady(port), { timeoutMs: 15_000, what: `nats-server on ${port}` }).catch((err) => {
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

function fromContainer(server: ContainerServer): NatsServerHandle {
  const unsupported = async () => {
    throw new Error("a containerised server cannot be killed or restarted by PID");
  };
  return {
    url: server.url,
    port: server.port,
    storeDir: "",
    process: undefined,
    restart: unsupported,
    stop: server.stop,
    kill: unsupported,
  };
}

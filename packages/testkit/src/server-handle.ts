import { connect } from "node:net";
import { type ManagedProcess, startProcess } from "./process.js";
import { waitFor } from "./wait-for.js";

/** A server a test uses: started by the harness (restartable, killable by PID) or not its own. */
export interface ServerHandle {
  url: string;
  port: number;
  process: ManagedProcess | undefined;
  /** Starts it again on the same port and data (after a stop or a kill). */
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

/** A server the harness does not own (an existing one from the environment, a container): no PID. */
export function unownedServer(
  url: string,
  port: number,
  why: string,
  stop: () => Promise<void> = async () => {},
): ServerHandle {
  const unsupported = async () => {
    throw new Error(`${why}: the harness cannot kill or restart it by PID`);
  };
  return { url, port, process: undefined, restart: unsupported, stop, kill: unsupported };
}

/** A server process the harness owns, started at once and restartable on the same port. */
export async function ownedServer(
  name: string,
  url: string,
  port: number,
  command: { binary: string; args: string[]; ownProcessGroup?: boolean },
): Promise<ServerHandle> {
  const handle: ServerHandle = {
    url,
    port,
    process: undefined,
    async restart() {
      handle.process = startProcess(name, command.binary, command.args, { ownProcessGroup: command.ownProcessGroup });
      await waitFor(() => tcpReady(port), { timeoutMs: 15_000, what: `${name} on ${port}` }).catch((err) => {
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

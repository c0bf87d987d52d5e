import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeFlagsOf } from "@heliograph/platform";
import { freePort } from "./free-port.js";
import { type ManagedProcess, startProcess } from "./process.js";
import { waitFor } from "./wait-for.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export type ServiceName = "ingest-gateway" | "sequencer" | "stream-gateway" | "webhook-dispatcher";

export interface ServiceHandle extends ManagedProcess {
  url: string;
  port: number;
  /** The ingest gateway's admin listener (loopback, a port of its own); undefined for the other services. */
  adminUrl?: string;
  env: NodeJS.ProcessEnv;
  /** Started as the leader of its own process group (see killProcessGroup). */
  ownProcessGroup: boolean;
  /** Starts the service again with the same environment and port. */
  restart(): Promise<ServiceHandle>;
}

/**
 * Starts one service as its own process (`node --import tsx services/<name>/src/main.ts`, or a
 * built `main` with plain node) and waits for `/readyz`.
 */
export async function startService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  options: {
    port?: number;
    adminPort?: number;
    echo?: boolean;
    ownProcessGroup?: boolean;
    /** A build's entry (`dist/main.js` of a `pnpm deploy` folder): run by node alone, from its folder. */
    main?: string;
    /** The node binary that runs `main` (default: this process's, the workspace's Node). */
    node?: string;
  } = {},
): Promise<ServiceHandle> {
  const port = options.port ?? (await freePort());
  // The admin listener gets a free port too, unless the environment names one.
  const adminPort =
    name === "ingest-gateway" ? (options.adminPort ?? Number(env.ADMIN_PORT ?? (await freePort()))) : undefined;
  const fullEnv = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "info",
    ...(adminPort === undefined ? {} : { ADMIN_PORT: String(adminPort) }),
    ...env,
  };
  // node itself with tsx's loader, not the tsx CLI: the CLI would put a wrapper process between
  // this PID and the service, and a kill -9 would hit the wrapper while the service lived on.
  if (options.node && !options.main) throw new Error("another node runs a built main only: tsx is this Node's");
  const proc = startProcess(
    name,
    options.node ?? process.execPath,
    [
      ...nodeFlagsOf(name),
      ...(options.main ? [options.main] : ["--import", "tsx", join(REPO_ROOT, "services", name, "src/main.ts")]),
    ],
    {
      env: fullEnv,
      cwd: options.main ? dirname(options.main) : REPO_ROOT,
      echo: options.echo ?? process.env.HG_ECHO === "1",
      ownProcessGroup: options.ownProcessGroup,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (!proc.running()) throw new Error(`exited early`);
        const res = await fetch(`${url}/readyz`);
        return res.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `${name} /readyz` },
    );
  } catch (err) {
    await proc.kill();
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${proc.output()}`);
  }
  return {
    ...proc,
    url,
    port,
    ...(adminPort === undefined ? {} : { adminUrl: `http://127.0.0.1:${adminPort}` }),
    env: fullEnv,
    ownProcessGroup: options.ownProcessGroup ?? false,
    restart: () => startService(name, env, { ...options, port, ...(adminPort === undefined ? {} : { adminPort }) }),
  };
}

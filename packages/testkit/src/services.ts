import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { type NatsServerHandle, startNatsServer } from "./nats-server.js";
import { type ManagedProcess, startProcess } from "./process.js";
import { type RedisServerHandle, startRedisServer } from "./redis-server.js";
import { waitFor } from "./wait-for.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export type ServiceName = "ingest-gateway" | "sequencer" | "stream-gateway";

export interface ServiceHandle extends ManagedProcess {
  url: string;
  port: number;
  env: NodeJS.ProcessEnv;
  /** Starts the service again with the same environment and port. */
  restart(): Promise<ServiceHandle>;
}

/** Starts one service as its own process (`node --import tsx services/<name>/src/main.ts`) and waits for `/readyz`. */
export async function startService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  options: { port?: number; echo?: boolean; ownProcessGroup?: boolean } = {},
): Promise<ServiceHandle> {
  const port = options.port ?? (await freePort());
  const fullEnv = { ...process.env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "info", ...env };
  // node itself with tsx's loader, not the tsx CLI: the CLI would put a wrapper process between
  // this PID and the service, and a kill -9 would hit the wrapper while the service lived on.
  const proc = startProcess(
    name,
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "services", name, "src/main.ts")],
    {
      env: fullEnv,
      cwd: REPO_ROOT,
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
  return { ...proc, url, port, env: fullEnv, restart: () => startService(name, env, { ...options, port }) };
}

export interface Stack {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  adminToken: string;
  ingest: ServiceHandle;
  sequencer: ServiceHandle;
  stream: ServiceHandle;
  /** Environment shared by the three services. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** NATS, Redis and the three services, each its own process, on free ports. */
export async function startStack(options: { env?: NodeJS.ProcessEnv } = {}): Promise<Stack> {
  const [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
  const adminToken = `hga_${randomBytes(24).toString("base64url")}`;
  const env = { NATS_URL: nats.url, REDIS_URL: redis.url, ADMIN_TOKEN: adminToken, ...options.env };
  const [ingest, sequencer, stream] = await Promise.all([
    startService("ingest-gateway", env),
    startService("sequencer", env),
    startService("stream-gateway", env),
  ]);
  const stack: Stack = {
    nats,
    redis,
    adminToken,
    ingest,
    sequencer,
    stream,
    env,
    async stop() {
      await Promise.all([stack.ingest.stop(), stack.sequencer.stop(), stack.stream.stop()]);
      await Promise.all([nats.stop(), redis.stop()]);
    },
  };
  return stack;
}

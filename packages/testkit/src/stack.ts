import { newAdminToken } from "@heliograph/contracts";
import type { NatsCredentials, NatsRole } from "@heliograph/platform";
import { natsCredentialsEnv, natsCredentialsFromEnv } from "./nats-auth.js";
import { type NatsServerHandle, natsAccess, startNatsServer } from "./nats-server.js";
import { killGroupQuietly, killProcessGroup } from "./process-group.js";
import { type RedisServerHandle, startRedisServer, unownedRedisServer } from "./redis-server.js";
import { type ServerHandle, unownedServer } from "./server-handle.js";
import { type ServiceHandle, type ServiceName, startService } from "./services.js";

/**
 * A server the stack uses but neither starts nor stops: a URL (a NATS cluster, a server outside
 * the harness) or the handle of one started earlier (the benchmark keeps its servers across stacks).
 */
export interface GivenServer {
  url: string;
  /** NATS: each role's credentials on that server (default: NATS_USER/NATS_PASSWORD for all). */
  roles?: Record<NatsRole, NatsCredentials> | undefined;
}

export interface StackOptions {
  /**
   * NATS: started on a free port with its store in a temp folder (or as these options say; NATS_URL
   * is used when set unless `reuseEnv: false`), or the given server.
   */
  nats?: Parameters<typeof startNatsServer>[0] | GivenServer;
  /** Redis: like `nats` (REDIS_URL, `port`, `dir`, `reuseEnv`, `ownProcessGroup`). */
  redis?: Parameters<typeof startRedisServer>[0] | GivenServer;
  /**
   * Which services and how many instances of each; default one of each but the webhook dispatcher
   * (ask for it: `{ ..., "webhook-dispatcher": 1 }`), `{}` for the servers
   * alone. The first (the ingest gateway when it is one) starts alone because it creates the
   * JetStream streams; the others then start at once.
   */
  services?: Partial<Record<ServiceName, number>>;
  /** Ports of the first instance of a service (default: free ports). */
  ports?: Partial<Record<ServiceName, number>>;
  /** Environment of every service, over NATS_URL, REDIS_URL and ADMIN_TOKEN. */
  env?: NodeJS.ProcessEnv;
  /** The ingest gateway's admin token (default: a new one, `newAdminToken()`). */
  adminToken?: string;
  /**
   * Each service leads its own process group (default false): `killHard` then kills everything
   * it started, and Ctrl-C in a terminal reaches only the parent, which stops the stack in order.
   */
  ownProcessGroup?: boolean;
  /** Copy the services' output to stderr (default: when HG_ECHO=1). */
  echo?: boolean;
  /** How long a stopping service has after SIGTERM before SIGKILL (default 5 s). */
  stopGraceMs?: number;
}

export interface Stack {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  adminToken: string;
  /** The admin API of the first ingest gateway (its admin listener) with the admin token. */
  admin: { url: string; token: string };
  /** Environment shared by the services. */
  env: NodeJS.ProcessEnv;
  /** Every instance of every service, in start order; a restart replaces its entry. */
  instances: Record<ServiceName, ServiceHandle[]>;
  /** The first instance of each service started (current after restarts). */
  services: Partial<Record<ServiceName, ServiceHandle>>;
  /** First instances by short name; each throws when that service was not started. */
  ingest: ServiceHandle;
  sequencer: ServiceHandle;
  stream: ServiceHandle;
  /** kill -9 of the instance's process group (its PID without ownProcessGroup); waits until its port is gone. */
  killHard(name: ServiceName, index?: number): Promise<void>;
  /**
   * Starts the instance again on its port with its environment (stopping it first if it runs) and
   * waits for /readyz. A handle's own `restart()` does the same.
   */
  restart(name: ServiceName, index?: number): Promise<ServiceHandle>;
  /** Stops the services in reverse order of start; the servers keep running. */
  stopServices(): Promise<void>;
  /** Stops the services, then the servers the stack started, each in reverse order of start. */
  stop(): Promise<void>;
}

/** Which part of a stack failed to start; whatever had started is stopped again. */
export class StackStartError extends Error {
  override readonly name = "StackStartError";
  constructor(
    readonly part: "nats-server" | "redis-server" | ServiceName,
    cause: unknown,
  ) {
    super(`${part}: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
}

const SERVICE_ORDER: ServiceName[] = ["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"];
const SHORT_NAMES = { ingest: "ingest-gateway", sequencer: "sequencer", stream: "stream-gateway" } as const;

/**
 * The one way tests, the benchmark and `pnpm dev` start Heliograph: NATS and Redis (started or
 * given), then the services, each its own process (`node --import tsx services/<name>/src/main.ts`).
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const grace = options.stopGraceMs ?? 5_000;
  const owned: ServerHandle[] = [];
  const stopServers = async () => {
    for (const server of [...owned].reverse()) await server.stop().catch(() => {});
  };

  const [natsStart, redisStart] = await Promise.allSettled([
    useOrStart(
      options.nats,
      (o) => startNatsServer(o),
      (server, given) => ({
        ...server,
        storeDir: "",
        ...natsAccess(server.url, given.roles, given.roles?.admin ?? natsCredentialsFromEnv()),
      }),
    ),
    useOrStart(options.redis, (o) => startRedisServer(o), unownedRedisServer),
  ]);
  for (const started of [natsStart, redisStart])
    if (started.status === "fulfilled" && started.value.owned) owned.push(started.value.server);
  if (natsStart.status === "rejected" || redisStart.status === "rejected") {
    await stopServers();
    if (natsStart.status === "rejected") throw new StackStartError("nats-server", natsStart.reason);
    throw new StackStartError("redis-server", (redisStart as PromiseRejectedResult).reason);
  }
  const nats = natsStart.value.server;
  const redis = redisStart.value.server;

  const adminToken = options.adminToken ?? newAdminToken();
  const env: NodeJS.ProcessEnv = { NATS_URL: nats.url, REDIS_URL: redis.url, ADMIN_TOKEN: adminToken, ...options.env };
  const counts = options.services ?? { "ingest-gateway": 1, sequencer: 1, "stream-gateway": 1 };
  const names = SERVICE_ORDER.filter((name) => (counts[name] ?? 0) > 0);
  const instances = Object.fromEntries(SERVICE_ORDER.map((name) => [name, []])) as unknown as Record<
    ServiceName,
    ServiceHandle[]
  >;
  /** Start order, for stopping in reverse. */
  const started: [ServiceName, number][] = [];

  // A handle whose restart() goes through the stack, so the stack always holds the live process.
  const track = (name: ServiceName, index: number, handle: ServiceHandle): ServiceHandle => {
    const startAgain = handle.restart;
    const tracked: ServiceHandle = {
      ...handle,
      async restart() {
        const current = instances[name][index] ?? tracked;
        if (current.running()) await current.stop(grace);
        killGroupQuietly(current);
        const fresh = track(name, index, await startAgain());
        instances[name][index] = fresh;
        return fresh;
      },
    };
    return tracked;
  };
  const startOne = async (name: ServiceName, index: number) => {
    try {
      const port = index === 0 ? options.ports?.[name] : undefined;
      // Each service as its own NATS user, unless the caller's env names one.
      const roleEnv = options.env?.NATS_USER ? {} : natsCredentialsEnv(nats.roles?.[name]);
      const handle = await startService(
        name,
        { ...env, ...roleEnv },
        {
          ...(port === undefined ? {} : { port }),
          ...(options.echo === undefined ? {} : { echo: options.echo }),
          ownProcessGroup: options.ownProcessGroup ?? false,
        },
      );
      instances[name][index] = track(name, index, handle);
      started.push([name, index]);
    } catch (err) {
      throw new StackStartError(name, err);
    }
  };

  const stopServices = async () => {
    for (const [name, index] of [...started].reverse()) {
      const handle = instances[name][index];
      if (!handle) continue;
      if (handle.running()) await handle.stop(grace);
      killGroupQuietly(handle);
    }
  };

  const plan = names.flatMap((name) => Array.from({ length: counts[name] ?? 0 }, (_, i) => [name, i] as const));
  try {
    const [first, ...rest] = plan;
    if (first) await startOne(...first);
    const results = await Promise.allSettled(rest.map(([name, i]) => startOne(name, i)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (err) {
    await stopServices();
    await stopServers();
    throw err;
  }

  const services: Partial<Record<ServiceName, ServiceHandle>> = {};
  for (const name of names) Object.defineProperty(services, name, { get: () => instances[name][0], enumerable: true });
  const instance = (name: ServiceName, index: number): ServiceHandle => {
    const handle = instances[name][index];
    if (!handle) throw new Error(`this stack has no ${name}${index === 0 ? "" : ` #${index}`}`);
    return handle;
  };

  const stack = {
    nats,
    redis,
    adminToken,
    env,
    instances,
    services,
    async killHard(name: ServiceName, index = 0) {
      await killProcessGroup(instance(name, index));
    },
    restart: (name: ServiceName, index = 0) => instance(name, index).restart(),
    stopServices,
    async stop() {
      await stopServices();
      await stopServers();
    },
  } as Stack;
  Object.defineProperty(stack, "admin", {
    get: () => {
      const url = instance("ingest-gateway", 0).adminUrl;
      if (!url) throw new Error("the ingest gateway has no admin listener");
      return { url, token: adminToken };
    },
    enumerable: true,
  });
  for (const [short, name] of Object.entries(SHORT_NAMES))
    Object.defineProperty(stack, short, {
      get: () => instance(name, 0),
      set: (handle: ServiceHandle) => {
        instances[name][0] = handle;
      },
      enumerable: true,
    });
  return stack;
}

async function useOrStart<O extends object, H extends ServerHandle>(
  choice: O | GivenServer | undefined,
  start: (options: O) => Promise<H>,
  fromUrl: (server: ServerHandle, given: GivenServer) => H,
): Promise<{ server: H; owned: boolean }> {
  if (choice && "url" in choice) {
    // A handle started earlier is used as it is (still restartable by its owner).
    if (typeof (choice as Partial<ServerHandle>).restart === "function") return { server: choice as H, owned: false };
    // A bare URL, perhaps of a cluster (a,b,c): used, never killed or restarted.
    const first = choice.url.split(",")[0] ?? choice.url;
    const port = Number(new URL(first.replace(/^nats:/, "http:")).port);
    return { server: fromUrl(unownedServer(choice.url, port, `${choice.url} was given`), choice), owned: false };
  }
  return { server: await start((choice ?? {}) as O), owned: true };
}

export interface Servers {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  /** Stops the servers this call started (given ones keep running). */
  stop(): Promise<void>;
}

/**
 * NATS and Redis alone, with one call: the stack without services, for tests that build the apps
 * in-process. Each option is the same as `startStack`'s.
 */
export async function startServers(options: Pick<StackOptions, "nats" | "redis"> = {}): Promise<Servers> {
  const stack = await startStack({ ...options, services: {} });
  return { nats: stack.nats, redis: stack.redis, stop: () => stack.stop() };
}

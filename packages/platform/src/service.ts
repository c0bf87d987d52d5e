import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ConfigError, natsCredentialsOf } from "./config.js";
import { applyHttpLimits, type HttpApp, httpLimitsOf } from "./http.js";
import { createLogger } from "./logger.js";
import { createMetricsRegistry } from "./metrics.js";
import { connectNats, ensureStreams } from "./nats.js";
import type { Redis } from "./redis.js";
import { connectRedis } from "./redis.js";
import { onShutdown } from "./shutdown.js";

/** What `runService` reads of every service's configuration (`BaseEnv` plus where to listen). */
export interface ServiceConfig {
  HOST: string;
  PORT: number;
  NATS_URL: string;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_PASSWORD_FILE?: string | undefined;
  REDIS_URL: string;
  LOG_LEVEL: string;
  LOG_PRETTY: boolean;
  JETSTREAM_REPLICAS: number;
  JETSTREAM_DUPLICATE_WINDOW_MS: number;
  EVENTS_MAX_AGE_SECONDS: number;
  EVENTS_MAX_MSGS_PER_SUBJECT: number;
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
  MAX_CONNECTIONS: number;
}

/** The process's one of each, handed to the service's `start`. */
export interface ServiceContext<C> {
  config: Readonly<C>;
  log: Logger;
  metrics: Registry;
  nc: NatsConnection;
  redis: Redis;
}

/** An app the service serves on a listener of its own (the ingest gateway's admin API). */
export interface SideListener {
  name: string;
  app: HttpApp;
  host: string;
  port: number;
}

/** What `start` gives back: the public app, and any apps served on listeners of their own. */
export type StartedService = HttpApp | { app: HttpApp; side: SideListener[] };

export interface ServiceDefinition<C extends ServiceConfig> {
  name: string;
  /** Parses the environment; throws a ConfigError naming every bad variable. */
  loadConfig: (env: Record<string, string | undefined>) => Readonly<C>;
  /** Names the process on its NATS and Redis connections (default: the service's name). */
  connectionName?: (config: Readonly<C>) => string;
  /**
   * Builds the app on the connections, which it then owns (closing it drains NATS and quits Redis),
   * and starts whatever else the service runs. Closing the app must stop all of it in reverse order
   * of start: Fastify runs the plugins' onClose hooks last-registered first. Side listeners'
   * apps must not own the connections: they close first, then the public app.
   */
  start: (ctx: ServiceContext<C>) => Promise<StartedService>;
}

/** How long the whole close may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 25_000;

/**
 * Runs a service process, the same way for every service: config → logger → connections (NATS and
 * its streams, Redis) → `start` → listen → on SIGTERM/SIGINT close the app (stop accepting, then
 * what it started, then the connections) and exit 0. Any failure before it listens, a bad
 * variable included, is one fatal log line naming it and exit code 1.
 */
export async function runService<C extends ServiceConfig>(
  service: ServiceDefinition<C>,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  let config: Readonly<C>;
  let natsCredentials: ReturnType<typeof natsCredentialsOf>;
  try {
    config = service.loadConfig(env);
    natsCredentials = natsCredentialsOf(config);
  } catch (err) {
    // No configured logger yet: the default one, so the line is JSON like every other.
    const log = createLogger({ name: service.name });
    if (err instanceof ConfigError) log.fatal({ problems: err.problems }, `${service.name}: ${err.message}`);
    else log.fatal({ err }, `${service.name}: reading the configuration failed`);
    process.exit(1);
  }
  const log = createLogger({ name: service.name, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  try {
    const connectionName = service.connectionName?.(config) ?? service.name;
    const nc = await connectNats({ url: config.NATS_URL, credentials: natsCredentials }, log, connectionName);
    await ensureStreams(nc, {
      replicas: config.JETSTREAM_REPLICAS,
      duplicateWindowMs: config.JETSTREAM_DUPLICATE_WINDOW_MS,
      eventsMaxAgeSeconds: config.EVENTS_MAX_AGE_SECONDS,
      eventsMaxMsgsPerSubject: config.EVENTS_MAX_MSGS_PER_SUBJECT,
      log,
    });
    const redis = await connectRedis(config.REDIS_URL, log, connectionName);
    const started = await service.start({ config, log, metrics: createMetricsRegistry(service.name), nc, redis });
    const { app, side } = "side" in started ? started : { app: started, side: [] };
    const limits = httpLimitsOf(config);
    for (const listener of side) {
      applyHttpLimits(listener.app, limits);
      await listener.app.listen({ host: listener.host, port: listener.port });
      log.info({ listener: listener.name, host: listener.host, port: listener.port }, "side listener up");
    }
    applyHttpLimits(app, limits);
    // A large accept queue: thousands of clients connecting at once (long polls, load) are queued,
    // not refused (the kernel caps it at net.core.somaxconn).
    await app.listen({ host: config.HOST, port: config.PORT, backlog: 8192 });
    onShutdown(
      log,
      [
        ...side.map((listener) => ({ name: `close the ${listener.name} listener`, run: () => listener.app.close() })),
        {
          // Answers 503 SHUTTING_DOWN and releases long polls while in-flight requests finish.
          name: "close the app: HTTP, then what it started, then NATS and Redis",
          run: () => app.close(),
        },
      ],
      { stepTimeoutMs: SHUTDOWN_TIMEOUT_MS },
    );
  } catch (err) {
    log.fatal({ err }, `${service.name} failed to start`);
    process.exit(1);
  }
}

import { readFileSync } from "node:fs";
import { z } from "zod";
import { NATS_ROLES, type NatsCredentials, type NatsRole, natsCredentials } from "./nats-permissions.js";

/** A bad or missing environment variable, named, with every other one found at the same time. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join("; ")}`);
  }
}

/**
 * Parses the environment with a zod object whose keys are variable names. Returns a frozen
 * object, or throws a {@link ConfigError} that names every bad variable.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: issue.path.map(String).join(".") || "(env)",
        message: issue.message,
      })),
    );
  }
  return Object.freeze(result.data);
}

/** `"true"`/`"1"`/`"yes"` and `"false"`/`"0"`/`"no"`; anything else is an error (`"false"` is not true). */
export const envBoolean = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1" || v === "yes"));

export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .optional()
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

/** Variables every service reads. */
export const BaseEnv = z.object({
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  /**
   * The NATS user, one per role (`ingest-gateway`, `sequencer`, `stream-gateway`, …; see
   * NATS_PERMISSIONS); with a role's name the connection also takes that role's inbox prefix.
   * Unset: no credentials (a server without auth).
   */
  NATS_USER: z.string().min(1).optional(),
  /** NATS_USER's password; or NATS_PASSWORD_FILE, a file holding it (a mounted secret), never both. */
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_PASSWORD_FILE: z.string().min(1).optional(),
  /**
   * One Redis server (`redis://`, `rediss://` with TLS), or a Redis Cluster: several such URLs,
   * comma-separated (seed nodes), or `redis-cluster://` / `rediss-cluster://` URLs, one enough (a
   * managed cluster's configuration endpoint). See connectRedis.
   */
  REDIS_URL: z
    .string()
    .regex(/^rediss?(-cluster)?:\/\//, "must be a redis://, rediss://, redis-cluster:// or rediss-cluster:// URL")
    .default("redis://127.0.0.1:6379"),
  LOG_LEVEL: LogLevel,
  LOG_PRETTY: envBoolean(false),
  /** Replicas of the JetStream streams a service creates: 1 on one machine, 3 in a cluster. */
  JETSTREAM_REPLICAS: envInt(1, 1, 5),
  /**
   * JetStream's duplicate window of INGEST and EVENTS (Nats-Msg-Id), in ms. Idempotency past it
   * rests on Redis records and, for EVENTS, on conditional publishes; tests shorten it to show that.
   */
  JETSTREAM_DUPLICATE_WINDOW_MS: envInt(10 * 60_000, 1_000, 24 * 3_600_000),
  /**
   * EVENTS' retention (docs/architecture.md, "The hot window"): events older than this many seconds
   * are removed from the record; 0 keeps them whatever their age. Set alike in every service
   * (each applies it at start). Readers of removed events get 410 POSITION_EVICTED.
   */
  EVENTS_MAX_AGE_SECONDS: envInt(0, 0, 100 * 365 * 86_400),
  /** EVENTS keeps at most this many events per stream (the oldest go first); 0 keeps all. */
  EVENTS_MAX_MSGS_PER_SUBJECT: envInt(0, 0),
  /**
   * Time a client has to send a request's head (Node's headersTimeout), from the connection or
   * the request's first byte; past it the connection is closed with 408 REQUEST_TIMEOUT. At most
   * HTTP_REQUEST_TIMEOUT_MS (a larger value is lowered to it).
   */
  HTTP_HEADERS_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /**
   * Time a client has to send a whole request, head and body (Node's requestTimeout); then 408
   * and close. It bounds receiving, not answering: a long poll holds its answer up to 60 s
   * whatever this is.
   */
  HTTP_REQUEST_TIMEOUT_MS: envInt(30_000, 100, 600_000),
  /**
   * How long an idle keep-alive connection is kept between requests. Longer than the idle
   * timeout of the balancers in front (60 s on most), so the server never closes a connection a
   * balancer is about to reuse.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: envInt(72_000, 1_000, 600_000),
  /**
   * Open HTTP connections per process; beyond it a new connection is closed as soon as it is
   * accepted. Above the stream gateway's 50,000 held long polls (MAX_WAITERS); the open-files
   * limit (`ulimit -n`, 65,536 in the compose file) must exceed it by the NATS/Redis sockets.
   */
  MAX_CONNECTIONS: envInt(60_000, 1, 10_000_000),
});

/**
 * The NATS credentials a configuration names (NATS_USER with NATS_PASSWORD or NATS_PASSWORD_FILE),
 * or none when NATS_USER is unset. Throws a {@link ConfigError} naming the variables when they do
 * not go together or the file cannot be read.
 */
export function natsCredentialsOf(config: {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_PASSWORD_FILE?: string | undefined;
}): NatsCredentials | undefined {
  const { NATS_USER: user, NATS_PASSWORD: password, NATS_PASSWORD_FILE: file } = config;
  const problem = (variable: string, message: string) => new ConfigError([{ variable, message }]);
  if (password !== undefined && file !== undefined)
    throw problem("NATS_PASSWORD, NATS_PASSWORD_FILE", "set one of them, not both");
  if (user === undefined) {
    if (password !== undefined || file !== undefined)
      throw problem("NATS_USER", "required when NATS_PASSWORD or NATS_PASSWORD_FILE is set");
    return undefined;
  }
  let secret = password;
  if (file !== undefined) {
    try {
      // A secret file usually ends with a newline that is not part of the password.
      secret = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw problem("NATS_PASSWORD_FILE", `cannot be read: ${(err as Error).message}`);
    }
    if (!secret) throw problem("NATS_PASSWORD_FILE", "the file is empty");
  }
  if (secret === undefined) throw problem("NATS_PASSWORD", "required when NATS_USER is set (or NATS_PASSWORD_FILE)");
  // The deploy examples' placeholders: a copied template must not run with a password anyone can read.
  if (/^replace[-_]with/i.test(secret))
    throw problem(
      file === undefined ? "NATS_PASSWORD" : "NATS_PASSWORD_FILE",
      "is the example's placeholder; set a random password",
    );
  if ((NATS_ROLES as readonly string[]).includes(user)) return natsCredentials(user as NatsRole, secret);
  return { user, password: secret };
}

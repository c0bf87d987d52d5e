import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ADMIN_TOKEN_FORMAT, DEFAULT_PARTITION_COUNT, PUBLISHED_ADMIN_TOKENS } from "@heliograph/contracts";
import { BaseEnv, envBoolean, envInt } from "@heliograph/platform";
import { z } from "zod";

/**
 * The console's built files: beside the program in a production build (`pnpm build` copies them to
 * `dist/console`), else `packages/console/dist` of this workspace, where
 * `pnpm --filter @heliograph/console build` writes.
 */
const BUNDLED_CONSOLE_DIR = fileURLToPath(new URL("./console", import.meta.url));
const DEFAULT_CONSOLE_DIR = existsSync(BUNDLED_CONSOLE_DIR)
  ? BUNDLED_CONSOLE_DIR
  : fileURLToPath(new URL("../../../packages/console/dist", import.meta.url));

/** Environment of the ingest gateway: the shared variables plus its own. */
export const IngestEnv = BaseEnv.extend({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: envInt(8080, 0, 65_535),
  /**
   * Bearer token of the admin API, as `heliograph admin-token` makes it (256 random bits). A
   * token of another shape, or one printed in this repository's examples, is refused at start:
   * a placeholder left in a deployment would be an admin token anyone knows.
   */
  ADMIN_TOKEN: z
    .string({ message: "is required" })
    .regex(
      ADMIN_TOKEN_FORMAT,
      "must be a generated token: hga_ and 43 base64url characters (`pnpm heliograph admin-token`, or " +
        "`echo hga_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`)",
    )
    .refine((token) => !PUBLISHED_ADMIN_TOKENS.has(token), "is an example published in the repository; generate one"),
  /**
   * Where the admin API listens: its own listener, never the public port. Loopback unless set,
   * so an operator reaches it from the host (or through `kubectl port-forward`) and nobody else.
   */
  ADMIN_HOST: z.string().min(1).default("127.0.0.1"),
  ADMIN_PORT: envInt(8090, 0, 65_535),
  /** Live tails (`/admin/v1/streams/{id}/tail`) open at once on this process; each holds a JetStream consumer. */
  ADMIN_TAIL_LIMIT: envInt(16, 1, 1_000),
  /**
   * The operators' web console (`packages/console`, built): the folder served at `/console/` on the
   * admin listener. Default: the workspace's build output; a production image copies it elsewhere.
   */
  CONSOLE_DIR: z.string().min(1).default(DEFAULT_CONSOLE_DIR),
  /** INGEST partition count; must match the sequencer's (it decides the subject of every publish). */
  PARTITIONS: envInt(DEFAULT_PARTITION_COUNT, 1, 1024),
  /**
   * How long the record of a publish an operator skipped answers status lookups (`parked`): the
   * sequencer's APPLIED_TTL_SECONDS, which keeps the records of numbered publishes as long.
   */
  APPLIED_TTL_SECONDS: envInt(86_400, 60, 30 * 86_400),
  /**
   * Accept webhook URLs that resolve to private, loopback or link-local addresses (local
   * development and tests only: otherwise subscribers could make the dispatcher call inside its
   * own network). The webhook dispatcher has the same flag and checks again at every delivery.
   */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: envBoolean(false),
  /** How long an Idempotency-Key's first answer is kept (docs/architecture.md, promise 3: 24 h by default). */
  IDEMPOTENCY_TTL_SECONDS: envInt(86_400, 1),
  /** How long a publish waits for JetStream's PubAck before answering 503. */
  PUBLISH_TIMEOUT_MS: envInt(5_000, 1, 120_000),
  /**
   * Publisher, resource, algorithm and channel lookups are cached in-process and evicted by a KV
   * watch when they change; this bounds an entry's age should the watch stall unnoticed. 0 = no cache.
   */
  CONTROL_PLANE_CACHE_MS: envInt(60_000, 0, 3_600_000),
  /** Publishes per second per publisher and process (0 = no limit); over it, 429 with Retry-After. */
  PUBLISHER_RATE_LIMIT: envInt(2_000, 0, 10_000_000),
  /** Publishes a publisher may send at once after being idle. */
  PUBLISHER_RATE_BURST: envInt(4_000, 1, 10_000_000),
});
export type IngestConfig = z.infer<typeof IngestEnv>;

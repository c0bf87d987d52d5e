import { configDefaults, defineConfig } from "vitest/config";

/** The suites that run a second time on a Redis Cluster (3 masters, 3 replicas; issue 11). */
const ON_REDIS_CLUSTER = [
  "services/sequencer/src/**/*.test.ts",
  "services/stream-gateway/src/**/*.test.ts",
  "services/ingest-gateway/src/**/*.test.ts",
  "test/e2e/**/*.test.ts",
];
/**
 * Not twice: Server-Sent Events, ideas and the documents' round trip read through the same hub,
 * reads and keys as the long polls, hot tier and webhooks that do run on the cluster; their second
 * run cost a minute of CI and tested no other Redis code.
 */
const NOT_ON_REDIS_CLUSTER = [
  "services/stream-gateway/src/sse.test.ts",
  "test/e2e/sse.test.ts",
  "test/e2e/ideas.test.ts",
  "test/e2e/publish-to-read.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each integration file starts its own nats-server and redis-server; two cores.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    retry: 0,
    globalSetup: ["./test/temp-root.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "redis",
          include: [
            "packages/*/src/**/*.test.ts",
            "services/*/src/**/*.test.ts",
            "test/**/*.test.ts",
            "deploy/**/*.test.ts",
          ],
        },
      },
      {
        // The same tests against a Redis Cluster the test kit starts per file (startRedisServer);
        // those that need one server's process (a snapshot, a proxy in front) skip there.
        extends: true,
        test: {
          name: "redis-cluster",
          include: ON_REDIS_CLUSTER,
          exclude: [...configDefaults.exclude, ...NOT_ON_REDIS_CLUSTER],
          env: { HELIOGRAPH_TEST_REDIS: "cluster" },
        },
      },
    ],
  },
});

import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { nodeFlagsOf } from "@heliograph/platform";
import {
  REPO_ROOT,
  type ServiceHandle,
  type Stack,
  startService,
  startStack,
  tempDataDir,
  waitFor,
} from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

// What deploy/docker/Dockerfile puts in the image, built here without Docker: `pnpm build`, then
// `pnpm deploy --prod` of the stream gateway into a folder, started with node alone against real
// NATS and Redis, reading what the (TypeScript) ingest gateway and sequencer wrote.

const run = promisify(execFile);
const SERVICES = ["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"] as const;
/** Packages of the workspace's tooling and tests: none may reach a production folder. */
const DEV_ONLY = ["tsx", "typescript", "vitest", "@biomejs/biome", "esbuild", "testcontainers", "pino-pretty"];

let folder: string;
let stack: Stack | undefined;
let gateway: ServiceHandle | undefined;
let dev: DevConfig;

describe("the stream gateway's production folder (pnpm build, pnpm deploy --prod)", () => {
  beforeAll(async () => {
    await run("pnpm", ["build"], { cwd: REPO_ROOT });
    folder = join(tempDataDir("hg-deploy-"), "stream-gateway");
    await run(
      "pnpm",
      ["--filter", "@heliograph/stream-gateway", "deploy", "--prod", "--legacy", "--prefer-offline", folder],
      {
        cwd: REPO_ROOT,
      },
    );

    stack = await startStack({ services: { "ingest-gateway": 1, sequencer: 1 } });
    gateway = await startService(
      "stream-gateway",
      {
        ...stack.nats.serviceEnv("stream-gateway"),
        REDIS_URL: stack.redis.url,
        NODE_ENV: "production",
        // Nothing inherited from the test runner may load a TypeScript loader into the process.
        NODE_OPTIONS: "",
      },
      { main: join(folder, "dist/main.js") },
    );
    dev = await seedDemoTenant({ ingest: stack.ingest, stream: gateway, admin: stack.admin });
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
    await stack?.stop();
  });

  it("holds its bundle and production dependencies, and nothing of the workspace's tooling or sources", () => {
    expect(readdirSync(folder).sort()).toEqual(["dist", "node_modules", "package.json"]);
    expect(existsSync(join(folder, "node_modules/fastify/package.json"))).toBe(true);
    const store = readdirSync(join(folder, "node_modules/.pnpm"));
    for (const name of DEV_ONLY) {
      expect(existsSync(join(folder, "node_modules", name)), name).toBe(false);
      expect(
        store.filter((entry) => entry.startsWith(`${name.replace("/", "+")}@`)),
        name,
      ).toEqual([]);
    }
    // The workspace packages are inlined in the bundle, not installed as TypeScript sources.
    expect(existsSync(join(folder, "node_modules/@heliograph"))).toBe(false);
    expect(readFileSync(join(folder, "dist/main.js"), "utf8")).not.toMatch(/from\s*["']@heliograph\//);
  });

  it("started with plain node, serves a publish's event to an entitled subscriber", async () => {
    const published = await fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
      method: "POST",
      headers: {
        "API-KEY": dev.publisher.api_key,
        "API-SECRET": dev.publisher.api_secret,
        "content-type": "application/json",
      },
      body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
    });
    expect(published.status).toBe(202);
    const sid = dev.streams.algorithm;
    let events: StreamEvent[] = [];
    await waitFor(
      async () => {
        const res = await fetch(`${gateway?.url}/api/v1/stream/${sid}/-1/10`, {
          headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "5" },
        });
        expect(res.status).toBe(200);
        events = (await res.json()) as StreamEvent[];
        return events.length > 0;
      },
      { timeoutMs: 30_000, what: "the event read from the built stream gateway" },
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_number: 0,
      event_type: "TradingSignalCreated",
      data: { ticker_symbol: "AAPL", side: "buy" },
    });
  });

  it("on SIGTERM shuts down in order and exits 0", async () => {
    await gateway?.stop(30_000);
    expect(await gateway?.exited()).toBe(0);
    expect(gateway?.output()).toMatch(/shutdown step done/);
  });
});

describe("the image and the manifests that run it", () => {
  const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");

  it("builds on Node 24 bookworm-slim pinned by digest, runs as node under tini", () => {
    const dockerfile = read("deploy/docker/Dockerfile");
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["sh", "-c", "exec node \/app\/\$\{HELIOGRAPH_SERVICE\}\/dist\/main\.js"\]$/m);
  });

  it("compose and Kubernetes start each service's bundle with node alone, with the service's V8 flags", () => {
    const compose = parse(read("deploy/compose/docker-compose.yml")) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
    };
    const flagsIn = (options: string | undefined) => (options ?? "").split(/\s+/).filter(Boolean);
    for (const name of SERVICES) {
      expect(compose.services[name]?.command, `compose ${name}`).toEqual(["node", `/app/${name}/dist/main.js`]);
      const deployment = parseAllDocuments(read(`deploy/k8s/${name}.yaml`))
        .map((doc) => doc.toJS())
        .find((object) => object?.kind === "Deployment");
      const container = deployment.spec.template.spec.containers[0];
      expect(container.args, `k8s ${name}`).toEqual(["node", `/app/${name}/dist/main.js`]);
      // What the test kit, pnpm dev and the bench run each service with, the examples run it with too.
      const k8sOptions = container.env?.find((e: { name: string }) => e.name === "NODE_OPTIONS")?.value;
      expect(flagsIn(k8sOptions), `k8s ${name} NODE_OPTIONS`).toEqual(expect.arrayContaining([...nodeFlagsOf(name)]));
      expect(flagsIn(compose.services[name]?.environment?.NODE_OPTIONS), `compose ${name} NODE_OPTIONS`).toEqual(
        expect.arrayContaining([...nodeFlagsOf(name)]),
      );
    }
  });
});

import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { newAdminToken, type StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { nodeFlagsOf } from "@heliograph/platform";
import {
  REPO_ROOT,
  type Servers,
  type ServiceHandle,
  startServers,
  startService,
  tempDataDir,
  waitFor,
} from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { type BuiltService, SERVICE_ASSETS, SERVICES, WORKSPACE_ASSETS } from "../../deploy/build/build-services.js";

// What deploy/docker/Dockerfile puts in the image, built here without Docker: `pnpm build`, then a
// `pnpm deploy --prod` folder per service, each started with node alone (no tsx) against real NATS
// and Redis, so a publish crosses the whole path through production folders only.

const run = promisify(execFile);
/** Packages of the workspace's tooling and tests: none may reach a production folder. */
const DEV_ONLY = ["tsx", "typescript", "vitest", "@biomejs/biome", "esbuild", "testcontainers", "pino-pretty"];
/**
 * The Dockerfile's deploy, argument for argument (a test below reads it there). From the workspace
 * lockfile (injectWorkspacePackages for this command only; the workspace itself links its
 * packages): the folder gets the lockfile's versions, and pnpm resolves nothing, which also makes
 * it about twice as cheap as `--legacy`, which resolved the whole workspace again.
 */
const deployArgs = (service: string, folder: string) => [
  "--config.inject-workspace-packages=true",
  "--filter",
  `@heliograph/${service}`,
  "deploy",
  "--prod",
  folder,
];

/**
 * The previous LTS, which `npm test` installs on linux-x64 (deploy/setup/with-toolchain.mjs): the
 * built stream gateway runs on it too. Elsewhere it may be missing, and its test is skipped.
 */
const NODE_22 = join(REPO_ROOT, ".heliograph/toolchain/bin/node22");
const NODE_22_REQUIRED = `${process.platform}-${process.arch}` === "linux-x64";

/** The major version of the Node a service runs on, as it reports it (prom-client's default metrics). */
async function nodeMajorOf(handle: ServiceHandle): Promise<string | undefined> {
  const metrics = await (await fetch(`${handle.url}/metrics`)).text();
  return /^heliograph_nodejs_version_info\{[^}]*major="(\d+)"/m.exec(metrics)?.[1];
}

const folders = {} as Record<BuiltService, string>;
const started: ServiceHandle[] = [];
const production = {} as Record<BuiltService, ServiceHandle>;
let servers: Servers | undefined;
let dev: DevConfig;
const adminToken = newAdminToken();

async function startFromFolder(service: BuiltService): Promise<ServiceHandle> {
  if (!servers) throw new Error("no servers");
  const handle = await startService(
    service,
    {
      ...servers.nats.serviceEnv(service),
      REDIS_URL: servers.redis.url,
      ADMIN_TOKEN: adminToken,
      NODE_ENV: "production",
      // Nothing inherited from the test runner may load a TypeScript loader into the process.
      NODE_OPTIONS: "",
    },
    { main: join(folders[service], "dist/main.js") },
  );
  started.push(handle);
  production[service] = handle;
  return handle;
}

describe("the services' production folders (pnpm build, a pnpm deploy --prod per service)", () => {
  beforeAll(async () => {
    const root = tempDataDir("hg-deploy-");
    for (const service of SERVICES) folders[service] = join(root, service);
    // Started while pnpm builds; kept where afterAll finds them even when the build fails.
    const serversStarted = startServers().then((started) => {
      servers = started;
    });
    serversStarted.catch(() => {});
    await run("pnpm", ["build"], { cwd: REPO_ROOT });
    // At once: where a core is idle the four overlap; on a busy machine they take what one after
    // the other would (measured: about 2 s of CPU each).
    await Promise.all(
      SERVICES.map((service) => run("pnpm", deployArgs(service, folders[service]), { cwd: REPO_ROOT })),
    );
    await serversStarted;

    // The ingest gateway creates the JetStream streams the others bind to.
    const ingest = await startFromFolder("ingest-gateway");
    await Promise.all(
      (["sequencer", "stream-gateway", "webhook-dispatcher"] as const).map((service) => startFromFolder(service)),
    );
    if (!ingest.adminUrl) throw new Error("the ingest gateway has no admin listener");
    dev = await seedDemoTenant({
      ingest,
      stream: production["stream-gateway"],
      admin: { url: ingest.adminUrl, token: adminToken },
    });
  }, 180_000);

  afterAll(async () => {
    for (const handle of [...started].reverse()) await handle.stop();
    await servers?.stop();
  });

  it("each holds its bundle, the files it reads at run time and its production dependencies, and nothing of the workspace's tooling or sources", () => {
    for (const service of SERVICES) {
      const folder = folders[service];
      expect(readdirSync(folder).sort(), service).toEqual(["dist", "node_modules", "package.json", "pnpm-lock.yaml"]);
      expect(existsSync(join(folder, "node_modules/fastify/package.json")), service).toBe(true);
      for (const asset of SERVICE_ASSETS[service])
        expect(existsSync(join(folder, "dist", asset)), `${service} dist/${asset}`).toBe(true);
      for (const asset of WORKSPACE_ASSETS[service])
        expect(existsSync(join(folder, "dist", asset.to)), `${service} dist/${asset.to}`).toBe(true);
      const store = readdirSync(join(folder, "node_modules/.pnpm"));
      for (const name of DEV_ONLY) {
        expect(existsSync(join(folder, "node_modules", name)), `${service} ${name}`).toBe(false);
        expect(
          store.filter((entry) => entry.startsWith(`${name.replace("/", "+")}@`)),
          `${service} ${name}`,
        ).toEqual([]);
      }
      // The workspace packages are inlined in the bundle, not installed as TypeScript sources.
      expect(existsSync(join(folder, "node_modules/@heliograph")), service).toBe(false);
      expect(readFileSync(join(folder, "dist/main.js"), "utf8"), service).not.toMatch(/from\s*["']@heliograph\//);
    }
  });

  it("started with plain node, they take a publish in, number it and serve it to an entitled subscriber", async () => {
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
        const res = await fetch(`${dev.stream_url}/api/v1/stream/${sid}/-1/10`, {
          headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "5" },
        });
        expect(res.status).toBe(200);
        events = (await res.json()) as StreamEvent[];
        return events.length > 0;
      },
      { timeoutMs: 30_000, what: "the event read from the built stream gateway" },
    );
    // Numbered by the built sequencer, through the sequence-step.lua of its folder.
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_number: 0,
      event_type: "TradingSignalCreated",
      data: { ticker_symbol: "AAPL", side: "buy" },
    });
  });

  it("the built services run on this Node, the workspace's (24)", async () => {
    for (const handle of started)
      expect(await nodeMajorOf(handle), handle.name).toBe(process.versions.node.split(".")[0]);
  });

  it.skipIf(!NODE_22_REQUIRED && !existsSync(NODE_22))(
    "the stream gateway's folder runs on Node 22 too: it serves the event and exits 0 on SIGTERM",
    async () => {
      if (!servers) throw new Error("no servers");
      expect(existsSync(NODE_22), `${NODE_22}: \`npm test\` installs it (deploy/setup/with-toolchain.mjs)`).toBe(true);
      const gateway = await startService(
        "stream-gateway",
        {
          ...servers.nats.serviceEnv("stream-gateway"),
          REDIS_URL: servers.redis.url,
          NODE_ENV: "production",
          NODE_OPTIONS: "",
        },
        { main: join(folders["stream-gateway"], "dist/main.js"), node: NODE_22 },
      );
      try {
        expect(await nodeMajorOf(gateway)).toBe("22");
        const res = await fetch(`${gateway.url}/api/v1/stream/${dev.streams.algorithm}/-1/10`, {
          headers: { authorization: `Bearer ${dev.subscriber.token}` },
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject([{ event_number: 0, event_type: "TradingSignalCreated" }]);
      } finally {
        await gateway.stop(30_000);
      }
      expect(await gateway.exited()).toBe(0);
    },
  );

  it("the built ingest gateway serves the console of its folder on its admin listener", async () => {
    const consoleDir = join(folders["ingest-gateway"], "dist/console");
    const page = await fetch(`${production["ingest-gateway"].adminUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toBe(readFileSync(join(consoleDir, "index.html"), "utf8"));
    const script = await fetch(`${production["ingest-gateway"].adminUrl}/console/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript|^application\/javascript/);
  });

  it("the webhook dispatcher started from its folder is ready", async () => {
    const ready = await fetch(`${production["webhook-dispatcher"].url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("on SIGTERM each shuts down in order and exits 0", async () => {
    for (const handle of [...started].reverse()) {
      await handle.stop(30_000);
      expect(await handle.exited(), handle.name).toBe(0);
      expect(handle.output(), handle.name).toMatch(/shutdown step done/);
    }
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

  it("builds and deploys each service with the commands the production folders above were made with", () => {
    const dockerfile = read("deploy/docker/Dockerfile");
    expect(dockerfile).toContain(`ARG SERVICES="${SERVICES.join(" ")}"`);
    expect(dockerfile).toMatch(/^RUN pnpm build \$\{SERVICES\}$/m);
    // The loop's shell variable, quoted where the Dockerfile quotes it.
    const service = `\${service}`;
    const deploy = deployArgs(service, `/out/${service}`).map((arg) => (arg.includes("$") ? `"${arg}"` : arg));
    expect(dockerfile).toContain(`for service in \${SERVICES}; do`);
    expect(dockerfile).toContain(`pnpm ${deploy.join(" ")} || exit 1;`);
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

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "@heliograph/cli";
import type { StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { freePort, type ManagedProcess, REPO_ROOT, startProcess, tcpReady, waitFor } from "@heliograph/testkit";
import { afterAll, describe, expect, it } from "vitest";
import type { ClusterDevConfig } from "./cluster.js";
import { INSTANCE_HEADER } from "./round-robin-proxy.js";

// `pnpm cluster` itself, started as the script does, with its fronts on free ports and its state
// in a temp folder's .heliograph, so a developer's .heliograph is never touched.
const workDir = mkdtempSync(join(tmpdir(), "hg-cluster-"));
const stateDir = join(workDir, ".heliograph");
let cluster: ManagedProcess | undefined;

afterAll(async () => {
  // Its NATS nodes and services lead their own process groups: only its own shutdown stops them.
  if (cluster?.running()) await cluster.kill("SIGINT");
  rmSync(workDir, { recursive: true, force: true });
}, 30_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("pnpm cluster", () => {
  it("runs two of every service behind the fronts on NATS and Redis clusters, writes .heliograph/dev.json for the CLI, and Ctrl-C stops every process", async () => {
    const ports = {
      HG_INGEST_PORT: await freePort(),
      HG_STREAM_PORT: await freePort(),
      HG_ADMIN_PORT: await freePort(),
      HG_RECEIVER_PORT: await freePort(),
    };
    // `pnpm dev`'s dev.json, which the cluster's replaces while it runs.
    mkdirSync(stateDir);
    const pnpmDevJson = `${JSON.stringify({ admin_url: "http://127.0.0.1:8090", admin_token: "hga_of_pnpm_dev" })}\n`;
    writeFileSync(join(stateDir, "dev.json"), pnpmDevJson);
    const {
      NATS_URL: _nats,
      REDIS_URL: _redis,
      HELIOGRAPH_ADMIN_URL: _url,
      HELIOGRAPH_ADMIN_TOKEN: _token,
      ...env
    } = process.env;
    const running = startProcess("pnpm cluster", process.execPath, ["--import", "tsx", "deploy/dev/cluster.ts"], {
      cwd: REPO_ROOT,
      env: {
        ...env,
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
        HG_STATE_DIR: stateDir,
        LOG_LEVEL: "warn",
        LOG_PRETTY: "false",
      },
    });
    cluster = running;
    await waitFor(
      () => {
        if (!running.running()) throw new Error(`pnpm cluster exited:\n${running.output().slice(-4_000)}`);
        return running.output().includes("Heliograph is running.");
      },
      { timeoutMs: 60_000, intervalMs: 100, what: "pnpm cluster to say it is running" },
    );
    const config = JSON.parse(readFileSync(join(stateDir, "dev.json"), "utf8")) as ClusterDevConfig;
    expect(config.ingest_url).toBe(`http://127.0.0.1:${ports.HG_INGEST_PORT}`);
    expect(config.stream_url).toBe(`http://127.0.0.1:${ports.HG_STREAM_PORT}`);
    expect(config.admin_url).toBe(`http://127.0.0.1:${ports.HG_ADMIN_PORT}`);
    expect(config.webhook?.url).toBe(`http://127.0.0.1:${ports.HG_RECEIVER_PORT}/webhook`);
    expect(readFileSync(join(stateDir, "cluster", "pnpm-dev.json"), "utf8")).toBe(pnpmDevJson);
    expect(config.processes.map((p) => p.name.replace(/-\w+$/, "")).sort()).toEqual([
      ...Array(2).fill("ingest-gateway"),
      ...Array(3).fill("nats"),
      ...Array(6).fill("redis"),
      ...Array(2).fill("sequencer"),
      ...Array(2).fill("stream-gateway"),
      ...Array(2).fill("webhook-dispatcher"),
    ]);
    for (const p of config.processes.filter((p) => p.name.startsWith("webhook-dispatcher")))
      expect((await fetch(`http://127.0.0.1:${p.port}/readyz`)).status, p.name).toBe(200);

    // The admin front spreads over both admin listeners, and the CLI finds it in dev.json, with no
    // variables exported.
    const adminInstances = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${config.admin_url}/admin/v1/publishers/${config.publisher.id}`, {
        headers: { authorization: `Bearer ${config.admin_token}` },
      });
      expect(res.status, await res.clone().text()).toBe(200);
      adminInstances.add(res.headers.get(INSTANCE_HEADER) ?? "");
    }
    expect([...adminInstances].sort()).toEqual(["ingest-gateway-1", "ingest-gateway-2"]);
    // The CLI itself (in this process: a second tsx start would cost seconds), run from the folder
    // holding .heliograph as in the repository.
    let printed = "";
    const cliIo = { env, cwd: workDir, stdout: (t: string) => (printed += t), stderr: (t: string) => (printed += t) };
    expect(await runCli(["publisher", "show", config.publisher.id], cliIo), printed).toBe(0);
    expect(printed).toContain(config.publisher.api_key);

    // Publishes through the ingest front reach both ingest gateways.
    const ids: string[] = [];
    const ingestInstances = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${config.ingest_url}/api/v1/create_trading_signal`, {
        method: "POST",
        headers: {
          "API-KEY": config.publisher.api_key,
          "API-SECRET": config.publisher.api_secret,
          "content-type": "application/json",
        },
        body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: config.algorithm_id }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      ingestInstances.add(res.headers.get(INSTANCE_HEADER) ?? "");
      ids.push(((await res.json()) as { id: string }).id);
    }
    expect([...ingestInstances].sort()).toEqual(["ingest-gateway-1", "ingest-gateway-2"]);

    // Read back through the stream front: every publish once, numbered 0..3, served by both gateways.
    const streamInstances = new Set<string>();
    const read = async () => {
      const res = await fetch(`${config.stream_url}/api/v1/stream/${config.streams.algorithm}/-1/100`, {
        headers: { authorization: `Bearer ${config.subscriber.token}`, "x-long-poll": "2" },
      });
      if (res.status !== 200) throw new Error(`read answered ${res.status}: ${await res.text()}`);
      streamInstances.add(res.headers.get(INSTANCE_HEADER) ?? "");
      return (await res.json()) as StreamEvent[];
    };
    const events = await waitFor(
      async () => {
        const got = await read();
        return got.length === ids.length ? got : undefined;
      },
      { timeoutMs: 15_000, what: "the four publishes in their stream" },
    );
    expect(events.map((e) => e.event_number)).toEqual([0, 1, 2, 3]);
    expect(events.map((e) => e.data.id).sort()).toEqual([...ids].sort());
    // The demo webhook got them through a dispatcher, each delivery's signature checked by the receiver.
    await waitFor(() => (running.output().match(/webhook receiver: \S+ \S+, signature ok/g) ?? []).length >= 4, {
      timeoutMs: 15_000,
      what: "the demo receiver to print four deliveries",
    });
    await read();
    expect([...streamInstances].sort()).toEqual(["stream-gateway-1", "stream-gateway-2"]);

    // Ctrl-C (SIGINT to the parent, as a terminal sends it): everything stops.
    await running.kill("SIGINT");
    expect(await running.exited(), running.output().slice(-4_000)).toBe(0);
    expect(running.output()).toContain("stopped.");
    expect(readFileSync(join(stateDir, "dev.json"), "utf8"), "pnpm dev's dev.json, put back").toBe(pnpmDevJson);
    for (const p of config.processes) {
      expect(await tcpReady(p.port), `${p.name} port ${p.port}`).toBe(false);
      expect(p.pid !== undefined && alive(p.pid), `${p.name} pid ${p.pid}`).toBe(false);
    }
    for (const port of Object.values(ports)) expect(await tcpReady(port), `front ${port}`).toBe(false);
  }, 90_000);
});

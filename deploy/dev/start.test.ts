import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { freePort, type ManagedProcess, REPO_ROOT, startProcess, tcpReady, waitFor } from "@heliograph/testkit";
import { afterAll, describe, expect, it } from "vitest";
import type { DevConfig } from "./seed.js";

// `pnpm dev` itself, started the way the script does (node with tsx's loader), on free ports and
// with its state in a temp folder, so a developer's .heliograph is never touched.
const stateDir = mkdtempSync(join(tmpdir(), "hg-dev-"));
let dev: ManagedProcess | undefined;

afterAll(async () => {
  // Its servers and services lead their own process groups: only its own shutdown stops them.
  if (dev?.running()) {
    await dev.kill("SIGINT");
  }
  rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

/** Starts `pnpm dev` on fresh free ports with the state folder above and waits until it says it runs. */
async function startDev() {
  const ports = {
    HG_NATS_PORT: await freePort(),
    HG_REDIS_PORT: await freePort(),
    HG_INGEST_PORT: await freePort(),
    HG_ADMIN_PORT: await freePort(),
    HG_STREAM_PORT: await freePort(),
    HG_SEQUENCER_PORT: await freePort(),
    HG_WEBHOOK_PORT: await freePort(),
    HG_RECEIVER_PORT: await freePort(),
  };
  const { NATS_URL: _nats, REDIS_URL: _redis, ...env } = process.env;
  const running = startProcess("pnpm dev", process.execPath, ["--import", "tsx", "deploy/dev/start.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      HG_STATE_DIR: stateDir,
      LOG_LEVEL: "warn",
      LOG_PRETTY: "false",
    },
  });
  dev = running;
  await waitFor(
    () => {
      if (!running.running()) throw new Error(`pnpm dev exited:\n${running.output().slice(-4_000)}`);
      return running.output().includes("Heliograph is running.");
    },
    { timeoutMs: 45_000, intervalMs: 100, what: "pnpm dev to say it is running" },
  );
  const config = JSON.parse(readFileSync(join(stateDir, "dev.json"), "utf8")) as DevConfig;
  return { running, ports, config };
}

async function stopDev(running: ManagedProcess, ports: Record<string, number>) {
  await running.kill("SIGINT");
  expect(await running.exited(), running.output().slice(-4_000)).toBe(0);
  expect(running.output()).toContain("stopped.");
  for (const [name, port] of Object.entries(ports)) expect(await tcpReady(port), `${name} ${port}`).toBe(false);
}

const publishSignal = (config: DevConfig, apiKey: string, apiSecret: string) =>
  fetch(`${config.ingest_url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { "API-KEY": apiKey, "API-SECRET": apiSecret, "content-type": "application/json" },
    body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: config.algorithm_id }),
  });

let firstRun: DevConfig | undefined;

describe("pnpm dev", () => {
  it("starts and seeds the stack, serves a publish with the printed credentials, and stops cleanly on SIGINT", async () => {
    const { running, ports, config } = await startDev();
    expect(config.ingest_url).toBe(`http://127.0.0.1:${ports.HG_INGEST_PORT}`);
    expect(config.stream_url).toBe(`http://127.0.0.1:${ports.HG_STREAM_PORT}`);
    // The admin API on its own loopback listener, not on the public port.
    expect(config.admin_url).toBe(`http://127.0.0.1:${ports.HG_ADMIN_PORT}`);
    const adminOnPublic = await fetch(`${config.ingest_url}/admin/v1/publishers`, {
      headers: { authorization: `Bearer ${config.admin_token}` },
    });
    expect(adminOnPublic.status).toBe(404);
    const adminOnItsOwn = await fetch(`${config.admin_url}/admin/v1/publishers`, {
      headers: { authorization: `Bearer ${config.admin_token}` },
    });
    expect(adminOnItsOwn.status).toBe(200);
    // The credentials it prints are the ones it wrote.
    const printed = running.output();
    const apiKey = /'API-KEY: ([^']+)'/.exec(printed)?.[1];
    const apiSecret = /'API-SECRET: ([^']+)'/.exec(printed)?.[1];
    const token = /'Authorization: Bearer ([^']+)'/.exec(printed)?.[1];
    expect({ apiKey, apiSecret, token }).toEqual({
      apiKey: config.publisher.api_key,
      apiSecret: config.publisher.api_secret,
      token: config.subscriber.token,
    });

    const published = await publishSignal(config, apiKey as string, apiSecret as string);
    expect(published.status).toBe(202);
    const { id } = (await published.json()) as { id: string };
    const event = await waitFor(
      async () => {
        const res = await fetch(`${config.stream_url}/api/v1/stream/${config.streams.algorithm}/-1/100`, {
          headers: { authorization: `Bearer ${token}`, "x-long-poll": "5" },
        });
        if (res.status !== 200) throw new Error(`read answered ${res.status}`);
        return ((await res.json()) as StreamEvent[]).find((e) => e.data.id === id);
      },
      { timeoutMs: 15_000, what: "the published signal in its stream" },
    );
    expect(event).toMatchObject({ event_number: 0, event_type: "TradingSignalCreated" });
    // The README's SDK example, run as its text says: it publishes, waits for the number, then
    // follows from the start until its own event.
    const quickstart = startProcess(
      "sdk-quickstart",
      process.execPath,
      ["--import", "tsx", "deploy/dev/examples/sdk-quickstart.ts"],
      { cwd: REPO_ROOT, env: { ...process.env, HG_STATE_DIR: stateDir } },
    );
    expect(await quickstart.exited(), quickstart.output()).toBe(0);
    expect(quickstart.output()).toContain(`event 0 TradingSignalCreated ${id}`);
    expect(quickstart.output()).toMatch(/published \{[^}]*status: 'sequenced'[^}]*event_number: 1/);
    expect(quickstart.output()).toMatch(/event 1 TradingSignalCreated ing_/);
    // The dispatcher pushed it to the demo receiver, which verified its signature.
    expect(config.webhook?.url).toBe(`http://127.0.0.1:${ports.HG_RECEIVER_PORT}/webhook`);
    await waitFor(
      () =>
        running.output().includes(`webhook receiver: ${config.streams.algorithm}:0 TradingSignalCreated, signature ok`),
      { timeoutMs: 15_000, what: "the demo receiver's line for event 0" },
    );

    await stopDev(running, ports);
    firstRun = config;
  }, 60_000);

  it("a second run finds the first run's tenants in NATS KV, even with Redis's data gone", async () => {
    if (!firstRun) throw new Error("the first run did not finish");
    // The tenants live in the control-plane bucket in .heliograph/data/nats, not in Redis.
    rmSync(join(stateDir, "data/redis"), { recursive: true, force: true });
    const { running, ports, config } = await startDev();
    // Found, not created again: the same publisher key and secret (no rotation), the same token.
    expect(config.publisher).toEqual(firstRun.publisher);
    expect(config.subscriber).toEqual(firstRun.subscriber);
    // This run's receiver has another port (free ports per run): the demo endpoint follows it.
    expect(config.webhook).toMatchObject({
      id: firstRun.webhook?.id,
      url: `http://127.0.0.1:${ports.HG_RECEIVER_PORT}/webhook`,
    });
    expect((await publishSignal(config, config.publisher.api_key, config.publisher.api_secret)).status).toBe(202);
    const read = await fetch(`${config.stream_url}/api/v1/stream/${config.streams.resource}/`, {
      headers: { authorization: `Bearer ${config.subscriber.token}` },
    });
    expect(read.status).toBe(200);
    // An operator rotates the demo subscriber's token away: dev.json's token is refused.
    const rotated = await fetch(`${config.admin_url}/admin/v1/subscribers/${config.subscriber.id}/rotate-token`, {
      method: "POST",
      headers: { authorization: `Bearer ${config.admin_token}` },
    });
    expect(rotated.status).toBe(200);
    await stopDev(running, ports);

    // The next run gives the same subscriber a working token (not a second subscriber).
    const third = await startDev();
    expect(third.config.subscriber.id).toBe(firstRun.subscriber.id);
    expect(third.config.subscriber.token).not.toBe(firstRun.subscriber.token);
    const again = await fetch(`${third.config.stream_url}/api/v1/stream/${third.config.streams.resource}/`, {
      headers: { authorization: `Bearer ${third.config.subscriber.token}` },
    });
    expect(again.status).toBe(200);
    await stopDev(third.running, third.ports);
  }, 90_000);
});

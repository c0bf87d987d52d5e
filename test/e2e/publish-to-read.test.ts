import type { StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_DICT, DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type Stack, startStack, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCUMENT_PYTHON_CLIENT, documentCurl, run } from "./document-clients.js";

let stack: Stack;
let dev: DevConfig;

beforeAll(async () => {
  stack = await startStack();
  dev = await seedDemoTenant({
    ingestUrl: stack.ingest.url,
    streamUrl: stack.stream.url,
    adminToken: stack.adminToken,
    previous: {},
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

const streamUrl = (sid: string, after: number, batch: number) =>
  `${dev.stream_url}/api/v1/stream/${sid}/${after}/${batch}`;
const publisherHeaders = () => ({
  "API-KEY": dev.publisher.api_key,
  "API-SECRET": dev.publisher.api_secret,
  "content-type": "application/json",
});

async function postSignal(extra: Record<string, string> = {}) {
  const res = await fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { ...publisherHeaders(), ...extra },
    body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
  });
  return { status: res.status, body: (await res.json()) as { ingest_id: string; stream_id: string; id: string } };
}

async function head(sid: string): Promise<number> {
  const res = await fetch(`${dev.stream_url}/api/v1/stream/${sid}/`, {
    headers: { authorization: `Bearer ${dev.subscriber.token}` },
  });
  return Number(res.headers.get("x-heliograph-head"));
}

describe("publish with the resources document, read with the trade-ideas document", () => {
  it("the document's Python code publishes; its curl command reads both events back", async () => {
    const python = await run("python3", ["-"], {
      input: DOCUMENT_PYTHON_CLIENT,
      env: {
        BASE_URL: `${dev.ingest_url}/api/v1`,
        API_KEY: dev.publisher.api_key,
        API_SECRET: dev.publisher.api_secret,
      },
    });
    expect(python.code, python.stderr).toBe(0);
    const answers = python.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    expect(answers[0].body).toMatchObject({ status: "accepted", stream_id: "resource-1", id: "1" });
    expect(answers[1].body).toMatchObject({ status: "accepted", stream_id: "algorithm-1" });

    const resourceEvents = (await documentCurl(
      streamUrl("resource-1", -1, 10),
      dev.subscriber.token,
      10,
    )) as StreamEvent[];
    expect(resourceEvents).toHaveLength(1);
    expect(resourceEvents[0]).toMatchObject({
      event_number: 0,
      event_type: "ResourcePublished",
      data: { id: "1", resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT },
    });
    expect(Date.parse(resourceEvents[0]?.data.published_at ?? "")).not.toBeNaN();

    const signalEvents = (await documentCurl(
      streamUrl("algorithm-1", -1, 10),
      dev.subscriber.token,
      10,
    )) as StreamEvent[];
    expect(signalEvents).toHaveLength(1);
    expect(signalEvents[0]).toMatchObject({
      event_number: 0,
      event_type: "TradingSignalCreated",
      data: { ...DOCUMENT_TRADING_SIGNAL_BODY, id: answers[1].body.id },
    });

    // "the most recent ten events"
    const recent = (await documentCurl(
      `${dev.stream_url}/api/v1/stream/algorithm-1/`,
      dev.subscriber.token,
    )) as StreamEvent[];
    expect(recent.map((e) => e.event_number)).toEqual([0]);
  });

  it("answers at once when events exist, and with [] after about X-Long-Poll seconds when none come", async () => {
    const h = await head("algorithm-1");
    const t0 = performance.now();
    const existing = await fetch(streamUrl("algorithm-1", h - 1, 5), {
      headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "10" },
    });
    const immediateMs = performance.now() - t0;
    expect(((await existing.json()) as StreamEvent[]).map((e) => e.event_number)).toEqual([h]);
    expect(immediateMs).toBeLessThan(1_000);

    const t1 = performance.now();
    const empty = await fetch(streamUrl("algorithm-1", h, 5), {
      headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "1" },
    });
    const heldMs = performance.now() - t1;
    expect(await empty.json()).toEqual([]);
    expect(heldMs).toBeGreaterThanOrEqual(950);
    expect(heldMs).toBeLessThan(1_500);
  });

  it("a waiting long poll has the event within 100 ms of the publish's 202", async () => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const h = await head("algorithm-1");
      const poll = fetch(streamUrl("algorithm-1", h, 10), {
        headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "10" },
      }).then(async (res) => ({ at: performance.now(), events: (await res.json()) as StreamEvent[] }));
      // The poll must be waiting before the publish: wait until the gateway holds it.
      await waitForWaiter(dev.stream_url);
      const published = await postSignal();
      const acceptedAt = performance.now();
      expect(published.status).toBe(202);
      const answer = await poll;
      expect(answer.events.map((e) => e.data.id)).toEqual([published.body.id]);
      expect(answer.events[0]?.event_number).toBe(h + 1);
      samples.push(answer.at - acceptedAt);
    }
    samples.sort((a, b) => a - b);
    expect(samples[Math.floor(samples.length / 2)]).toBeLessThan(100);
  });

  it("a retried publish with the same Idempotency-Key makes one event and the same answer", async () => {
    const before = await head("algorithm-1");
    const key = `e2e-${Date.now()}`;
    const first = await postSignal({ "Idempotency-Key": key });
    const second = await postSignal({ "Idempotency-Key": key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    const events = (await documentCurl(
      streamUrl("algorithm-1", before, 100),
      dev.subscriber.token,
      5,
    )) as StreamEvent[];
    expect(events.map((e) => e.data.id)).toEqual([first.body.id]);
  });

  it("refused publishes never reach the stream", async () => {
    const before = await head("resource-1");
    const bad = [
      { body: { resource_id: 1, resource_dict: { ...DOCUMENT_RESOURCE_DICT, Symbol: 7 } }, status: 422 },
      { body: { resource_id: 999, resource_dict: DOCUMENT_RESOURCE_DICT }, status: 404 },
      { body: "{not json", status: 400 },
    ];
    for (const { body, status } of bad) {
      const res = await fetch(`${dev.ingest_url}/api/v1/upload_resource`, {
        method: "POST",
        headers: publisherHeaders(),
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      expect(res.status).toBe(status);
      const error = (await res.json()) as { error: { code: string; message: string; details: unknown[] } };
      expect(error.error.code).toMatch(/^[A-Z_]+$/);
    }
    const wrongSecret = await fetch(`${dev.ingest_url}/api/v1/upload_resource`, {
      method: "POST",
      headers: { ...publisherHeaders(), "API-SECRET": "nope" },
      body: JSON.stringify({ resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT }),
    });
    expect(wrongSecret.status).toBe(401);
    // A good publish after the bad ones gets the very next number: nothing was numbered in between.
    const good = await fetch(`${dev.ingest_url}/api/v1/upload_resource`, {
      method: "POST",
      headers: publisherHeaders(),
      body: JSON.stringify({ resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT }),
    });
    expect(good.status).toBe(202);
    const events = (await documentCurl(streamUrl("resource-1", before, 100), dev.subscriber.token, 5)) as StreamEvent[];
    expect(events.map((e) => e.event_number)).toEqual([before + 1]);
  });
});

/** Waits until the stream gateway reports a held long poll (its waiter gauge on /metrics). */
async function waitForWaiter(baseUrl: string): Promise<void> {
  await waitFor(
    async () => {
      const text = await (await fetch(`${baseUrl}/metrics`)).text();
      const match = /^heliograph_stream_waiters(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
      return match && Number(match[1]) > 0;
    },
    { timeoutMs: 5_000, intervalMs: 5, what: "a held long poll" },
  );
}

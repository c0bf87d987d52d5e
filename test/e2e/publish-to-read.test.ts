import { EVENTS_STREAM, type StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_DICT, DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type NatsServerHandle, type Stack, startStack, waitForHeldLongPoll } from "@heliograph/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWholeStream } from "../ledger/read-stream.js";
import { DOCUMENT_PYTHON_CLIENT, documentCurl, run } from "./document-clients.js";

let stack: Stack;
let dev: DevConfig;
/** How late past its bound a held poll may answer on a loaded machine and still count as on time. */
const LATE_MS = 4_000;

beforeAll(async () => {
  stack = await startStack();
  dev = await seedDemoTenant(stack);
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
    // Not held: far from its 10 s bound (how fast is the benchmark's business, not this test's).
    expect(immediateMs).toBeLessThan(5_000);

    const t1 = performance.now();
    const empty = await fetch(streamUrl("algorithm-1", h, 5), {
      headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "1" },
    });
    const heldMs = performance.now() - t1;
    expect(await empty.json()).toEqual([]);
    expect(heldMs).toBeGreaterThanOrEqual(950);
    expect(heldMs).toBeLessThan(1_000 + LATE_MS);
  });

  // How soon (B2 in bench/ measures the 202-to-long-poll latency); here only that the publish wakes it.
  it("a waiting long poll is woken by the publish and answers with its event", async () => {
    for (let i = 0; i < 3; i++) {
      const h = await head("algorithm-1");
      const t0 = performance.now();
      const poll = fetch(streamUrl("algorithm-1", h, 10), {
        headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "30" },
      }).then(async (res) => ({ at: performance.now(), events: (await res.json()) as StreamEvent[] }));
      // The poll must be waiting before the publish: wait until the gateway holds it.
      await waitForHeldLongPoll(dev.stream_url);
      const published = await postSignal();
      expect(published.status).toBe(202);
      const answer = await poll;
      expect(answer.events.map((e) => e.data.id)).toEqual([published.body.id]);
      expect(answer.events[0]?.event_number).toBe(h + 1);
      // Woken by the event, not by its 30 s bound.
      expect(answer.at - t0).toBeLessThan(15_000);
    }
  });

  it("a retried publish with the same Idempotency-Key makes one event and the same answer", async () => {
    const before = await head("algorithm-1");
    const key = `e2e-${Date.now()}`;
    const first = await postSignal({ "Idempotency-Key": key });
    const second = await postSignal({ "Idempotency-Key": key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    // A publish to the same stream after both is numbered after anything either of them stored
    // (one stream, one INGEST partition, numbered in order): once it has a number, a duplicate
    // would already be in the stream.
    const last = await postSignal({ "X-Heliograph-Wait": "20" });
    expect(last.status).toBe(201);
    const { events } = await readWholeStream(dev.stream_url, dev.subscriber.token, "algorithm-1");
    const lastNumber = (last.body as { event_number?: number }).event_number as number;
    const since = events.filter((e) => e.event_number > before && e.event_number <= lastNumber);
    expect(since.map((e) => e.data?.id)).toEqual([first.body.id, last.body.id]);
    expect(events.filter((e) => e.data?.id === first.body.id)).toHaveLength(1);
  });

  it("refused publishes never reach the stream", async () => {
    const before = await head("resource-1");
    // Each refused publish carries its own Symbol, so any event that slipped through names itself.
    const dict = (symbol: unknown) => ({ ...DOCUMENT_RESOURCE_DICT, Symbol: symbol });
    const bad: { name: string; body: unknown; status: number; code: string; headers?: Record<string, string> }[] = [
      {
        name: "a mistyped value",
        body: { resource_id: 1, resource_dict: dict(7) },
        status: 422,
        code: "RESOURCE_VALUE_INVALID",
      },
      {
        name: "an undeclared key",
        body: { resource_id: 1, resource_dict: { ...dict("REFUSED-UNDECLARED"), Extra: 1 } },
        status: 422,
        code: "RESOURCE_VALUE_INVALID",
      },
      {
        name: "an unknown resource",
        body: { resource_id: 999, resource_dict: dict("REFUSED-UNKNOWN") },
        status: 404,
        code: "RESOURCE_NOT_FOUND",
      },
      {
        name: "malformed JSON",
        body: '{"resource_id":1,"resource_dict":{"Symbol":"REFUSED-JSON"',
        status: 400,
        code: "MALFORMED_JSON",
      },
      {
        name: "a wrong secret",
        body: { resource_id: 1, resource_dict: dict("REFUSED-SECRET") },
        status: 401,
        code: "AUTH_INVALID",
        headers: { "API-SECRET": "nope" },
      },
    ];
    for (const { name, body, status, code, headers } of bad) {
      const res = await fetch(`${dev.ingest_url}/api/v1/upload_resource`, {
        method: "POST",
        headers: { ...publisherHeaders(), ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      expect(res.status, name).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code, name).toBe(code);
    }
    // Sent last and waited for: once it is numbered, anything stored before it has been numbered too.
    const good = await fetch(`${dev.ingest_url}/api/v1/upload_resource`, {
      method: "POST",
      headers: { ...publisherHeaders(), "X-Heliograph-Wait": "20" },
      body: JSON.stringify({ resource_id: 1, resource_dict: dict("GOOD") }),
    });
    expect(good.status).toBe(201);
    const goodNumber = ((await good.json()) as { event_number: number }).event_number;
    expect(goodNumber).toBe(before + 1);

    // What HTTP serves: exactly the good event after `before`, with the good content.
    const served = (await readWholeStream(dev.stream_url, dev.subscriber.token, "resource-1")).events;
    const after = served.filter((e) => e.event_number > before);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      event_number: goodNumber,
      event_type: "ResourcePublished",
      data: { id: "1", resource_id: 1, resource_dict: dict("GOOD") },
    });
    // What EVENTS holds, on every subject: no refused publish anywhere (resource-999 included).
    const held = await eventsHeld(stack.nats);
    const texts = held.map((m) => m.text).join("\n");
    for (const marker of ["REFUSED-UNDECLARED", "REFUSED-UNKNOWN", "REFUSED-JSON", "REFUSED-SECRET"]) {
      expect(texts).not.toContain(marker);
    }
    expect(held.filter((m) => m.subject === "events.resource-999")).toEqual([]);
    expect(
      held.filter(
        (m) =>
          m.subject === "events.resource-1" &&
          (JSON.parse(m.text) as { data: { resource_dict?: { Symbol?: unknown } } }).data.resource_dict?.Symbol === 7,
      ),
    ).toEqual([]);
    expect(held.filter((m) => m.text.includes('"Symbol":"GOOD"'))).toHaveLength(1);
  });
});

/** Every message EVENTS holds (all subjects), in stream order, read with an ordered consumer. */
async function eventsHeld(nats: NatsServerHandle): Promise<{ subject: string; text: string }[]> {
  // As a downstream reader would, when the harness knows that role.
  const nc = await connect(nats.connectOptions(nats.roles ? "downstream" : "admin"));
  try {
    const last = (await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.last_seq;
    const held: { subject: string; text: string }[] = [];
    if (last === 0) return held;
    const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM);
    const messages = await consumer.consume();
    for await (const m of messages) {
      held.push({ subject: m.subject, text: m.string() });
      if (m.seq >= last) break;
    }
    return held;
  } finally {
    await nc.close();
  }
}

import { execFileSync } from "node:child_process";
import { IDEMPOTENCY_KEY_HEADER } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type Stack, startStack, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWholeStream } from "../ledger/read-stream.js";

/**
 * Promise 3 across a Redis loss (docs/architecture.md, "Repair from the record"): the idempotency
 * record is gone with Redis, and JetStream's duplicate window (1 s here) has passed, so the retry
 * reaches INGEST again; the applied records the sequencer rebuilds from EVENTS must still find its
 * ingest id and give it no second event.
 */
const DUPLICATE_WINDOW_MS = 1_000;
let stack: Stack;
let dev: DevConfig;

beforeAll(async () => {
  stack = await startStack({ env: { JETSTREAM_DUPLICATE_WINDOW_MS: String(DUPLICATE_WINDOW_MS) } });
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

/** The document's trading signal with its own ticker, to tell the events apart. */
async function postSignal(ticker: string, key?: string) {
  const res = await fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: {
      "API-KEY": dev.publisher.api_key,
      "API-SECRET": dev.publisher.api_secret,
      "content-type": "application/json",
      ...(key ? { [IDEMPOTENCY_KEY_HEADER]: key } : {}),
    },
    body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, ticker_symbol: ticker }),
  });
  return { status: res.status, body: (await res.json()) as { ingest_id: string; stream_id: string } };
}

const read = async (sid: string) => (await readWholeStream(dev.stream_url, dev.subscriber.token, sid)).events;

describe("an Idempotency-Key retried after Redis lost everything", () => {
  it("makes no second event: the ingest id is among the applied records rebuilt from EVENTS", async () => {
    const first = await postSignal("KEEP", "key-across-redis-loss");
    expect(first.status).toBe(202);
    const sid = first.body.stream_id;
    await waitFor(async () => (await read(sid)).some((e) => e.data.ticker_symbol === "KEEP"), {
      what: "the first publish numbered",
    });
    const before = await read(sid);

    // Preconditions, not assertions: INGEST forgets the message id once its window has passed…
    await new Promise((resolve) => setTimeout(resolve, DUPLICATE_WINDOW_MS + 500));
    // …and Redis loses everything, the idempotency record included.
    const redisCli = (...args: string[]) =>
      execFileSync("redis-cli", ["-u", stack.redis.url, ...args])
        .toString()
        .trim();
    expect(redisCli("FLUSHALL")).toBe("OK");
    expect(redisCli("DBSIZE")).toBe("0");

    const retry = await waitFor(
      async () => {
        const answer = await postSignal("KEEP", "key-across-redis-loss");
        return answer.status < 500 ? answer : undefined;
      },
      { what: "the retry answered" },
    );
    expect(retry.status).toBe(202);
    expect(retry.body.ingest_id).toBe(first.body.ingest_id);
    // A later publish numbered means the retry, ahead of it in INGEST, was seen by the sequencer.
    const marker = await postSignal("MARK");
    expect(marker.status).toBe(202);
    await waitFor(async () => (await read(sid)).some((e) => e.data.ticker_symbol === "MARK"), {
      what: "the later publish numbered",
    });

    const after = await read(sid);
    expect(after.map((e) => e.event_number)).toEqual([...Array(before.length + 1).keys()]);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.filter((e) => e.data.ticker_symbol === "KEEP")).toHaveLength(1);
  });
});

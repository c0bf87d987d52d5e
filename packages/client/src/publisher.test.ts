import type { StreamEvent, TradingSignalRequest } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY, DOCUMENT_UPLOAD_RESOURCE_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { freePort, type ServiceHandle, type Stack, startService, startStack, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeliographApiError, HeliographNetworkError } from "./errors.js";
import { createPublisher, type PublisherOptions } from "./publisher.js";

// The publisher SDK against a real stack. Requests are counted by a spy around the real fetch: the
// gateway answering is the real one.

let stack: Stack;
let dev: DevConfig;
const signal = DOCUMENT_TRADING_SIGNAL_BODY as TradingSignalRequest;

beforeAll(async () => {
  // A short lease, so a sequencer started again takes its partitions back at once.
  stack = await startStack({ env: { LEASE_TTL_MS: "1000" } });
  dev = await seedDemoTenant(stack);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

interface Attempt {
  sentAt: number;
  answeredAt?: number;
  status?: number;
  retryAfter?: string | null;
  failed?: unknown;
}

/** The real fetch, with every request it sends and how each ended. */
function countingFetch() {
  const attempts: Attempt[] = [];
  const spy: typeof fetch = async (input, init) => {
    const attempt: Attempt = { sentAt: performance.now() };
    attempts.push(attempt);
    try {
      const res = await fetch(input, init);
      Object.assign(attempt, {
        answeredAt: performance.now(),
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
      });
      return res;
    } catch (err) {
      Object.assign(attempt, { answeredAt: performance.now(), failed: err });
      throw err;
    }
  };
  return { attempts, fetch: spy };
}

function publisherWith(options: Partial<PublisherOptions> = {}) {
  return createPublisher({
    baseUrl: stack.ingest.url,
    apiKey: dev.publisher.api_key,
    apiSecret: dev.publisher.api_secret,
    ...options,
  });
}

/** Every event of a stream, read back over HTTP. */
async function readAll(streamId: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for (;;) {
    const res = await fetch(`${stack.stream.url}/api/v1/stream/${streamId}/${events.length - 1}/1000`, {
      headers: { authorization: `Bearer ${dev.subscriber.token}`, "x-long-poll": "0" },
    });
    expect(res.status).toBe(200);
    const page = (await res.json()) as StreamEvent[];
    if (page.length === 0) return events;
    events.push(...page);
  }
}

/** Waits until the publish with correlation id `id` is numbered, and returns how many events carry it. */
async function eventsWithId(streamId: string, id: string): Promise<number> {
  const all = await waitFor(
    async () => {
      const events = await readAll(streamId);
      return events.some((e) => e.data.id === id) ? events : undefined;
    },
    { timeoutMs: 15_000, what: `the event of ${id}` },
  );
  return all.filter((e) => e.data.id === id).length;
}

describe("createPublisher against the real stack", () => {
  it("waitForNumber answers with the event number; one idempotency key used twice makes one event", async () => {
    const publisher = publisherWith();
    const first = await publisher.createTradingSignal(signal, { waitForNumber: 10 });
    expect(first).toMatchObject({ status: "sequenced", stream_id: dev.streams.algorithm });
    const key = `sdk-test-${first.ingest_id}`;
    const again = await publisher.createTradingSignal(signal, { idempotencyKey: key, waitForNumber: true });
    const replayed = await publisher.createTradingSignal(signal, { idempotencyKey: key, waitForNumber: 10 });
    expect(again.status === "sequenced" && first.status === "sequenced").toBe(true);
    if (again.status !== "sequenced" || first.status !== "sequenced") return;
    expect(again.event_number).toBe(first.event_number + 1);
    expect(replayed).toEqual(again);
    expect(await eventsWithId(dev.streams.algorithm, again.id)).toBe(1);

    const accepted = await publisher.uploadResource(DOCUMENT_UPLOAD_RESOURCE_BODY);
    expect(accepted).toMatchObject({ status: "accepted", stream_id: dev.streams.resource });
  }, 30_000);

  it("a 422 is thrown at once as HeliographApiError with the error body's code, and never retried", async () => {
    const spy = countingFetch();
    const publisher = publisherWith({ fetch: spy.fetch });
    const refused = await publisher
      .uploadResource({ resource_id: 1, resource_dict: { ...DOCUMENT_UPLOAD_RESOURCE_BODY.resource_dict, Symbol: 5 } })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HeliographApiError);
    const error = refused as HeliographApiError;
    expect(error).toMatchObject({ status: 422, code: "RESOURCE_VALUE_INVALID", attempts: 1 });
    expect(error.details.map((d) => d.path)).toContain("resource_dict.Symbol");
    expect(spy.attempts.length).toBe(1);
  }, 30_000);

  it("a publish retried while the ingest gateway is down and after it comes back makes exactly one event", async () => {
    const spy = countingFetch();
    const publisher = publisherWith({
      fetch: spy.fetch,
      retry: { initialDelayMs: 50, maxDelayMs: 200, attempts: 100 },
    });
    await stack.killHard("ingest-gateway");
    const answer = publisher.createTradingSignal(signal);
    await waitFor(() => spy.attempts.filter((a) => a.failed).length >= 3, { what: "three refused attempts" });
    await stack.restart("ingest-gateway");
    const accepted = await answer;
    expect(spy.attempts.filter((a) => a.failed).length).toBeGreaterThanOrEqual(3);
    expect(spy.attempts.at(-1)?.status).toBe(202);
    expect(await eventsWithId(dev.streams.algorithm, accepted.id)).toBe(1);
  }, 60_000);

  it("a publish whose gateway is killed -9 after storing it, while it waits for the number, is retried with its key into exactly one event", async () => {
    const spy = countingFetch();
    const publisher = publisherWith({
      fetch: spy.fetch,
      retry: { initialDelayMs: 50, maxDelayMs: 500, attempts: 200 },
    });
    // No sequencer: the gateway stores the publish in INGEST and holds the answer, waiting for a number.
    await stack.killHard("sequencer");
    const storedBefore = await storedPublishes();
    const answer = publisher.createTradingSignal(signal, { waitForNumber: 30 });
    await waitFor(async () => (await storedPublishes()) > storedBefore, { what: "the publish stored in INGEST" });
    await stack.killHard("ingest-gateway");
    await stack.restart("ingest-gateway");
    await stack.restart("sequencer");
    const sequenced = await answer;

    expect(spy.attempts[0]?.failed).toBeDefined();
    expect(sequenced.status).toBe("sequenced");
    expect(await eventsWithId(dev.streams.algorithm, sequenced.id)).toBe(1);
  }, 60_000);

  it("503 with Retry-After (INGEST unreachable: nats-server stopped) is honoured: no retry before it, then one event", async () => {
    const spy = countingFetch();
    const publisher = publisherWith({ fetch: spy.fetch, retry: { initialDelayMs: 10, maxDelayMs: 20, attempts: 100 } });
    await stack.nats.stop();
    const answer = publisher.createTradingSignal(signal);
    await waitFor(() => spy.attempts.filter((a) => a.status === 503).length >= 2, {
      timeoutMs: 15_000,
      what: "two 503 answers",
    });
    await stack.nats.restart();
    const accepted = await answer;

    const refused = spy.attempts.filter((a) => a.status === 503);
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    // Each retry after a 503 waited at least its Retry-After, though the backoff alone is 20 ms.
    // Less 1 ms: Node's timers count whole milliseconds of the loop's clock, so a 1,000 ms sleep
    // can measure 999.9 ms on performance.now() (seen in CI).
    for (const [i, a] of spy.attempts.entries()) {
      const next = spy.attempts[i + 1];
      if (a.status === 503 && next && a.answeredAt !== undefined)
        expect(next.sentAt - a.answeredAt).toBeGreaterThanOrEqual(Number(a.retryAfter) * 1000 - 1);
    }
    expect(await eventsWithId(dev.streams.algorithm, accepted.id)).toBe(1);
  }, 60_000);
});

describe("createPublisher against an ingest gateway that allows one publish per second", () => {
  // A second gateway on the same stack, rate-limited: the 429 and its Retry-After are the real ones.
  let limited: ServiceHandle;
  beforeAll(async () => {
    limited = await startService("ingest-gateway", {
      ...stack.env,
      ...stack.nats.serviceEnv("ingest-gateway"),
      PUBLISHER_RATE_LIMIT: "1",
      PUBLISHER_RATE_BURST: "1",
    });
  }, 30_000);
  afterAll(async () => {
    await limited?.stop();
  });

  it("429 with Retry-After is honoured: the retry waits at least that long (the backoff alone is 20 ms), then one event", async () => {
    const spy = countingFetch();
    const publisher = publisherWith({
      baseUrl: limited.url,
      fetch: spy.fetch,
      retry: { initialDelayMs: 10, maxDelayMs: 20 },
    });
    // The first takes the one token; the second, sent at once, is over the limit.
    await publisher.createTradingSignal(signal);
    const accepted = await publisher.createTradingSignal(signal);

    expect(spy.attempts.map((a) => a.status)).toEqual([202, 429, 202]);
    const [, limitedAttempt, retried] = spy.attempts;
    expect(Number(limitedAttempt?.retryAfter)).toBeGreaterThanOrEqual(1);
    // Less 1 ms: Node's timers count whole milliseconds of the loop's clock (see the 503 test).
    expect((retried?.sentAt ?? 0) - (limitedAttempt?.answeredAt ?? 0)).toBeGreaterThanOrEqual(
      Number(limitedAttempt?.retryAfter) * 1000 - 1,
    );
    expect(await eventsWithId(dev.streams.algorithm, accepted.id)).toBe(1);
  }, 30_000);
});

describe("createPublisher with nothing listening", () => {
  /** A publisher of a port nothing listens on: every attempt is refused. */
  async function refusedPublisher(options: Partial<PublisherOptions> = {}) {
    const spy = countingFetch();
    const publisher = createPublisher({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      apiKey: "unused",
      apiSecret: "unused",
      fetch: spy.fetch,
      ...options,
    });
    return { spy, publisher };
  }

  it("throws HeliographNetworkError once the attempts of its budget are spent, with the last failure as cause", async () => {
    const { spy, publisher } = await refusedPublisher({ retry: { attempts: 3, initialDelayMs: 10 } });
    const failed = await publisher.createTradingSignal(signal).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(HeliographNetworkError);
    expect(failed).toMatchObject({ attempts: 3 });
    expect((failed as Error).cause).toBeDefined();
    expect(spy.attempts.length).toBe(3);
  });

  it("an AbortSignal ends a call between its retries: it rejects at once with the signal's reason", async () => {
    const { spy, publisher } = await refusedPublisher({
      retry: { attempts: 1_000, initialDelayMs: 50, maxDelayMs: 50 },
    });
    const controller = new AbortController();
    const call = publisher.createTradingSignal(signal, { signal: controller.signal }).catch((err: unknown) => err);
    await waitFor(() => spy.attempts.length >= 2, { what: "two refused attempts" });
    const reason = new Error("the caller gave up");
    controller.abort(reason);
    expect(await call).toBe(reason);
  });
});

/** The ingest gateway's count of publishes JetStream stored (its /metrics). */
async function storedPublishes(): Promise<number> {
  const text = await (await fetch(`${stack.ingest.url}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^heliograph_ingest_publishes_total\{[^}]*outcome="stored"[^}]*\}\s+(\d+)/gm))
    total += Number(match[1]);
  return total;
}

import { randomBytes } from "node:crypto";
import { waitFor } from "@heliograph/testkit";
import type { Attempt, PublishRecord } from "./ledger.js";

export interface SignalLoadOptions {
  /** The ingest gateway's base URL (it keeps its port across restarts). */
  ingestUrl: string;
  publisher: { api_key: string; api_secret: string };
  algorithmId: number;
  /** Publishes started per second, one after the other (never two at once). */
  ratePerSecond: number;
  /** Short, so a hung request is retried rather than waited on. Default 1 000 ms. */
  requestTimeoutMs?: number;
  /** A publish not answered 2xx this long after it started is given up. Default 30 000 ms. */
  deadlineMs?: number;
  /** Short prefix of the markers and keys (the marker is the ticker_symbol, at most 32 characters). */
  tag: string;
  /** Publishes this many, then ends by itself ({@link SignalLoad.done}); default: until stopped. */
  limit?: number;
  /**
   * `performance.now()` at which the load's clock reads 0 (default: its start). Loads that share
   * one origin can be checked as one client: the ledger orders publishes by their times.
   */
  clockOrigin?: number;
}

/** A running load: one sequential client publishing trading signals into one stream. */
export interface SignalLoad {
  readonly streamId: string;
  readonly records: PublishRecord[];
  /** Now on the clock the records are timed with (ms): to mark when a fault began and ended. */
  clock(): number;
  /** Publishes answered 2xx so far. */
  accepted(): number;
  /** Waits until `n` more publishes than now were answered 2xx. */
  waitForMoreAccepted(n: number, timeoutMs?: number): Promise<void>;
  /** Stops starting publishes; the one in flight goes on until 2xx or its deadline. */
  stop(): Promise<PublishRecord[]>;
  /** Resolves once a load with a `limit` has made its last publish (answered 2xx or given up). */
  done(): Promise<PublishRecord[]>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const is2xx = (status: number) => status >= 200 && status < 300;

/**
 * Publishes trading signals at a steady rate, each with its own Idempotency-Key and a unique
 * ticker_symbol (the marker the ledger finds in the event), retrying the same key on network
 * errors, timeouts and any non-2xx except a plain 4xx refusal, until a 2xx or the deadline.
 * Everything is recorded for {@link checkLedger}.
 */
export function startSignalLoad(options: SignalLoadOptions): SignalLoad {
  const requestTimeoutMs = options.requestTimeoutMs ?? 1_000;
  const deadlineMs = options.deadlineMs ?? 30_000;
  const intervalMs = 1_000 / options.ratePerSecond;
  const streamId = `algorithm-${options.algorithmId}`;
  const run = randomBytes(3).toString("hex");
  const records: PublishRecord[] = [];
  let acceptedCount = 0;
  let stopping = false;
  const t0 = options.clockOrigin ?? performance.now();
  const now = () => performance.now() - t0;

  async function attempt(record: PublishRecord, body: string): Promise<Attempt> {
    const startedAt = now();
    try {
      const res = await fetch(`${options.ingestUrl}/api/v1/create_trading_signal`, {
        method: "POST",
        headers: {
          "API-KEY": options.publisher.api_key,
          "API-SECRET": options.publisher.api_secret,
          "content-type": "application/json",
          "Idempotency-Key": record.key,
        },
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // kept as text: the ledger reports an error body that is not JSON
      }
      return { startedAt, endedAt: now(), status: res.status, body: parsed };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const error = e.name === "TimeoutError" || e.name === "AbortError" ? "timeout" : (e.cause?.code ?? e.message);
      return { startedAt, endedAt: now(), error };
    }
  }

  async function publishOne(seq: number): Promise<void> {
    const marker = `${options.tag}${seq}`;
    const record: PublishRecord = {
      key: `${options.tag}-${run}-${seq}`,
      streamId,
      marker,
      clientSeq: seq,
      attempts: [],
    };
    records.push(record);
    const body = JSON.stringify({
      algorithm_id: options.algorithmId,
      ticker_symbol: marker,
      order_type: "market",
      portfolio_ratio_investment: 0.01,
      side: seq % 2 === 0 ? "buy" : "sell",
      time_in_force: "gtc",
    });
    const deadline = now() + deadlineMs;
    for (;;) {
      const a = await attempt(record, body);
      record.attempts.push(a);
      if (a.status !== undefined && is2xx(a.status)) {
        record.acceptedAt = a.endedAt;
        acceptedCount++;
        return;
      }
      // A refusal (400, 401, 422…) will not change on retry; the ledger reports it. 429 and 409
      // (IDEMPOTENCY_KEY_IN_PROGRESS: an earlier attempt is still under way) come with Retry-After.
      if (a.status !== undefined && a.status >= 400 && a.status < 500 && a.status !== 429 && a.status !== 409) return;
      if (now() >= deadline) return;
      await sleep(50 + Math.random() * 100);
    }
  }

  const started = performance.now();
  const loop = (async () => {
    for (let seq = 0; !stopping && seq < (options.limit ?? Number.POSITIVE_INFINITY); seq++) {
      const due = seq * intervalMs - (performance.now() - started);
      if (due > 0) await sleep(due);
      if (stopping) break;
      await publishOne(seq);
    }
  })();

  return {
    streamId,
    records,
    clock: now,
    accepted: () => acceptedCount,
    async waitForMoreAccepted(n, timeoutMs = 20_000) {
      const target = acceptedCount + n;
      await waitFor(() => acceptedCount >= target, {
        timeoutMs,
        intervalMs: 20,
        what: `${target} accepted publishes to ${streamId} (have ${acceptedCount})`,
      });
    },
    async stop() {
      stopping = true;
      await loop;
      return records;
    },
    async done() {
      await loop;
      return records;
    },
  };
}

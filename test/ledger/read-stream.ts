import { type StreamRead, splitJsonArray } from "./feeds.js";
import type { LedgerEvent } from "./ledger.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads a whole stream over HTTP, 1 000 events at a time, from the start until `[]` (with
 * X-Long-Poll: 0), keeping each event's JSON text as served. Throws when a batch does not continue
 * exactly where the last one ended (promise 7: never n+1 without n), naming the numbers.
 */
export async function readWholeStream(streamUrl: string, token: string, streamId: string): Promise<StreamRead> {
  const events: LedgerEvent[] = [];
  const texts: string[] = [];
  let after = -1;
  for (;;) {
    const res = await fetch(`${streamUrl}/api/v1/stream/${streamId}/${after}/1000`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "0" },
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`reading ${streamId} after ${after}: ${res.status} ${body}`);
    const batch = JSON.parse(body) as LedgerEvent[];
    const batchTexts = splitJsonArray(body);
    if (batchTexts.length !== batch.length)
      throw new Error(`reading ${streamId} after ${after}: split ${batchTexts.length} texts of ${batch.length} events`);
    if (batch.length === 0) return { events, texts };
    batch.forEach((e, i) => {
      if (e.event_number !== after + 1 + i) {
        throw new Error(
          `reading ${streamId} after ${after}: position ${i} is event ${e.event_number}, expected ${after + 1 + i}`,
        );
      }
    });
    events.push(...batch);
    texts.push(...batchTexts);
    after = (batch[batch.length - 1] as LedgerEvent).event_number;
  }
}

export interface Follower {
  readonly events: LedgerEvent[];
  /** Batches that did not start right after the last event received (promise 7). */
  readonly breaks: string[];
  /** Failed polls (connection refused, 5xx…), each retried from the last number. */
  readonly failures: string[];
  /** Resolves once the follower has received event `n`. */
  waitForEvent(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A subscriber following a stream with long polls, as the trade-ideas document says: repeat the
 * request with the last event_number processed. On any failure it waits a moment and polls again
 * from its last number.
 */
export function followStream(options: {
  streamUrl: string;
  token: string;
  streamId: string;
  longPollSeconds?: number;
  batchSize?: number;
}): Follower {
  const longPoll = options.longPollSeconds ?? 2;
  const events: LedgerEvent[] = [];
  const breaks: string[] = [];
  const failures: string[] = [];
  const stopper = new AbortController();
  let last = -1;
  const waiters: { n: number; resolve: () => void }[] = [];

  const loop = (async () => {
    while (!stopper.signal.aborted) {
      try {
        const res = await fetch(
          `${options.streamUrl}/api/v1/stream/${options.streamId}/${last}/${options.batchSize ?? 100}`,
          {
            headers: { authorization: `Bearer ${options.token}`, "x-long-poll": String(longPoll) },
            signal: AbortSignal.any([stopper.signal, AbortSignal.timeout(longPoll * 1_000 + 3_000)]),
          },
        );
        const text = await res.text();
        if (res.status !== 200) {
          failures.push(`${res.status} ${text.slice(0, 200)}`);
          await sleep(100);
          continue;
        }
        const batch = JSON.parse(text) as LedgerEvent[];
        for (const e of batch) {
          if (e.event_number !== last + 1) breaks.push(`after ${last} received ${e.event_number}`);
          events.push(e);
          last = Math.max(last, e.event_number);
        }
        for (const w of waiters.filter((w) => last >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      } catch (err) {
        if (stopper.signal.aborted) break;
        const e = err as Error & { cause?: { code?: string } };
        failures.push(e.cause?.code ?? e.name);
        await sleep(100);
      }
    }
  })();

  return {
    events,
    breaks,
    failures,
    waitForEvent(n, timeoutMs = 20_000) {
      if (last >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`follower of ${options.streamId} did not reach event ${n} (at ${last})`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}

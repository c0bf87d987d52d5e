import type { IdeaEvent, IdeaProjection, StreamEvent, StreamStatus } from "@heliograph/contracts";
import {
  DEFAULT_LONG_POLL_SECONDS,
  EARLIEST_EVENT_HEADER,
  LONG_POLL_HEADER,
  MAX_BATCH_SIZE,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
} from "@heliograph/contracts/headers";
import { foldIdeas } from "@heliograph/contracts/idea-reducer";
import { ideasStreamId } from "@heliograph/contracts/stream-names";
import { HeliographApiError, HeliographNetworkError } from "./errors.js";
import {
  backoffDelay,
  describe,
  errorBodyOf,
  headersOf,
  type RetryOptions,
  retryPolicy,
  sendWithRetry,
  sleep,
} from "./retry.js";

export interface SubscriberOptions {
  /** The stream gateway, e.g. `http://127.0.0.1:8081` (no `/api/v1`). */
  baseUrl: string;
  /** The subscriber's bearer token. */
  token: string;
  /** The fetch to use (default: the platform's `fetch`). */
  fetch?: typeof fetch;
  /**
   * Retry budget of `latest` and `ideas`, and the backoff of `follow` (which never gives up on a
   * network failure, 429 or 5xx: it backs off, capped at `maxDelayMs`, and resumes).
   */
  retry?: RetryOptions;
}

export interface FollowOptions {
  /** The last event number already processed; -1 (the default) follows from the start. */
  after?: number;
  /** Ends the iteration (it returns, it does not throw). */
  signal?: AbortSignal;
  /** How long each request may be held when nothing is newer (`X-Long-Poll`, 0–60 s; default 5). */
  longPollSeconds?: number;
  /** Events per request (1–1000; default 100). */
  batchSize?: number;
  /** Told about each failed request before `follow` backs off and resumes from the last number. */
  onError?: (error: HeliographApiError | HeliographNetworkError) => void;
}

/** One numbered event, in order, each number once. */
export interface EventItem {
  kind: "event";
  event: StreamEvent;
}

/**
 * The stream's status changed (`X-Heliograph-Stream-Status`): `halted` means an event broke the
 * stream's rules and nothing later is numbered until an operator resolves it; `follow` keeps
 * waiting and reports `live` when numbering resumes. A stream that starts live is not reported.
 */
export interface StatusItem {
  kind: "status";
  status: StreamStatus;
  /** The stream's last event number when it was seen in this status. */
  head: number;
}

/**
 * 410 POSITION_EVICTED: the events after `after` are no longer retained. The iteration ends after
 * this item unless `continueFromEarliest()` is called first: then it goes on from `earliest`, and
 * the events between are skipped knowingly.
 */
export interface EvictedItem {
  kind: "evicted";
  /** The position that was asked for (the last event processed). */
  after: number;
  /** The first event number still held (`X-Heliograph-Earliest`). */
  earliest: number;
  continueFromEarliest(): void;
}

export type FollowItem = EventItem | StatusItem | EvictedItem;

export interface Subscriber {
  /**
   * Every event of a stream after `after`, across long polls, in number order and each once: after
   * a network failure, 429 or 5xx it backs off and asks again from the last number it yielded.
   * Throws HeliographApiError for any other refusal (401, 403, 400).
   */
  follow(streamId: string, options?: FollowOptions): AsyncIterable<FollowItem>;
  /** The most recent ten events (`GET /api/v1/stream/{stream_id}/`). */
  latest(streamId: string, options?: { signal?: AbortSignal }): Promise<StreamEvent[]>;
  /**
   * The current state of every idea of a channel, folded from the whole `ideas-<channel>` stream
   * with the contracts' reducer (the fold the gateway's idea routes are tested against).
   */
  ideas(channel: string, options?: { signal?: AbortSignal }): Promise<Map<string, IdeaProjection>>;
}

const DEFAULT_BATCH_SIZE = 100;
/** Time a held long poll may take beyond its bound before the attempt counts as failed. */
const LONG_POLL_SLACK_MS = 10_000;
const ATTEMPT_TIMEOUT_MS = 30_000;

/** A client of the subscriber API (the stream gateway). */
export function createSubscriber(options: SubscriberOptions): Subscriber {
  const fetchImpl = options.fetch ?? fetch;
  const base = `${options.baseUrl.replace(/\/+$/, "")}/api/v1/stream`;
  const authorization = `Bearer ${options.token}`;
  const policy = retryPolicy(options.retry);

  const read = async (path: string, signal: AbortSignal | undefined) => {
    const res = await sendWithRetry(
      fetchImpl,
      `${base}/${path}`,
      { headers: { authorization, [LONG_POLL_HEADER]: "0" } },
      { policy, signal, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
    );
    return (await res.json()) as StreamEvent[];
  };

  async function* follow(streamId: string, opts: FollowOptions = {}): AsyncGenerator<FollowItem> {
    const { signal } = opts;
    const longPoll = opts.longPollSeconds ?? DEFAULT_LONG_POLL_SECONDS;
    const batch = Math.min(opts.batchSize ?? DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE);
    let last = opts.after ?? -1;
    let status: StreamStatus = "live";
    let failures = 0;
    const backOff = async (error: HeliographApiError | HeliographNetworkError, atLeastMs = 0) => {
      opts.onError?.(error);
      await sleep(Math.max(atLeastMs, backoffDelay(failures++, policy)), signal);
    };

    try {
      while (!signal?.aborted) {
        const url = `${base}/${encodeURIComponent(streamId)}/${last}/${batch}`;
        const attemptSignal = AbortSignal.timeout(longPoll * 1000 + LONG_POLL_SLACK_MS);
        let res: Response;
        let events: StreamEvent[];
        try {
          res = await fetchImpl(url, {
            headers: { authorization, [LONG_POLL_HEADER]: String(longPoll) },
            signal: signal ? AbortSignal.any([signal, attemptSignal]) : attemptSignal,
          });
          if (res.status === 410) {
            const earliest = Number(res.headers.get(EARLIEST_EVENT_HEADER));
            await res.body?.cancel();
            let resume = false;
            yield { kind: "evicted", after: last, earliest, continueFromEarliest: () => (resume = true) };
            if (!resume) return;
            last = earliest - 1;
            continue;
          }
          if (!res.ok) {
            const error = new HeliographApiError(res.status, await errorBodyOf(res), headersOf(res), failures + 1);
            if (error.status !== 429 && error.status < 500) throw error;
            await backOff(error, (error.retryAfter ?? 0) * 1000);
            continue;
          }
          // Read inside the try: a gateway killed mid-answer fails here, and the read is asked again.
          events = (await res.json()) as StreamEvent[];
        } catch (err) {
          if (signal?.aborted) return;
          if (err instanceof HeliographApiError) throw err;
          await backOff(new HeliographNetworkError(`no answer from ${url}: ${describe(err)}`, failures + 1, err));
          continue;
        }
        failures = 0;

        const nowStatus = res.headers.get(STREAM_STATUS_HEADER) as StreamStatus | null;
        if (nowStatus && nowStatus !== status) {
          status = nowStatus;
          yield { kind: "status", status, head: Number(res.headers.get(STREAM_HEAD_HEADER) ?? -1) };
        }
        for (const event of events) {
          // Numbers only go up: whatever an answer repeats is not yielded twice.
          if (event.event_number <= last) continue;
          yield { kind: "event", event };
          last = event.event_number;
        }
      }
    } catch (err) {
      // An abort while the caller held an item, or while sleeping, ends the iteration cleanly.
      if (signal?.aborted) return;
      throw err;
    }
  }

  return {
    follow,
    latest: (streamId, opts = {}) => read(`${encodeURIComponent(streamId)}/`, opts.signal),
    async ideas(channel, opts = {}) {
      const streamId = encodeURIComponent(ideasStreamId(channel));
      const events: IdeaEvent[] = [];
      for (let last = -1; ; ) {
        const page = await read(`${streamId}/${last}/${MAX_BATCH_SIZE}`, opts.signal);
        if (page.length === 0) return foldIdeas(events);
        events.push(...(page as IdeaEvent[]));
        last = page[page.length - 1]?.event_number ?? last;
      }
    },
  };
}

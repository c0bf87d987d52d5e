import type {
  IdeaPublishRequest,
  PublishAnswer,
  TradingSignalRequest,
  UploadResourceRequest,
} from "@heliograph/contracts";
import { IDEMPOTENCY_KEY_HEADER, WAIT_HEADER } from "@heliograph/contracts/headers";
import { type RetryOptions, retryPolicy, sendWithRetry } from "./retry.js";

export interface PublisherOptions {
  /** The ingest gateway, e.g. `http://127.0.0.1:8080` (no `/api/v1`). */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  /** The fetch to use (default: the platform's `fetch`). */
  fetch?: typeof fetch;
  /** Retry budget of every call (defaults: 8 attempts, 60 s, backoff 200 ms doubling to 5 s). */
  retry?: RetryOptions;
  /** Bound of one attempt in ms, on top of any `waitForNumber` (default 30,000). */
  attemptTimeoutMs?: number;
}

export interface PublishOptions {
  /**
   * Sent as `Idempotency-Key` on every attempt of this call, so a retry never makes a second
   * event (default: a new `crypto.randomUUID()` per call). Pass your own to make retries across
   * calls, or across restarts of your program, safe too.
   */
  idempotencyKey?: string;
  /**
   * Seconds (0–30; `true` is 30) the gateway may hold the answer until the event is numbered
   * (`X-Heliograph-Wait`): the answer is then `{status: "sequenced", event_number}`. When the bound
   * passes first it is the usual `{status: "accepted"}`: the publish is stored and will be numbered.
   */
  waitForNumber?: boolean | number;
  /** Ends the call (and its retries) with the signal's reason. */
  signal?: AbortSignal;
  /** This call's retry budget, over the publisher's. */
  retry?: RetryOptions;
}

export interface Publisher {
  /** `POST /api/v1/create_trading_signal`. */
  createTradingSignal(body: TradingSignalRequest, opts?: PublishOptions): Promise<PublishAnswer>;
  /** `POST /api/v1/upload_resource`. */
  uploadResource(body: UploadResourceRequest, opts?: PublishOptions): Promise<PublishAnswer>;
  /** `POST /api/v1/ideas/{channel}/open`: the event's `data` as the trade-ideas document shows it. */
  openIdea(channel: string, body: IdeaPublishRequest, opts?: PublishOptions): Promise<PublishAnswer>;
  /** `POST /api/v1/ideas/{channel}/update`. */
  updateIdea(channel: string, body: IdeaPublishRequest, opts?: PublishOptions): Promise<PublishAnswer>;
  /** `POST /api/v1/ideas/{channel}/close`. */
  closeIdea(channel: string, body: IdeaPublishRequest, opts?: PublishOptions): Promise<PublishAnswer>;
}

const MAX_WAIT_SECONDS = 30;

/**
 * A client of the publisher API (the ingest gateway). Every call is idempotent across its retries:
 * it retries network failures, 429 and 503 (waiting at least their Retry-After), 502
 * NO_INSTANCE_ANSWERED (the dev front's "no gateway took the connection") and, the one 4xx, 409
 * IDEMPOTENCY_KEY_IN_PROGRESS (this call's own earlier attempt, still under way), with jittered
 * exponential backoff. Every other answer (another 4xx, 500, another 502, 504) is thrown at once as
 * HeliographApiError.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const fetchImpl = options.fetch ?? fetch;
  const base = `${options.baseUrl.replace(/\/+$/, "")}/api/v1`;

  async function publish(path: string, body: unknown, opts: PublishOptions = {}): Promise<PublishAnswer> {
    const waitSeconds =
      opts.waitForNumber === true ? MAX_WAIT_SECONDS : opts.waitForNumber === false ? undefined : opts.waitForNumber;
    const headers: Record<string, string> = {
      "api-key": options.apiKey,
      "api-secret": options.apiSecret,
      "content-type": "application/json",
      [IDEMPOTENCY_KEY_HEADER]: opts.idempotencyKey ?? crypto.randomUUID(),
    };
    if (waitSeconds !== undefined) headers[WAIT_HEADER] = String(waitSeconds);
    const res = await sendWithRetry(
      fetchImpl,
      `${base}${path}`,
      { method: "POST", headers, body: JSON.stringify(body) },
      {
        policy: retryPolicy(options.retry, opts.retry),
        signal: opts.signal,
        attemptTimeoutMs: (options.attemptTimeoutMs ?? 30_000) + (waitSeconds ?? 0) * 1000,
      },
    );
    return (await res.json()) as PublishAnswer;
  }

  const idea =
    (action: "open" | "update" | "close") => (channel: string, body: IdeaPublishRequest, opts?: PublishOptions) =>
      publish(`/ideas/${encodeURIComponent(channel)}/${action}`, body, opts);

  return {
    createTradingSignal: (body, opts) => publish("/create_trading_signal", body, opts),
    uploadResource: (body, opts) => publish("/upload_resource", body, opts),
    openIdea: idea("open"),
    updateIdea: idea("update"),
    closeIdea: idea("close"),
  };
}

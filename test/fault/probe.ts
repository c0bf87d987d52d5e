import { ErrorBody } from "@heliograph/contracts";
import { waitFor } from "@heliograph/testkit";

export interface ProbeAnswer {
  status: number;
  ms: number;
  body: unknown;
  retryAfter: string | null;
}

/**
 * One publish without a client timeout (up to `limitMs`): how long the gateway takes to answer
 * during an outage, and what.
 */
export async function probePublish(
  ingestUrl: string,
  publisher: { api_key: string; api_secret: string },
  algorithmId: number,
  key: string,
  limitMs = 15_000,
): Promise<ProbeAnswer> {
  const t0 = performance.now();
  const res = await fetch(`${ingestUrl}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: {
      "API-KEY": publisher.api_key,
      "API-SECRET": publisher.api_secret,
      "content-type": "application/json",
      "Idempotency-Key": key,
    },
    body: JSON.stringify({
      algorithm_id: algorithmId,
      ticker_symbol: key.slice(0, 32),
      order_type: "market",
      portfolio_ratio_investment: 0.5,
      side: "buy",
      time_in_force: "day",
    }),
    signal: AbortSignal.timeout(limitMs),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, ms: performance.now() - t0, body, retryAfter: res.headers.get("retry-after") };
}

/**
 * How long a request may take to fail while Redis is down or stalled: every Redis command gives
 * up after 1.5 s once sent (`commandTimeout` in packages/platform/src/redis.ts), and a request
 * fails at its first failed command. With auto-pipelining a command can first wait, unsent,
 * behind the pipeline in flight (ioredis sends one at a time per connection), which itself takes
 * up to 1.5 s to give up: so at most about 3 s, seen at 3.03 s in CI; the rest is margin.
 */
export const REDIS_OUTAGE_ANSWER_MS = 4_000;

/** A 503 must say so clearly: the error body and a Retry-After. */
export const isClear503 = (a: ProbeAnswer) =>
  a.status === 503 && ErrorBody.safeParse(a.body).success && a.retryAfter !== null;

/**
 * Waits until every service answers /readyz 200; on timeout the error names what each one said
 * and the end of the not-ready ones' output, so a stuck dependency is named, not guessed.
 */
export async function waitForReady(
  services: Record<string, { url: string; output(): string }>,
  timeoutMs: number,
): Promise<void> {
  const answers = async () =>
    Promise.all(
      Object.entries(services).map(async ([name, s]) => {
        try {
          const res = await fetch(`${s.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
          return { name, ok: res.status === 200, said: `${res.status} ${await res.text()}` };
        } catch (err) {
          return { name, ok: false, said: String(err) };
        }
      }),
    );
  let last: Awaited<ReturnType<typeof answers>> = [];
  await waitFor(
    async () => {
      last = await answers();
      return last.every((a) => a.ok);
    },
    { timeoutMs, intervalMs: 100 },
  ).catch(() => {
    const report = last
      .filter((a) => !a.ok)
      .map((a) => `${a.name}: ${a.said}\n${services[a.name]?.output().slice(-3_000)}`)
      .join("\n");
    throw new Error(`not every service was ready within ${timeoutMs} ms:\n${report}`);
  });
}

/**
 * The sum of a metric's series on a service's /metrics whose labels include `labels` (services add
 * their own, such as `service`); 0 when there is none.
 */
export async function metricValue(
  serviceUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

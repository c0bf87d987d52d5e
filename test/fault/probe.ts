import { ErrorBody } from "@heliograph/contracts";

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

/** A 503 must say so clearly: the error body and a Retry-After. */
export const isClear503 = (a: ProbeAnswer) =>
  a.status === 503 && ErrorBody.safeParse(a.body).success && a.retryAfter !== null;

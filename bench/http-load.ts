/**
 * Child: autocannon against one POST route for a fixed time (R3 against bare Fastify, B1 against
 * the ingest gateway), or for a fixed number of requests (B10's burst). With `collectIds`, every 202's `ingest_id` is kept so the runner can check
 * that each accepted publish appears once in its stream.
 */
import autocannon from "autocannon";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface HttpLoadInput {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Request bodies, used in turn (e.g. one per algorithm). */
  bodies: string[];
  connections: number;
  durationSeconds: number;
  /** Send this many requests in all instead of loading for `durationSeconds`. */
  amount?: number;
  collectIds: boolean;
}

export interface HttpLoadResult {
  requests: number;
  accepted: number;
  other: Record<string, number>;
  errors: number;
  timeouts: number;
  elapsedMs: number;
  acceptedPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  startedAt: number;
  endedAt: number;
  ingestIds: string[];
}

childMain<HttpLoadInput, HttpLoadResult>(async (input) => {
  const ingestIds: string[] = [];
  const other: Record<string, number> = {};
  let accepted = 0;
  let turn = 0;
  const startedAt = nowMs();
  const result = await autocannon({
    url: input.url,
    connections: input.connections,
    pipelining: 1,
    ...(input.amount === undefined ? { duration: input.durationSeconds } : { amount: input.amount }),
    timeout: 30,
    requests: [
      {
        method: "POST",
        path: input.path,
        headers: { "content-type": "application/json", ...input.headers },
        setupRequest: (request) => ({ ...request, body: input.bodies[turn++ % input.bodies.length] }),
        onResponse: (status: number, body: string) => {
          if (status === 202) {
            accepted++;
            if (input.collectIds) ingestIds.push((JSON.parse(body) as { ingest_id: string }).ingest_id);
          } else other[status] = (other[status] ?? 0) + 1;
        },
      },
    ],
  });
  const endedAt = nowMs();
  const elapsedMs = endedAt - startedAt;
  return {
    requests: result.requests.total,
    accepted,
    other,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedMs,
    acceptedPerSecond: (accepted / elapsedMs) * 1000,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    startedAt,
    endedAt,
    ingestIds,
  };
});

/**
 * Child: reads a whole stream from the start over HTTP, `batchSize` events per request, one request
 * after the other, as a subscriber catching up does (B4). Checks the numbers have no gap.
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface CatchUpInput {
  url: string;
  token: string;
  streamId: string;
  /** Read until this event number (the head). */
  until: number;
  batchSize: number;
  timeLimitMs: number;
}

export interface CatchUpResult {
  events: number;
  requests: number;
  bytes: number;
  gaps: number;
  elapsedMs: number;
  perSecond: number;
}

childMain<CatchUpInput, CatchUpResult>(async (input) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (after: number) =>
    new Promise<string>((resolve, reject) => {
      http
        .get(
          `${input.url}/api/v1/stream/${input.streamId}/${after}/${input.batchSize}`,
          { agent, headers: { authorization: `Bearer ${input.token}`, "x-long-poll": "0" } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              res.statusCode === 200
                ? resolve(Buffer.concat(chunks).toString("utf8"))
                : reject(
                    new Error(`status ${res.statusCode}: ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`),
                  ),
            );
          },
        )
        .on("error", reject);
    });
  let after = -1;
  let events = 0;
  let requests = 0;
  let bytes = 0;
  let gaps = 0;
  const started = nowMs();
  const deadline = started + input.timeLimitMs;
  while (after < input.until && nowMs() < deadline) {
    const text = await get(after);
    requests++;
    bytes += text.length;
    const batch = JSON.parse(text) as Array<{ event_number: number }>;
    if (batch.length === 0) break;
    for (const event of batch) {
      if (event.event_number !== after + 1) gaps++;
      after = event.event_number;
    }
    events += batch.length;
  }
  const elapsedMs = nowMs() - started;
  agent.destroy();
  return { events, requests, bytes, gaps, elapsedMs, perSecond: (events / elapsedMs) * 1000 };
});

/**
 * Child (B10): the subscribers' webhook receivers, one HTTP server with a path per endpoint
 * (`/hook/<i>`), in a process of its own so receiving never waits on the publisher's or the
 * runner's event loop. Each delivery is answered 204 as soon as its body is read; the monotonic
 * time it arrived is kept with its endpoint, event number and signal id. Every delivery's
 * Standard Webhooks signature is checked with node:crypto (HMAC-SHA256 of `<id>.<timestamp>.<body>`,
 * written here from the specification rather than taken from the dispatcher's code), and its
 * `webhook-id` against `<stream_id>:<event_number>`.
 *
 * Commands: `{ endpoints }` (each endpoint's stream id and secret, sent once they are registered),
 * `{ expect }` (events awaited per endpoint: once each has that many distinct events, it reports
 * `{ completeAt }`, the arrival of the one that completed the set), and `"stop"`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface ReceiverInput {
  endpoints: number;
  timeLimitMs: number;
}

export interface ReceiverEndpoint {
  streamId: string;
  secret: string;
}

export type ReceiverCommand = { endpoints: ReceiverEndpoint[] } | { expect: number[] } | "stop";

/** One delivery as the receiver got it. */
export type Delivery = [endpoint: number, eventNumber: number, signalId: string, at: number];

export interface ReceiverResult {
  /** In arrival order. */
  deliveries: Delivery[];
  /** Deliveries whose signature did not verify with the endpoint's secret (or came before it was known). */
  badSignatures: number;
  /** Deliveries whose `webhook-id` was not `<stream_id>:<event_number>`. */
  badIds: number;
  /** Requests to no endpoint's path, or whose body was not an event. */
  badRequests: number;
}

const SECRET_PREFIX = "whsec_";

function verified(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",");
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

childMain<ReceiverInput, ReceiverResult>(async (input, io) => {
  const deliveries: Delivery[] = [];
  let endpoints: ReceiverEndpoint[] = [];
  let badSignatures = 0;
  let badIds = 0;
  let badRequests = 0;
  // Per endpoint: the event numbers seen, and the arrival time of each new one in turn.
  const seen = Array.from({ length: input.endpoints }, () => new Set<number>());
  const firstArrivals = Array.from({ length: input.endpoints }, (): number[] => []);
  let expect: number[] | undefined;
  let reported = false;
  const checkComplete = () => {
    if (!expect || reported) return;
    if (!expect.every((n, i) => (firstArrivals[i]?.length ?? 0) >= n)) return;
    reported = true;
    const completeAt = Math.max(...expect.map((n, i) => (n === 0 ? 0 : firstArrivals[i]![n - 1]!)));
    io.progress({ completeAt });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = nowMs();
      res.statusCode = 204;
      res.end();
      const match = /^\/hook\/(\d+)$/.exec(req.url ?? "");
      const index = match ? Number(match[1]) : -1;
      const body = Buffer.concat(chunks).toString("utf8");
      let event: { event_number: number; data: { id: string } };
      try {
        event = JSON.parse(body);
      } catch {
        badRequests++;
        return;
      }
      if (index < 0 || index >= input.endpoints || typeof event?.event_number !== "number") {
        badRequests++;
        return;
      }
      deliveries.push([index, event.event_number, String(event.data?.id), at]);
      const endpoint = endpoints[index];
      if (!endpoint || !verified(endpoint.secret, req.headers, body)) badSignatures++;
      if (!endpoint || req.headers["webhook-id"] !== `${endpoint.streamId}:${event.event_number}`) badIds++;
      if (!seen[index]!.has(event.event_number)) {
        seen[index]!.add(event.event_number);
        firstArrivals[index]!.push(at);
        checkComplete();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  io.onCommand((raw) => {
    const command = raw as ReceiverCommand;
    if (command === "stop") stop();
    else if ("endpoints" in command) endpoints = command.endpoints;
    else if ("expect" in command) {
      expect = command.expect;
      checkComplete();
    }
  });
  io.progress({ port: (server.address() as AddressInfo).port });
  const limit = setTimeout(stop, input.timeLimitMs);
  await stopped;
  clearTimeout(limit);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { deliveries, badSignatures, badIds, badRequests };
});

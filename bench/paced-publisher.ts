/**
 * Child: publishes trading signals to the ingest gateway at a steady rate (B2, soak, B10), or
 * messages to an Nchan publisher location (N2), keeping the monotonic time each accepting answer
 * arrived. Open loop: it does not slow down when answers are slow, but never has more than
 * `maxOutstanding` requests open (beyond that a tick's publishes are counted as skipped).
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs, sleep } from "./clock.js";

export interface PacedInput {
  url: string;
  headers: Record<string, string>;
  /** Where to POST (default the ingest gateway's create_trading_signal); may carry a query. */
  path?: string;
  /** Statuses that accept a publish (default 202). */
  acceptStatus?: number[];
  /** One body per stream, sent in turn. */
  bodies: string[];
  /**
   * Ids made here rather than read from the answer's `id` (which the ingest gateway assigns):
   * `${prefix}${n}` for the n-th publish, written into the body in place of `placeholder`.
   */
  ids?: { placeholder: string; prefix: string };
  ratePerSecond: number;
  durationMs: number;
  connections: number;
  maxOutstanding: number;
  /** Report `[signal id, time of the 202, body index, time sent]` batches this often (0: only at the end). */
  reportEveryMs: number;
}

export type Accepted = [id: string, at: number, stream: number, sentAt?: number];

export interface PacedResult {
  sent: number;
  accepted: Accepted[];
  failed: Record<string, number>;
  skipped: number;
  elapsedMs: number;
}

childMain<PacedInput, PacedResult>(async (input, io) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: input.connections });
  const target = new URL(input.path ?? "/api/v1/create_trading_signal", input.url);
  const acceptStatus = new Set(input.acceptStatus ?? [202]);
  const accepted: Accepted[] = [];
  let unreported: Accepted[] = [];
  const failed: Record<string, number> = {};
  let sent = 0;
  let skipped = 0;
  let outstanding = 0;
  let stopped = false;
  io.onCommand((command) => {
    if (command === "stop") stopped = true;
  });
  const publish = (index: number) => {
    const made = input.ids ? `${input.ids.prefix}${sent}` : undefined;
    const body = input.ids ? input.bodies[index]!.replace(input.ids.placeholder, made!) : input.bodies[index]!;
    outstanding++;
    sent++;
    const sentAt = nowMs();
    const req = http.request(
      target,
      {
        method: "POST",
        agent,
        headers: { ...input.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const at = nowMs();
          outstanding--;
          if (acceptStatus.has(res.statusCode ?? 0)) {
            const id = made ?? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string }).id;
            const entry: Accepted = [id, at, index, sentAt];
            accepted.push(entry);
            unreported.push(entry);
          } else failed[String(res.statusCode)] = (failed[String(res.statusCode)] ?? 0) + 1;
        });
      },
    );
    req.on("error", (err) => {
      outstanding--;
      failed[err.message] = (failed[err.message] ?? 0) + 1;
    });
    req.end(body);
  };
  const started = nowMs();
  let lastReport = started;
  let due = 0;
  while (!stopped) {
    const elapsed = nowMs() - started;
    if (elapsed >= input.durationMs) break;
    const shouldHaveSent = Math.floor((elapsed / 1000) * input.ratePerSecond);
    while (due < shouldHaveSent) {
      if (outstanding < input.maxOutstanding) publish(due % input.bodies.length);
      else skipped++;
      due++;
    }
    if (input.reportEveryMs > 0 && nowMs() - lastReport >= input.reportEveryMs) {
      io.progress({ accepted: unreported, skipped, failed });
      unreported = [];
      lastReport = nowMs();
    }
    await sleep(2);
  }
  const drainDeadline = nowMs() + 30_000;
  while (outstanding > 0 && nowMs() < drainDeadline) await sleep(5);
  if (input.reportEveryMs > 0) io.progress({ accepted: unreported, skipped, failed });
  agent.destroy();
  return {
    sent,
    accepted: input.reportEveryMs > 0 ? [] : accepted,
    failed,
    skipped,
    elapsedMs: nowMs() - started,
  };
});

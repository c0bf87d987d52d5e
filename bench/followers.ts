/**
 * Child: subscribers following streams over HTTP long polls, as a client of the trade-ideas
 * document does (repeat the read with the last event number processed). Probe followers (the first
 * of each stream) keep the monotonic time each event arrived, by its `data.id`.
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs, sleep } from "./clock.js";

export interface FollowersInput {
  url: string;
  token: string;
  streams: string[];
  followersPerStream: number;
  /** Last event number already processed, per stream. */
  after: number[];
  longPollSeconds: number;
  batchSize: number;
  timeLimitMs: number;
  /** Report `[id, time]` batches this often (0: only at the end). */
  reportEveryMs: number;
}

export type Received = [id: string, at: number];

export interface FollowersResult {
  received: Received[];
  polls: number;
  events: number;
  errors: Record<string, number>;
}

interface WireEvent {
  event_number: number;
  data: { id: string };
}

childMain<FollowersInput, FollowersResult>(async (input, io) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const received: Received[] = [];
  let unreported: Received[] = [];
  const errors: Record<string, number> = {};
  let polls = 0;
  let events = 0;
  let stopped = false;
  const deadline = nowMs() + input.timeLimitMs;
  io.onCommand((command) => {
    if (command === "stop") stopped = true;
  });
  const poll = (streamId: string, after: number) =>
    new Promise<{ status: number; events: WireEvent[]; at: number }>((resolve, reject) => {
      const req = http.get(
        `${input.url}/api/v1/stream/${streamId}/${after}/${input.batchSize}`,
        { agent, headers: { authorization: `Bearer ${input.token}`, "x-long-poll": String(input.longPollSeconds) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const at = nowMs();
            try {
              const text = Buffer.concat(chunks).toString("utf8");
              resolve({ status: res.statusCode ?? 0, events: res.statusCode === 200 ? JSON.parse(text) : [], at });
            } catch (err) {
              reject(err);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
    });
  let waiting = 0;
  const follow = async (s: number, probe: boolean) => {
    const streamId = input.streams[s]!;
    let after = input.after[s] ?? -1;
    while (!stopped && nowMs() < deadline) {
      try {
        waiting++;
        const answer = await poll(streamId, after);
        waiting--;
        polls++;
        if (answer.status !== 200) {
          errors[String(answer.status)] = (errors[String(answer.status)] ?? 0) + 1;
          await sleep(100);
          continue;
        }
        for (const event of answer.events) {
          if (event.event_number !== after + 1) errors.gap = (errors.gap ?? 0) + 1;
          after = event.event_number;
          events++;
          if (probe) {
            const entry: Received = [event.data.id, answer.at];
            received.push(entry);
            unreported.push(entry);
          }
        }
      } catch (err) {
        waiting--;
        // Stopping destroys the sockets of the held polls: not an error.
        if (stopped || nowMs() >= deadline) break;
        const key = (err as Error).message;
        errors[key] = (errors[key] ?? 0) + 1;
        await sleep(100);
      }
    }
  };
  const followers: Promise<void>[] = [];
  for (let s = 0; s < input.streams.length; s++)
    for (let f = 0; f < input.followersPerStream; f++) followers.push(follow(s, f === 0));
  io.progress({ started: followers.length });
  const reporter =
    input.reportEveryMs > 0
      ? setInterval(() => {
          io.progress({ received: unreported, polls, events, waiting, errors });
          unreported = [];
        }, input.reportEveryMs)
      : undefined;
  // Stopping ends held polls at once rather than waiting up to X-Long-Poll seconds.
  const stopWatch = setInterval(() => {
    if (stopped || nowMs() >= deadline) agent.destroy();
  }, 50);
  await Promise.all(followers);
  clearInterval(stopWatch);
  if (reporter) clearInterval(reporter);
  if (input.reportEveryMs > 0) io.progress({ received: unreported, polls, events, waiting, errors });
  agent.destroy();
  return { received: input.reportEveryMs > 0 ? [] : received, polls, events, errors };
});

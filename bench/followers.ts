/**
 * Child: subscribers following streams over HTTP long polls, as a client of the trade-ideas
 * document does (repeat the read with the last event number processed), or as an Nchan long-poll
 * client does (repeat the read with the last answer's Last-Modified and Etag). Probe followers (the
 * first of each stream) keep the monotonic time each event arrived, by its signal id.
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs, sleep } from "./clock.js";

/** The stream gateway's read: `GET /api/v1/stream/<id>/<after>/<batch>` with X-Long-Poll. */
export interface HeliographFollow {
  kind: "heliograph";
  token: string;
  /** Last event number already processed, per stream. */
  after: number[];
  longPollSeconds: number;
  batchSize: number;
}

/**
 * Nchan's long-poll subscriber location (`url` + `path`, the stream as `?id=`): one message per
 * answer, the next asked for with If-Modified-Since / If-None-Match set to the answer's
 * Last-Modified / Etag; the message is JSON with the signal id in `id`.
 */
export interface NchanFollow {
  kind: "nchan";
  path: string;
}

export interface FollowersInput {
  url: string;
  protocol: HeliographFollow | NchanFollow;
  streams: string[];
  followersPerStream: number;
  timeLimitMs: number;
  /** Report `[id, time]` batches this often (0: only at the end). */
  reportEveryMs: number;
}

/**
 * `sinceNumberedMs`: how long before `at` the sequencer numbered the event, from its wall-clock
 * `data.published_at` (ms precision; one machine, one clock): the second half of the latency.
 * NaN for a peer's messages (Nchan's), which carry no such time.
 */
export type Received = [id: string, at: number, sinceNumberedMs: number];

export interface FollowersResult {
  received: Received[];
  polls: number;
  events: number;
  errors: Record<string, number>;
}

interface WireEvent {
  event_number: number;
  data: { id: string; published_at: string };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  at: number;
  /** `at` on the wall clock (Date.now()), to compare with an event's published_at. */
  wallAt: number;
}

/** One follower's place in its stream: what to ask next, and the signal ids an answer carried. */
interface Cursor {
  request(): { path: string; headers: Record<string, string> };
  /** Ids in order; counts a gap in `errors` when the protocol shows one. */
  take(answer: Answer, errors: Record<string, number>): Array<{ id: string; numberedAt?: number }>;
}

function heliographCursor(follow: HeliographFollow, streamId: string, after: number): Cursor {
  return {
    request: () => ({
      path: `/api/v1/stream/${streamId}/${after}/${follow.batchSize}`,
      headers: { authorization: `Bearer ${follow.token}`, "x-long-poll": String(follow.longPollSeconds) },
    }),
    take(answer, errors) {
      const ids: Array<{ id: string; numberedAt?: number }> = [];
      for (const event of JSON.parse(answer.text) as WireEvent[]) {
        if (event.event_number !== after + 1) errors.gap = (errors.gap ?? 0) + 1;
        after = event.event_number;
        ids.push({ id: event.data.id, numberedAt: Date.parse(event.data.published_at) });
      }
      return ids;
    },
  };
}

function nchanCursor(follow: NchanFollow, channel: string): Cursor {
  let lastModified: string | undefined;
  let etag: string | undefined;
  return {
    request() {
      const headers: Record<string, string> = {};
      // Without them Nchan waits for the next message (nchan_subscriber_first_message newest).
      if (lastModified !== undefined) {
        headers["if-modified-since"] = lastModified;
        headers["if-none-match"] = etag ?? "0";
      }
      return { path: `${follow.path}?id=${encodeURIComponent(channel)}`, headers };
    },
    take(answer) {
      lastModified = answer.headers["last-modified"];
      etag = answer.headers.etag;
      return [{ id: (JSON.parse(answer.text) as { id: string }).id }];
    },
  };
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
  const poll = (cursor: Cursor) =>
    new Promise<Answer>((resolve, reject) => {
      const { path, headers } = cursor.request();
      const req = http.get(`${input.url}${path}`, { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const at = nowMs();
          resolve({
            wallAt: Date.now(),
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
            at,
          });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
    });
  let waiting = 0;
  const follow = async (s: number, probe: boolean) => {
    const streamId = input.streams[s]!;
    const { protocol } = input;
    const cursor =
      protocol.kind === "heliograph"
        ? heliographCursor(protocol, streamId, protocol.after[s] ?? -1)
        : nchanCursor(protocol, streamId);
    while (!stopped && nowMs() < deadline) {
      try {
        waiting++;
        const answer = await poll(cursor).finally(() => waiting--);
        polls++;
        if (answer.status !== 200) {
          errors[String(answer.status)] = (errors[String(answer.status)] ?? 0) + 1;
          await sleep(100);
          continue;
        }
        for (const { id, numberedAt } of cursor.take(answer, errors)) {
          events++;
          if (probe) {
            const entry: Received = [id, answer.at, answer.wallAt - (numberedAt ?? Number.NaN)];
            received.push(entry);
            unreported.push(entry);
          }
        }
      } catch (err) {
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

/**
 * Child: opens `count` long polls (one connection each) to one URL, or to several in turn, and
 * waits for their answers (R4 against bare Fastify, B3 against the stream gateway, B3x2 against
 * two of them or their front), or with `stream` as many Server-Sent Events streams (B9).
 * Connections are opened in waves so the server's accept backlog never overflows; once every
 * request is written it reports `sent`, and at the end the time each answer arrived.
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface LongPollInput {
  url: string;
  /**
   * Several targets instead of `url`, taken in turn, one request each (B3x2 splits its clients
   * over two gateways itself): one process drives them all, so the client side costs the same
   * whether the polls go to one gateway, two, or a front.
   */
  urls?: string[];
  headers: Record<string, string>;
  count: number;
  /** Connections being opened at once. */
  wave: number;
  /** A body must contain this to count as the awaited answer. */
  expect: string;
  /**
   * The answer is a stream that does not end (Server-Sent Events): it counts as answered once what
   * arrived so far contains `expect`, and the connection is then closed.
   */
  stream?: boolean;
  timeLimitMs: number;
}

export interface LongPollResult {
  answered: number;
  expected: number;
  otherStatus: Record<string, number>;
  errors: number;
  firstAnswerAt: number;
  lastAnswerAt: number;
  sentAt: number;
}

childMain<LongPollInput, LongPollResult>(async (input, io) => {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const otherStatus: Record<string, number> = {};
  let answered = 0;
  let expected = 0;
  let errors = 0;
  let firstAnswerAt = Number.POSITIVE_INFINITY;
  let lastAnswerAt = 0;
  let finished = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const settle = () => {
    finished++;
    if (finished === input.count) allDone();
  };
  const requests: http.ClientRequest[] = [];
  const urls = input.urls?.length ? input.urls : [input.url];
  const open = () =>
    new Promise<void>((written) => {
      const url = urls[requests.length % urls.length]!;
      const req = http.get(url, { agent, headers: input.headers }, (res) => {
        const chunks: Buffer[] = [];
        let done = false;
        const answer = (awaited: boolean) => {
          if (done) return;
          done = true;
          const at = nowMs();
          answered++;
          if (awaited) expected++;
          else otherStatus[String(res.statusCode)] = (otherStatus[String(res.statusCode)] ?? 0) + 1;
          firstAnswerAt = Math.min(firstAnswerAt, at);
          lastAnswerAt = Math.max(lastAnswerAt, at);
          settle();
        };
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          if (input.stream && res.statusCode === 200 && Buffer.concat(chunks).toString("utf8").includes(input.expect)) {
            answer(true);
            req.destroy();
          }
        });
        res.on("end", () =>
          answer(res.statusCode === 200 && Buffer.concat(chunks).toString("utf8").includes(input.expect)),
        );
        res.on("error", () => answer(false));
      });
      requests.push(req);
      req.on("finish", () => written());
      req.on("error", () => {
        errors++;
        written();
        settle();
      });
    });
  for (let from = 0; from < input.count; from += input.wave) {
    const wave = Math.min(input.wave, input.count - from);
    await Promise.all(Array.from({ length: wave }, open));
  }
  const sentAt = nowMs();
  io.progress({ sent: input.count });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, input.timeLimitMs)))]);
  clearTimeout(timer);
  for (const req of requests) req.destroy();
  agent.destroy();
  return { answered, expected, otherStatus, errors, firstAnswerAt, lastAnswerAt, sentAt };
});

/**
 * Child: opens `count` long polls (one connection each) to one URL and waits for their answers
 * (R4 against bare Fastify, B3 against the stream gateway). Connections are opened in waves so the
 * server's accept backlog never overflows; once every request is written it reports `sent`, and at
 * the end the time each answer arrived.
 */
import http from "node:http";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface LongPollInput {
  url: string;
  headers: Record<string, string>;
  count: number;
  /** Connections being opened at once. */
  wave: number;
  /** A body must contain this to count as the awaited answer. */
  expect: string;
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
  const open = () =>
    new Promise<void>((written) => {
      const req = http.get(input.url, { agent, headers: input.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const at = nowMs();
          answered++;
          if (res.statusCode === 200 && Buffer.concat(chunks).toString("utf8").includes(input.expect)) expected++;
          else otherStatus[String(res.statusCode)] = (otherStatus[String(res.statusCode)] ?? 0) + 1;
          firstAnswerAt = Math.min(firstAnswerAt, at);
          lastAnswerAt = Math.max(lastAnswerAt, at);
          settle();
        });
      });
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
  agent.destroy();
  return { answered, expected, otherStatus, errors, firstAnswerAt, lastAnswerAt, sentAt };
});

import type { ServerResponse } from "node:http";

/**
 * Resolves true once the response can take more (its buffer drained, or it never filled), false
 * when `timeoutMs` passed first or `signal` aborted: what bounds a slow reader of a stream (SSE,
 * the admin tail) to the batch it was last given.
 */
export function responseDrained(raw: ServerResponse, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  if (!raw.writableNeedDrain) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      raw.off("drain", onDrain);
      signal.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    raw.on("drain", onDrain);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

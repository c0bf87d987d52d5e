import { waitFor } from "./wait-for.js";

/**
 * Waits until a stream gateway holds a long poll (its `heliograph_stream_waiters` gauge on
 * /metrics): what a test needs before it acts on a subscriber that is waiting at a stream's end.
 */
export async function waitForHeldLongPoll(streamUrl: string, options: { timeoutMs?: number } = {}): Promise<void> {
  await waitFor(
    async () => {
      const text = await (await fetch(`${streamUrl}/metrics`)).text();
      const match = /^heliograph_stream_waiters(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
      return match && Number(match[1]) > 0;
    },
    { timeoutMs: options.timeoutMs ?? 5_000, intervalMs: 5, what: "a held long poll" },
  );
}

/**
 * Runs `tick` again and again in the background, `intervalMs` apart, until `stop()` (which waits for
 * the running tick). For load generators and chaos in tests: it paces work, it never stands in
 * for waiting on a result (use `waitFor` for that).
 */
export function pacedLoop(intervalMs: number, tick: () => Promise<unknown>): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) {
      await tick();
      if (running) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

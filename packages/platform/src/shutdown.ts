import type { Logger } from "pino";

export type ShutdownStep = { name: string; run: () => Promise<unknown> | unknown };

/**
 * Runs the steps in the given order on SIGTERM or SIGINT (callers list them in reverse order of
 * start: stop accepting, end long polls, stop consumers, drain NATS, quit Redis), each bounded so
 * a stuck step cannot keep the process alive, then exits.
 */
export function onShutdown(
  log: Logger,
  steps: ShutdownStep[],
  options: { stepTimeoutMs?: number } = {},
): () => Promise<void> {
  const shutdownLog = log.child({ component: "shutdown" });
  let started: Promise<void> | undefined;
  const run = () => {
    started ??= (async () => {
      for (const step of steps) {
        const t0 = performance.now();
        try {
          await Promise.race([
            Promise.resolve().then(step.run),
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error("timed out")), options.stepTimeoutMs ?? 10_000).unref(),
            ),
          ]);
          shutdownLog.info({ step: step.name, ms: Math.round(performance.now() - t0) }, "shutdown step done");
        } catch (err) {
          shutdownLog.error({ err, step: step.name }, "shutdown step failed");
        }
      }
    })();
    return started;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    shutdownLog.info({ signal }, "shutting down");
    void run().then(() => process.exit(0));
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  return run;
}

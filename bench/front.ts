/**
 * Child: the local cluster's front (`startRoundRobinProxy` of deploy/dev, as `pnpm cluster` runs
 * it) before several stream gateways, for B3x2. A process of its own, like every other process in
 * the path, so its CPU and memory can be read from /proc apart from the runner's. It reports its
 * URL, forwards until told "stop" (or its time limit), and answers how many requests each target
 * answered.
 */
import { type ProxyTarget, startRoundRobinProxy } from "@heliograph/dev-stack/round-robin-proxy";
import { childMain } from "./child.js";

export interface FrontInput {
  /** What stands behind it, for its 502 body: `stream-gateway`. */
  name: string;
  targets: ProxyTarget[];
  timeLimitMs: number;
}

export interface FrontResult {
  answered: Record<string, number>;
}

childMain<FrontInput, FrontResult>(async (input, io) => {
  const front = await startRoundRobinProxy({ name: input.name, targets: input.targets });
  io.progress({ url: front.url });
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    io.onCommand((command) => {
      if (command === "stop") resolve();
    });
    timer = setTimeout(resolve, input.timeLimitMs);
  });
  clearTimeout(timer);
  await front.close();
  return { answered: { ...front.answered } };
});

/**
 * B3x2: do stream gateways scale out on fan-out? B3's measure with 2 × N long polls on one stream
 * (N = `scaleOutPolls`), one publish, until the last is answered:
 *
 * - `one`: one stream gateway holds them all;
 * - `front`: two stream gateways and the local cluster's front before both (deploy/dev's
 *   round-robin proxy, in a process of its own); the clients connect to the front, which spreads
 *   them in turn;
 * - `direct`: two stream gateways, the clients split over their ports by the client process
 *   itself, half each: the gateways' own scaling without the front's hop.
 *
 * Every setting runs on gateways started for it (on the stack's NATS and Redis) and stopped after,
 * never on the stack's own: a gateway that held more polls seconds before keeps those pages, so
 * its RSS barely grows with the next ones (B3's own figure fell to ~0 KB when B3x2 shared its
 * gateway), and a long-running process answers for less CPU than one still growing its heap. Each
 * is warmed first by an untimed fan-out of a sixteenth of what it will hold, the same share in
 * every setting, so both sides of a ratio start alike.
 *
 * Each charges every process in its path per answer (the cost meter), each gateway also per answer
 * it gave itself (`.own.<gateway>`), and the front's RSS and CPU per poll it held.
 */
import { readFileSync } from "node:fs";
import type { ServiceHandle } from "@heliograph/testkit";
import { Child } from "./child.js";
import type { FrontInput, FrontResult } from "./front.js";
import { fanOut, LONG_POLLS } from "./heliograph-bench.js";
import type { Sizes } from "./options.js";
import type { Components } from "./process-cost.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";

/**
 * Descriptors the front needs: a socket to the client and one to a gateway per held poll, and a
 * margin for the process itself. The runner raises its limit to the hard one (run.ts).
 */
export const frontDescriptors = (sizes: Sizes) => 4 * sizes.scaleOutPolls + 500;

/** This process's soft limit on descriptors, which the children inherit. */
function descriptorLimit(): number {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
  return line === undefined || line === "unlimited" ? Number.POSITIVE_INFINITY : Number(line);
}

type Stream = { streamId: string; body: string };

/** Component names of the setting's gateways in the figures: `stream` is the first, as in B3. */
const GATEWAY_NAMES = ["stream", "stream2"] as const;

/**
 * One setting: its gateways started and warmed, the front before them when `viaFront`, the
 * fan-out measured, everything it started stopped again.
 */
async function setting(
  h: Heliograph,
  sizes: Sizes,
  rep: number,
  how: { id: string; gateways: 1 | 2; viaFront: boolean; on: Stream; warm: Stream },
): Promise<RepResult> {
  const polls = 2 * sizes.scaleOutPolls;
  const started: ServiceHandle[] = [];
  let front: Child<FrontInput, FrontResult> | undefined;
  try {
    const starting = await Promise.allSettled(
      Array.from({ length: how.gateways }, () => h.startInstance("stream-gateway")),
    );
    for (const s of starting) if (s.status === "fulfilled") started.push(s.value);
    const failed = starting.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    const gateways = started.map((g, i) => ({ name: GATEWAY_NAMES[i]!, url: g.url }));
    await fanOut(h, sizes, rep, {
      ...LONG_POLLS,
      id: `${how.id}warm`,
      count: Math.ceil(polls / 16),
      on: how.warm,
      gateways,
      clientUrls: gateways.map((g) => g.url),
      components: {},
    });
    // The stack's own gateway only idles here: not charged.
    const { stream: _idle, ...pipeline } = h.components();
    const components: Components = { ...pipeline };
    for (const [i, g] of started.entries()) components[GATEWAY_NAMES[i]!] = g.pid;
    let clientUrls = gateways.map((g) => g.url);
    if (how.viaFront) {
      front = new Child<FrontInput, FrontResult>("front.ts", {
        name: "stream-gateway",
        targets: gateways,
        timeLimitMs: 600_000,
      });
      const { url } = await front.next<{ url: string }>((m) => (m as { url?: string }).url !== undefined, 30_000);
      clientUrls = [url];
      components.front = front.pid;
    }
    const result = await fanOut(h, sizes, rep, {
      ...LONG_POLLS,
      id: how.id,
      count: polls,
      on: how.on,
      gateways,
      clientUrls,
      components,
      ...(front ? { front: { pid: front.pid! } } : {}),
    });
    if (front) {
      front.send("stop");
      const { answered } = await front.result(15_000);
      result.notes.push(`${how.id} rep ${rep}: the front forwarded ${JSON.stringify(answered)}`);
      front = undefined;
    }
    return result;
  } finally {
    front?.kill();
    for (const g of started) if (g.running()) await g.stop();
  }
}

export async function b3x2(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  // Refused up front: past the limit the front would fail mid-measure with EMFILE on some polls.
  if (descriptorLimit() < frontDescriptors(sizes))
    throw new Error(
      `B3x2 needs ${frontDescriptors(sizes)} descriptors in the front (2 × ${2 * sizes.scaleOutPolls} sockets); the limit is ${descriptorLimit()}`,
    );
  // Made before any of the setting's gateways starts: a gateway caches a subscriber's entitlements
  // on first use, and the bench waits for new streams to be readable on the stack's gateway only.
  const streams = await h.newAlgorithmStreams(6);
  const pair = (i: number) => ({ on: streams[2 * i]!, warm: streams[2 * i + 1]! });
  const figures: Record<string, number> = {};
  const notes: string[] = [];
  for (const result of [
    await setting(h, sizes, rep, { id: "B3x2one", gateways: 1, viaFront: false, ...pair(0) }),
    await setting(h, sizes, rep, { id: "B3x2front", gateways: 2, viaFront: true, ...pair(1) }),
    await setting(h, sizes, rep, { id: "B3x2direct", gateways: 2, viaFront: false, ...pair(2) }),
  ]) {
    Object.assign(figures, result.figures);
    notes.push(...result.notes);
  }
  figures["B3x2.frontRatio"] = figures["B3x2front.time"]! / figures["B3x2one.time"]!;
  figures["B3x2.directRatio"] = figures["B3x2direct.time"]! / figures["B3x2one.time"]!;
  return { figures, notes };
}

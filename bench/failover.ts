/**
 * B7: sequencer failover. A second sequencer joins the bench stack; under a light publish load on
 * several streams, the instance owning the first stream's partition is killed (kill -9), and the
 * time until every stream of its partitions is numbered again, and every partition held by the
 * survivor, is taken; then it is started again and the shares settle before the next kill.
 */
import { DEFAULT_PARTITION_COUNT, partitionOf } from "@heliograph/contracts";
import { partitionLeaseKey } from "@heliograph/store";
import { type ServiceHandle, startService } from "@heliograph/testkit";
import { nowMs, sleep } from "./clock.js";
import type { Sizes } from "./options.js";
import type { RepResult } from "./raw.js";
import type { Heliograph } from "./stack.js";
import { percentile } from "./stats.js";

/** Streams under load: with 32 partitions and two instances, each instance owns a few of them. */
const STREAMS = 8;
/** Publishes per second per stream: enough that a stream numbers again within a few ms of its takeover. */
const RATE_PER_STREAM = 50;

async function waitUntil(what: string, timeoutMs: number, condition: () => Promise<boolean>, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Index in `sequencers` of each partition's lease holder (-1: none of them); SEQUENCER_ID defaults to `<host>-<pid>`. */
export async function leaseOwners(h: Heliograph, sequencers: ServiceHandle[]): Promise<number[]> {
  const owners = await h.servers.client.mget(
    ...Array.from({ length: DEFAULT_PARTITION_COUNT }, (_, p) => partitionLeaseKey(p)),
  );
  return owners.map((owner) => sequencers.findIndex((s) => owner?.endsWith(`-${s.pid}`)));
}

export async function b7(h: Heliograph, sizes: Sizes, rep: number): Promise<RepResult> {
  const streams = await h.newAlgorithmStreams(STREAMS);
  // The second instance gets the first one's environment on a port of its own.
  const { PORT: _port, ...env } = h.sequencer.env;
  const sequencers: ServiceHandle[] = [h.sequencer, await startService("sequencer", env)];
  const share = DEFAULT_PARTITION_COUNT / 2;
  const balanced = async () => {
    const owners = await leaseOwners(h, sequencers);
    return !owners.includes(-1) && owners.filter((o) => o === 0).length === share;
  };
  let publishing = true;
  let published = 0;
  const load = (async () => {
    let k = 0;
    while (publishing) {
      const t0 = nowMs();
      await Promise.all(
        streams.map(({ body, streamId }) =>
          fetch(`${h.ingest.url}/api/v1/create_trading_signal`, {
            method: "POST",
            headers: {
              ...h.publisherHeaders,
              "content-type": "application/json",
              "idempotency-key": `b7-${rep}-${streamId}-${k}`,
            },
            body,
            signal: AbortSignal.timeout(2_000),
          })
            .then(async (res) => {
              await res.arrayBuffer();
              if (res.status < 300) published++;
            })
            .catch(() => {}),
        ),
      );
      k++;
      await sleep(Math.max(0, 1_000 / RATE_PER_STREAM - (nowMs() - t0)));
    }
  })();
  const times: number[] = [];
  const notes: string[] = [];
  try {
    for (let kill = 0; kill < sizes.failoverKills; kill++) {
      await waitUntil("the partitions shared half and half", 30_000, balanced, 50);
      const owners = await leaseOwners(h, sequencers);
      const victim = owners[partitionOf(streams[0]!.streamId)]!;
      const affected = streams.filter((s) => owners[partitionOf(s.streamId)] === victim).map((s) => s.streamId);
      const killedAt = nowMs();
      sequencers[victim]!.kill("SIGKILL");
      await sequencers[victim]!.exited();
      const heads = await Promise.all(affected.map((s) => h.head(s)));
      const resumed = new Map<string, number>();
      let takenAt = Number.NaN;
      await waitUntil("every affected stream numbered again and every partition taken", 30_000, async () => {
        const now = nowMs();
        const current = await Promise.all(affected.map((s) => h.head(s)));
        for (const [i, s] of affected.entries()) if (!resumed.has(s) && current[i]! > heads[i]!) resumed.set(s, now);
        if (Number.isNaN(takenAt) && (await leaseOwners(h, sequencers)).every((o) => o === 1 - victim)) takenAt = now;
        return resumed.size === affected.length && !Number.isNaN(takenAt);
      });
      times.push(Math.max(takenAt, ...resumed.values()) - killedAt);
      sequencers[victim] = await sequencers[victim]!.restart();
      if (victim === 0) h.sequencer = sequencers[0]!;
    }
  } finally {
    publishing = false;
    await load;
    // Back to one sequencer for the other benchmarks: a graceful stop hands its partitions over.
    await sequencers[1]?.stop();
    await waitUntil("one sequencer holding every partition", 30_000, async () =>
      (await leaseOwners(h, [sequencers[0]!])).every((o) => o === 0),
    );
  }
  notes.push(
    `B7 rep ${rep}: ${times.length} kills of one of two sequencers, ${times.map((t) => t.toFixed(0)).join(", ")} ms until every affected stream numbered again and every partition taken; ${published} publishes meanwhile`,
  );
  const sorted = [...times].sort((a, b) => a - b);
  return { figures: { "B7.p50": percentile(sorted, 0.5), "B7.p95": percentile(sorted, 0.95) }, notes };
}

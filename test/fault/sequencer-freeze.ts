/**
 * Freezing the sequencer (SIGSTOP) at a chosen moment of its work, to catch it between its two
 * JetStream writes of a batch: the events are stored in EVENTS, the INGEST messages they came from
 * are not acked yet. Whatever then breaks (the sequencer killed, NATS killed) makes those messages
 * come back, or their publishes be retried, after the moment JetStream would have dropped a repeat.
 */
import { EVENTS_STREAM, INGEST_STREAM, INGEST_SUBJECT_PREFIX } from "@heliograph/contracts";
import { waitFor } from "@heliograph/testkit";
import { DeliverPolicy, type JetStreamManager, jetstream, jetstreamManager, type MsgRequest } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FaultStack } from "./fault-stack.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SIGSTOP or SIGCONT to the sequencer's process group (it leads its own: see startFaultStack). */
export function signalSequencer(stack: FaultStack, signal: "SIGSTOP" | "SIGCONT"): void {
  const pid = stack.services.sequencer.pid;
  if (pid === undefined) throw new Error("the sequencer has no pid");
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/**
 * Ingest ids whose event EVENTS holds while their INGEST message is still there (not acked), per
 * stream: INGEST is a work queue (an acked message is deleted) and the sequencer numbers a stream's
 * messages in INGEST order, so it is enough to look at each stream's oldest INGEST message and ask
 * whether EVENTS holds an event numbered from it (`data.id` is the ingest id).
 */
export async function eventsAwaitingAck(
  nc: NatsConnection,
  jsm: JetStreamManager,
  streamIds: string[],
): Promise<string[]> {
  const oldest = await Promise.all(streamIds.map((id) => oldestIngestId(jsm, id)));
  if (oldest.every((id) => id === undefined)) return [];
  const recent = await recentEventIds(nc, jsm);
  return oldest.filter((id): id is string => id !== undefined && recent.has(id));
}

/**
 * The ingest ids (`data.id`) of EVENTS' last messages: enough to hold any batch in flight (at most
 * BATCH_MAX, 500 by default, numbered at a time), without reading all of EVENTS at every probe.
 */
async function recentEventIds(nc: NatsConnection, jsm: JetStreamManager, count = 2_000): Promise<Set<string>> {
  const { last_seq, messages } = (await jsm.streams.info(EVENTS_STREAM)).state;
  const ids = new Set<string>();
  if (messages === 0) return ids;
  const from = Math.max(1, last_seq - count + 1);
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
  });
  // Asks for exactly what is there, so the fetch ends when it is delivered, not when it expires.
  for (let read = from - 1; read < last_seq; ) {
    const batch = await consumer.fetch({ max_messages: last_seq - read, expires: 2_000 });
    let got = 0;
    for await (const msg of batch) {
      got++;
      read = msg.seq;
      const id = (JSON.parse(msg.string()) as { data?: { id?: unknown } }).data?.id;
      if (typeof id === "string") ids.add(id);
      if (read >= last_seq) break;
    }
    if (got === 0) break;
  }
  return ids;
}

async function oldestIngestId(jsm: JetStreamManager, streamId: string): Promise<string | undefined> {
  // STREAM.MSG.GET takes next_by_subj (a wildcard, so no partition arithmetic) since nats-server 2.9.
  const request = { seq: 1, next_by_subj: `${INGEST_SUBJECT_PREFIX}.*.${streamId}` } as unknown as MsgRequest;
  try {
    const msg = await jsm.streams.getMessage(INGEST_STREAM, request);
    return msg ? (JSON.parse(msg.string()) as { ingest_id?: string }).ingest_id : undefined;
  } catch (err) {
    if (/no message found/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** {@link eventsAwaitingAck} once two reads 100 ms apart agree: acks on the wire when the sequencer froze have landed. */
async function settledEventsAwaitingAck(nc: NatsConnection, jsm: JetStreamManager, streamIds: string[]) {
  let last = JSON.stringify(await eventsAwaitingAck(nc, jsm, streamIds));
  const settled = await waitFor(
    async () => {
      await sleep(100);
      const now = JSON.stringify(await eventsAwaitingAck(nc, jsm, streamIds));
      const same = now === last;
      last = now;
      return same ? now : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 0, what: "EVENTS and INGEST to settle" },
  );
  return JSON.parse(settled) as string[];
}

/**
 * Leaves the sequencer frozen at a moment when EVENTS holds events whose INGEST messages are not
 * acked, and returns their ingest ids (each stream's oldest INGEST message, when it is one). Under
 * the loads' steady traffic the sequencer is let run for a few milliseconds at a time and frozen
 * again until such a moment is caught; each freeze is short (a few hundred ms), well inside its
 * lease, so it keeps numbering between tries.
 */
export async function freezeBetweenEventsAndAcks(
  stack: FaultStack,
  nc: NatsConnection,
  streamIds: string[],
  timeoutMs: number,
): Promise<{ ingestIds: string[]; probes: number }> {
  const jsm = await jetstreamManager(nc);
  const deadline = performance.now() + timeoutMs;
  let probes = 0;
  while (performance.now() < deadline) {
    signalSequencer(stack, "SIGSTOP");
    probes++;
    const ingestIds = await settledEventsAwaitingAck(nc, jsm, streamIds);
    if (ingestIds.length > 0) return { ingestIds, probes };
    signalSequencer(stack, "SIGCONT");
    // How long it runs decides where in its work it stops: vary it.
    await sleep(2 + Math.random() * 25);
  }
  throw new Error(`the sequencer was never caught between its EVENTS publishes and its INGEST acks (${probes} tries)`);
}

/** Waits until no stream's oldest INGEST message is one of `ingestIds`: they were delivered again and acked. */
export async function waitUntilAcked(
  nc: NatsConnection,
  streamIds: string[],
  ingestIds: string[],
  timeoutMs: number,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor(
    async () => {
      const oldest = await Promise.all(streamIds.map((id) => oldestIngestId(jsm, id)));
      return oldest.every((id) => id === undefined || !ingestIds.includes(id));
    },
    { timeoutMs, intervalMs: 100, what: `INGEST messages ${ingestIds.join(", ")} to be acked` },
  );
}

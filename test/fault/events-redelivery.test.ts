import { waitFor } from "@heliograph/testkit";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact, waitForMoreAccepted } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { freezeBetweenEventsAndAcks, signalSequencer, waitUntilAcked } from "./sequencer-freeze.js";

// Promise 2 for readers of EVENTS: an INGEST message redelivered after EVENTS' duplicate window
// (short here: 1 s; 10 min by default, and a sequencer can be down longer) must not store its
// event again. The sequencer is caught after its EVENTS publishes and before its INGEST acks,
// killed (-9), and its successor started once the window is over: it gets those messages again.
const WINDOW_MS = 1_000;
const ROUNDS = process.env.CI === "true" ? 1 : 2;

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 4, env: { JETSTREAM_DUPLICATE_WINDOW_MS: String(WINDOW_MS) } });
}, 60_000);
afterAll(async () => {
  // Never leave it stopped, whatever happened.
  if (stack) signalSequencer(stack, "SIGCONT");
  await stack?.stop();
});

describe("INGEST redelivered to a new sequencer after EVENTS' duplicate window", () => {
  it(`${ROUNDS} round(s): EVENTS holds each number once, in order, and the ledger is clean`, async () => {
    const loads = stack.startLoads(150);
    const streamIds = loads.map((l) => l.streamId);
    await waitForMoreAccepted(loads, 20);
    const nc = await connect({ ...stack.natsConnectOptions(), maxReconnectAttempts: -1 });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const caught = await freezeBetweenEventsAndAcks(stack, nc, streamIds, 30_000);
        // The fault is real: these events are in EVENTS and their INGEST messages will come back.
        expect(caught.ingestIds.length).toBeGreaterThan(0);
        const frozenAt = performance.now();
        await stack.killHard("sequencer");
        await waitFor(() => performance.now() - frozenAt > 2 * WINDOW_MS, { timeoutMs: 5_000, intervalMs: 50 });
        await stack.restart("sequencer");
        // The successor takes the partitions over once the dead one's lease expires, gets those
        // messages again and acks them: only then is the next round a new fault.
        await waitUntilAcked(nc, streamIds, caught.ingestIds, 20_000);
        await waitForMoreAccepted(loads, 40);
      }
    } finally {
      await nc.close();
    }

    const readBack = await stack.finish(loads, { drainTimeoutMs: 30_000 });
    await expectEventsRecordInOrder(stack);
    expectRecordIntact(readBack);
  }, 110_000);
});

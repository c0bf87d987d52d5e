import { waitFor } from "@heliograph/testkit";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact, waitForMoreAccepted } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { metricValue, waitForReady } from "./probe.js";
import { freezeBetweenEventsAndAcks, signalSequencer } from "./sequencer-freeze.js";

// Promise 2 for readers of EVENTS when EVENTS publishes of a batch fail and are retried: the
// sequencer is caught with a batch's events stored in EVENTS and its INGEST acks not sent, and
// nats-server is killed (-9) there. The PubAcks and acks in flight are lost; the sequencer retries
// the publishes once NATS is back, after EVENTS' duplicate window (short here: 1 s). EVENTS must
// still hold each number once, in order.
const WINDOW_MS = 1_000;
const ROUNDS = process.env.CI === "true" ? 1 : 2;
const publishRetries = () =>
  metricValue(stack.services.sequencer.url, "heliograph_sequencer_retries_total", { operation: "publish" });

let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 4, env: { JETSTREAM_DUPLICATE_WINDOW_MS: String(WINDOW_MS) } });
}, 60_000);
afterAll(async () => {
  if (stack) signalSequencer(stack, "SIGCONT");
  await stack?.stop();
});

describe("EVENTS publishes of a batch fail mid-batch (nats-server killed) and are retried after the duplicate window", () => {
  it(`${ROUNDS} round(s): EVENTS holds each number once, in order, and the ledger is clean`, async () => {
    const nats = stack.nats;
    if (!nats) throw new Error("needs its own nats-server");
    const loads = stack.startLoads(150);
    const streamIds = loads.map((l) => l.streamId);
    await waitForMoreAccepted(loads, 20);
    const retriesBefore = await publishRetries();

    for (let round = 0; round < ROUNDS; round++) {
      const nc = await connect({ ...stack.natsConnectOptions(), maxReconnectAttempts: -1 });
      const caught = await freezeBetweenEventsAndAcks(stack, nc, streamIds, 30_000).finally(() => nc.close());
      // A batch is half done: its events are in EVENTS, its INGEST messages not acked.
      expect(caught.ingestIds.length).toBeGreaterThan(0);
      const killedAt = performance.now();
      await nats.kill("SIGKILL");
      signalSequencer(stack, "SIGCONT");
      await waitFor(() => performance.now() - killedAt > 2 * WINDOW_MS, { timeoutMs: 5_000, intervalMs: 50 });
      await nats.restart();
      await waitForReady(stack.services, 20_000);
      await waitForMoreAccepted(loads, 40, 30_000);
    }

    const readBack = await stack.finish(loads, { drainTimeoutMs: 30_000 });
    // The fault is real: EVENTS publishes failed (no PubAck) and were retried.
    const retries = (await publishRetries()) - retriesBefore;
    await expectEventsRecordInOrder(stack);
    expectRecordIntact(readBack);
    expect(retries, "EVENTS publishes retried").toBeGreaterThan(0);
  }, 110_000);
});

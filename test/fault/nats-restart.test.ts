import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact } from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { waitForReady } from "./probe.js";

// Promise 1 when nats-server (file storage) goes away under load: publishes are answered 503 (never
// 2xx without a PubAck) and retried; after the restart JetStream still holds INGEST and EVENTS.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 2 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("nats-server stops and restarts under publish load", () => {
  it("kill -9 of nats-server: nothing accepted is lost or doubled, and the services recover by themselves", async () => {
    const nats = stack.nats;
    if (!nats) throw new Error("needs its own nats-server");
    const loads = stack.startLoads(40);
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));

    await nats.kill("SIGKILL");
    const accepted = loads.map((l) => l.accepted());
    // Wait for at least two failed attempts, so the outage is really seen by the clients.
    await waitFor(() => loads.every((l) => (l.records.at(-1)?.attempts.length ?? 0) >= 2), { timeoutMs: 5_000 });
    await nats.restart();
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 30_000)));
    await waitForReady(stack.services, 15_000);

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    const { http } = readBack;
    // The outage was seen, and nothing else than a PubAck made a 2xx: an attempt meanwhile was
    // answered 503, or outlived the client's 1 s (the gateway waits PUBLISH_TIMEOUT_MS for a PubAck
    // a buffered publish may still get once NATS is back); never another status.
    const { outcomes } = http.summary;
    expect((outcomes["503"] ?? 0) + (outcomes.timeout ?? 0), http.describe()).toBeGreaterThan(0);
    expect(
      Object.keys(outcomes).filter((o) => !["202", "503", "timeout"].includes(o)),
      http.describe(),
    ).toEqual([]);
    expect(loads.map((l) => l.accepted()).every((n, i) => n > (accepted[i] ?? 0))).toBe(true);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 60_000);
});

import { type SequencedNotice, sequencedSubject } from "@heliograph/contracts";
import { connectNats, createLogger, type NatsConnection } from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SequencedWaiters } from "./sequenced-waiters.js";

const log = createLogger({ name: "sequenced-waiters-test", level: "error" });

describe("waits for numbering on a real nats-server", () => {
  let server: NatsServerHandle;
  /** The gateway's connection. */
  let nc: NatsConnection;
  /** The sequencer's. */
  let sequencer: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server, log, "sequenced-waiters-test");
    sequencer = await connectNats(server, log, "sequenced-waiters-test-sequencer");
  });
  afterAll(async () => {
    await nc?.drain().catch(() => {});
    await sequencer?.drain().catch(() => {});
    await server?.stop();
  });

  /** Publishes a notice as the sequencer does; resolves once the gateway's connection would have it. */
  async function announce(notice: SequencedNotice): Promise<void> {
    sequencer.publish(sequencedSubject(3), JSON.stringify(notice));
    await sequencer.flush();
    // The server wrote any MSG for the gateway before the PONG of a PING sent after it.
    await nc.flush();
  }

  it("is not woken by notices while nobody waits, hears them while someone does, and stops after the linger", async () => {
    const waiters = new SequencedWaiters(nc, log, 300);
    try {
      const before = nc.stats().inMsgs;
      await announce([["ing_nobody", "algorithm-1", 0]]);
      expect(nc.stats().inMsgs).toBe(before);
      expect(waiters.listening).toBe(false);

      const waiter = waiters.register("ing_waited");
      const numbered = waiters.wait(waiter, 5_000, async () => undefined);
      expect(waiters.listening).toBe(true);
      await announce([
        ["ing_other", "algorithm-1", 1],
        ["ing_waited", "algorithm-1", 2],
      ]);
      expect(await numbered).toBe(2);
      expect(nc.stats().inMsgs).toBe(before + 1);

      // Lingers: a wait right after reuses the subscription.
      const again = waiters.register("ing_again");
      const numberedAgain = waiters.wait(again, 5_000, async () => undefined);
      await announce([["ing_again", "algorithm-1", 3]]);
      expect(await numberedAgain).toBe(3);

      await waitFor(() => !waiters.listening, { timeoutMs: 5_000, what: "unsubscribed after the linger" });
      const after = nc.stats().inMsgs;
      await announce([["ing_late", "algorithm-1", 4]]);
      expect(nc.stats().inMsgs).toBe(after);
    } finally {
      waiters.close();
    }
  });

  it("a wait registered after its publish was numbered finds the number by its look-up", async () => {
    const waiters = new SequencedWaiters(nc, log, 300);
    try {
      const waiter = waiters.register("ing_numbered_before");
      expect(await waiters.wait(waiter, 5_000, async () => 7)).toBe(7);
    } finally {
      waiters.close();
    }
  });
});

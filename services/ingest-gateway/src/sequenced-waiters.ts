import { SEQUENCED_SUBJECT_PREFIX, SequencedNotice } from "@heliograph/contracts";
import type { Logger } from "@heliograph/platform";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";

type Listener = (eventNumber: number | undefined) => void;

/** A registered wait for one ingest id; `settle` ends it early (a number found another way, or none). */
export interface SequencedWaiter {
  /** Resolves with the event number, or undefined when the wait was given up. */
  readonly numbered: Promise<number | undefined>;
  settle(eventNumber: number | undefined): void;
}

/**
 * How long the subscription stays after the last wait ended: a publisher that waits on every
 * publish keeps it, one that waits now and then costs a SUB and an UNSUB a minute at most.
 */
export const SEQUENCED_LINGER_MS = 60_000;

/**
 * Publishers that asked to wait (`X-Heliograph-Wait`) until their publish is numbered. One core
 * NATS subscription per gateway process over every partition's SequencedNotice, demultiplexed by
 * ingest id, so a thousand waiting publishes cost one subscription, not a thousand.
 *
 * Subscribed only while someone waits (and SEQUENCED_LINGER_MS after): the sequencer sends a
 * notice per numbered batch, and a gateway listening to them all would be woken, read and parse
 * one per event at low rates with nobody to tell. The SUB goes out on the connection before the
 * waiting publish's PUB, so nats-server has the interest before the sequencer can number it.
 */
export class SequencedWaiters {
  private readonly waiting = new Map<string, Set<Listener>>();
  private sub: Subscription | undefined;
  /** Resolves once nats-server has the current subscription (a PING answered after the SUB). */
  private subscribed: Promise<void> = Promise.resolve();
  private linger: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    log: Logger,
    private readonly lingerMs = SEQUENCED_LINGER_MS,
  ) {
    this.log = log.child({ component: "sequenced-waiters" });
  }

  /** Whether the gateway listens for notices now. */
  get listening(): boolean {
    return this.sub !== undefined;
  }

  private listen(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.sub || this.closed) return;
    this.sub = this.nc.subscribe(`${SEQUENCED_SUBJECT_PREFIX}.>`, {
      callback: (err, msg) => {
        if (err) {
          this.log.error({ err }, "sequenced-notice subscription failed");
          return;
        }
        if (this.waiting.size === 0) return;
        let notice: SequencedNotice;
        try {
          notice = SequencedNotice.parse(msg.json());
        } catch (parseErr) {
          this.log.warn({ err: parseErr, subject: msg.subject }, "ignoring a malformed sequenced notice");
          return;
        }
        for (const [ingestId, , eventNumber] of notice) this.notify(ingestId, eventNumber);
      },
    });
    this.subscribed = this.nc.flush().catch(() => {});
  }

  /** Once nobody waits: unsubscribes after the linger, unless a wait comes first. */
  private idle(): void {
    if (this.waiting.size > 0 || !this.sub || this.linger) return;
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (this.waiting.size > 0) return;
      this.sub?.unsubscribe();
      this.sub = undefined;
    }, this.lingerMs);
    this.linger.unref();
  }

  /** Publishes being waited on now. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Starts listening for one ingest id. Register before publishing, so a notice that comes
   * before the PubAck is not missed.
   */
  register(ingestId: string): SequencedWaiter {
    let settled = false;
    let resolveNumbered!: (n: number | undefined) => void;
    const numbered = new Promise<number | undefined>((resolve) => {
      resolveNumbered = resolve;
    });
    const listener: Listener = (n) => settle(n);
    const settle = (n: number | undefined) => {
      if (settled) return;
      settled = true;
      const listeners = this.waiting.get(ingestId);
      listeners?.delete(listener);
      if (listeners?.size === 0) this.waiting.delete(ingestId);
      this.idle();
      resolveNumbered(n);
    };
    let listeners = this.waiting.get(ingestId);
    if (!listeners) {
      listeners = new Set();
      this.waiting.set(ingestId, listeners);
    }
    listeners.add(listener);
    if (this.closed) settle(undefined);
    else this.listen();
    return { numbered, settle };
  }

  /**
   * Waits at most `ms` for the registered publish to be numbered; `check` is called once, after
   * registration, for a number that was already known (the publish may have been numbered before
   * the wait began). `signal` gives up at once (the client went away).
   */
  async wait(
    waiter: SequencedWaiter,
    ms: number,
    check: () => Promise<number | undefined | "never">,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const timer = setTimeout(() => waiter.settle(undefined), ms);
    const abort = () => waiter.settle(undefined);
    signal?.addEventListener("abort", abort, { once: true });
    try {
      // A wait registered after its publish (a replayed 202) looks the number up once the
      // server has the subscription, so a notice sent between the look-up and the SUB is not
      // lost; one registered before its publish has it already (SUB before PUB on one connection).
      this.subscribed.then(check).then(
        (known) => {
          if (known === "never") waiter.settle(undefined);
          else if (known !== undefined) waiter.settle(known);
        },
        (err) => this.log.warn({ err }, "looking up the publish status failed; waiting for the notice"),
      );
      return await waiter.numbered;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
  }

  private notify(ingestId: string, eventNumber: number): void {
    const listeners = this.waiting.get(ingestId);
    if (!listeners) return;
    for (const listener of [...listeners]) listener(eventNumber);
  }

  /** Ends every wait (they answer 202) and the subscription. */
  close(): void {
    this.closed = true;
    for (const listeners of [...this.waiting.values()]) for (const listener of [...listeners]) listener(undefined);
    this.waiting.clear();
    clearTimeout(this.linger);
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

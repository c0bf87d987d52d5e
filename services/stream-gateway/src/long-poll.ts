import { eventsArrayText, HeliographError, type StreamId, type StreamStatus } from "@heliograph/contracts";
import type { Counter } from "@heliograph/platform";
import type { StreamState } from "@heliograph/store";
import type { RegisterResult, StreamHub, Waiter, WakeReason } from "./hub.js";
import type { StreamLook, StreamSource } from "./stream-source.js";
import type { SubscriberAccess } from "./subscriber-access.js";

export interface ReadRequest {
  streamId: StreamId;
  /** The last event the client processed; -1 for the start. */
  after: number;
  batchSize: number;
  longPollMs: number;
  /** Who reads: a subscriber holds at most its share of the process's waiters. */
  subscriberId?: string;
  /** Aborted when the client disconnects. */
  signal: ClientSignal;
  /**
   * The request's Authorization header: when the hub says the subscriber's record changed while
   * the poll was held, the token and the entitlement are checked again (`LongPollDeps.access`)
   * and the refusal (401, 403) thrown.
   */
  authorization?: string;
}

/** Told when the client left (the DOM's EventListenerObject, which this project's libs lack). */
export interface AbortListener {
  handleEvent(event: Event): void;
}

/**
 * What a read needs of the signal that its client left: an AbortSignal has it, and so has the
 * lighter {@link ClientGone} a long-poll route makes per request.
 */
export interface ClientSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: AbortListener): void;
}

/**
 * Aborted when the response closes unfinished (the client went away). One per held poll, so it
 * holds one listener and no more: an AbortController costs each poll an EventTarget, its
 * listener map and records, about 300 bytes of heap of the stream gateway's ~11 KB per poll.
 */
export class ClientGone implements ClientSignal {
  aborted = false;
  private listener: AbortListener | undefined;

  /** `close` fires on a finished response too: only an unfinished one means the client left. */
  constructor(res: { writableFinished: boolean; destroyed: boolean; on(event: "close", fn: () => void): unknown }) {
    if (res.destroyed) this.aborted = true;
    else res.on("close", () => !res.writableFinished && this.abort());
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listener = this.listener;
    this.listener = undefined;
    listener?.handleEvent(new Event("abort"));
  }

  addEventListener(_type: "abort", listener: AbortListener): void {
    // One held read at a time listens (readOrWait's waiter); a second would be a bug.
    if (this.listener && this.listener !== listener) throw new Error("ClientGone holds one listener");
    this.listener = listener;
  }

  removeEventListener(_type: "abort", listener: AbortListener): void {
    if (this.listener === listener) this.listener = undefined;
  }
}

/** How a read ended, for `heliograph_stream_reads_total{outcome}`. */
export type ReadOutcome = "immediate" | "woken" | "rechecked" | "empty" | "released" | "aborted" | "shed";

export type ReadAnswer =
  | {
      kind: "events";
      /** The events' texts, consecutive from after+1; `body` is them as one JSON array. */
      texts: readonly string[];
      body: string;
      head: number;
      status: StreamStatus;
      outcome: ReadOutcome;
    }
  | { kind: "aborted"; outcome: "aborted" };

export interface LongPollDeps {
  /** Redis, or EVENTS while Redis is behind for the stream (stream-source.ts). */
  source: Pick<StreamSource, "read">;
  hub: Pick<StreamHub, "register" | "unregister">;
  reads: Counter<"outcome">;
  /** Head and status after a wait; see {@link coalescedStateReader}. */
  readState: (streamId: StreamId) => Promise<StreamState>;
  /** Checks a held read's token and entitlement again (ReadRequest.authorization). */
  access?: Pick<SubscriberAccess, "stillAllowed">;
  /**
   * True when no read could find an event after `after` that the hub will not bring to the waiter:
   * the hub is up to date with EVENTS and `after` is the stream's last event it knows of
   * ({@link knownHeadCheck}). A poll registered then waits without reading Redis.
   */
  atKnownHead?: (streamId: StreamId, after: number) => boolean;
}

/**
 * LongPollDeps.atKnownHead of a gateway: its hub up to date with EVENTS, and the source's memory of
 * the stream (StreamSource.atRecordedHead). Only a performance guard needs the hub's side: a hub
 * that lags would hand a follower at its head one event per wake instead of a read's batch.
 * `skipped` counts the reads it spares.
 */
export function knownHeadCheck(
  hub: Pick<StreamHub, "upToDate">,
  source: Pick<StreamSource, "atRecordedHead">,
  skipped?: Pick<Counter, "inc">,
): (streamId: StreamId, after: number) => boolean {
  return (streamId, after) => {
    const known = hub.upToDate && source.atRecordedHead(streamId, after);
    if (known) skipped?.inc();
    return known;
  };
}

/**
 * Reads a stream's head and status for waiters that end their wait, so the answer reports a halt
 * that happened during it. Waiters woken by one event, or timing out together (followers that
 * re-polled after the same event), ask at the same moment: reads of one stream that overlap share
 * one Redis round trip, so ten thousand of them cost one read. The first waiter woken by event n
 * starts its read after the sequencer wrote n (and any halt before it) to Redis, so sharing it
 * never hides that halt. `read` is the source's state read (`StreamSource.state`).
 */
export function coalescedStateReader(
  read: (streamId: StreamId) => Promise<StreamState>,
): (streamId: StreamId) => Promise<StreamState> {
  const inFlight = new Map<StreamId, Promise<StreamState>>();
  return (streamId) => {
    let pending = inFlight.get(streamId);
    if (!pending) {
      pending = read(streamId).finally(() => inFlight.delete(streamId));
      inFlight.set(streamId, pending);
    }
    return pending;
  };
}

function counted(deps: LongPollDeps, result: ReadAnswer): ReadAnswer {
  deps.reads.inc({ outcome: result.outcome });
  return result;
}

function emptyAnswer(state: StreamState, outcome: ReadOutcome): ReadAnswer {
  return { kind: "events", texts: [], body: "[]", head: state.head, status: state.status, outcome };
}

type WaitResult = WakeReason | { kind: "timeout" } | { kind: "aborted" } | { kind: "cancelled" };

/**
 * One held read: settles once, on a wakeup, its timer or its client going away. It listens for
 * the abort itself (`handleEvent`) rather than through a closure: under esbuild's keepNames (tsx,
 * and the production build) every named per-request closure gets a `name` property, ~250 bytes of
 * heap per held poll each.
 */
class PendingRead implements Waiter, AbortListener {
  readonly settled: Promise<WaitResult>;
  private resolve!: (result: WaitResult) => void;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    readonly streamId: StreamId,
    readonly after: number,
    readonly subscriberId: string | undefined,
    private readonly hub: LongPollDeps["hub"],
    private readonly signal: ClientSignal,
  ) {
    this.settled = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  register(timeoutMs: number): RegisterResult {
    const result = this.hub.register(this);
    if (result !== "registered") return result;
    this.timer = setTimeout(expire, timeoutMs, this);
    this.signal.addEventListener("abort", this, { once: true });
    return result;
  }

  /** The client went away. */
  handleEvent(): void {
    this.finish({ kind: "aborted" });
  }

  /** The long-poll bound passed. */
  expire(): void {
    this.finish({ kind: "timeout" });
  }

  wake(reason: WakeReason): void {
    this.finish(reason);
  }

  cancel(): void {
    this.finish({ kind: "cancelled" });
  }

  private finish(result: WaitResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.signal.removeEventListener("abort", this);
    // Dropped from the hub at once, so a gone client's waiter does not linger.
    this.hub.unregister(this);
    this.resolve(result);
  }
}

/** A timer's callback without a closure per held read (setTimeout passes the read). */
function expire(read: PendingRead): void {
  read.expire();
}

/**
 * Read-or-wait (docs/architecture.md "Stream gateway", promise 7): a waiter is registered in the
 * hub FIRST and then the stream is read once (Redis, or EVENTS while Redis is behind). Events
 * found are answered at once and the waiter dropped; none, and the read is held until an event,
 * a recheck, the long-poll bound or the client leaving. An event stored after that read reaches
 * the waiter: the sequencer writes Redis before EVENTS, which the hub follows, so one the hub
 * dispatched before the registration was in Redis before the read. One read per poll where
 * reading before registering needed a second look at the head after it (a Redis round trip per
 * re-poll of every follower at the head).
 */
export async function readOrWait(deps: LongPollDeps, req: ReadRequest): Promise<ReadAnswer> {
  const deadline = performance.now() + req.longPollMs;
  let outcome: ReadOutcome = "immediate";
  // Set when the wait timed out but the head had moved: read the log once more and answer that.
  let last = false;
  // The first look was skipped at the known head: `latest` holds no status read from Redis.
  let skipped = false;

  for (;;) {
    if (req.signal.aborted) return counted(deps, { kind: "aborted", outcome: "aborted" });
    const remaining = deadline - performance.now();
    let waiter: PendingRead | undefined;
    let refused: Exclude<RegisterResult, "registered"> | undefined;
    if (!last && remaining > 0) {
      waiter = new PendingRead(req.streamId, req.after, req.subscriberId, deps.hub, req.signal);
      const registered = waiter.register(remaining);
      if (registered !== "registered") {
        refused = registered;
        waiter = undefined;
      }
    }
    let look: StreamLook;
    if (waiter && outcome === "immediate" && deps.atKnownHead?.(req.streamId, req.after)) {
      // A follower's re-poll at the head: what comes next reaches the waiter registered above from
      // EVENTS, so a read would find nothing. The head and status stand in until the wait ends
      // (its answer reads them: readState); a recheck or reauthorization reads as usual.
      look = { texts: [], head: req.after, status: "live" };
      skipped = true;
    } else {
      skipped = false;
      try {
        look = await deps.source.read(req.streamId, req.after, req.batchSize);
      } catch (err) {
        waiter?.cancel();
        throw err;
      }
    }
    const { texts, ...latest } = look;
    if (texts.length > 0) {
      waiter?.cancel();
      return counted(deps, {
        kind: "events",
        texts,
        body: eventsArrayText(texts),
        head: latest.head,
        status: latest.status,
        outcome,
      });
    }
    if (!waiter) {
      // Nothing to answer with, and no wait: the bound passed, or the hub would not hold one more.
      if (refused === undefined) return counted(deps, emptyAnswer(latest, "empty"));
      if (refused === "draining") return counted(deps, emptyAnswer(latest, "released"));
      deps.reads.inc({ outcome: "shed" });
      if (refused === "full") {
        throw new HeliographError("SERVICE_UNAVAILABLE", {
          message: "Too many long polls are held by this process; retry shortly",
          retryAfter: 1,
        });
      }
      throw new HeliographError("RATE_LIMITED", {
        message: "This subscriber holds its share of this process's long polls already; retry shortly",
        retryAfter: 1,
      });
    }

    const result = await waiter.settled;
    switch (result.kind) {
      case "event": {
        // The body is in hand; the state read only refreshes the headers, so its failure is not the reader's.
        const now = await deps.readState(req.streamId).catch(() => latest);
        return counted(deps, {
          kind: "events",
          texts: [result.text],
          body: result.body,
          head: Math.max(result.eventNumber, now.head, latest.head),
          status: now.status,
          outcome: "woken",
        });
      }
      case "reauthorize":
        if (req.subscriberId !== undefined)
          await deps.access?.stillAllowed(req.authorization, req.subscriberId, req.streamId);
        outcome = "rechecked";
        continue;
      case "recheck":
        outcome = "rechecked";
        continue;
      case "timeout": {
        const now = await deps.readState(req.streamId).catch(() => latest);
        if (now.head <= req.after) return counted(deps, emptyAnswer(now, "empty"));
        // Rare: an event landed that the hub did not deliver in time; serve it rather than [].
        outcome = "rechecked";
        last = true;
        continue;
      }
      case "release": {
        const now = skipped ? await deps.readState(req.streamId).catch(() => latest) : latest;
        return counted(deps, emptyAnswer(now, "released"));
      }
      case "aborted":
      case "cancelled":
        return counted(deps, { kind: "aborted", outcome: "aborted" });
    }
  }
}

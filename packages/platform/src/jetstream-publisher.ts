import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  type Subscription,
  TimeoutError,
} from "@nats-io/nats-core";

/** What JetStream answered a stored publish (the PubAck). */
export interface PublishAck {
  stream: string;
  seq: number;
  /** The Nats-Msg-Id was seen within the stream's duplicate window: nothing new was stored. */
  duplicate: boolean;
}

/** JetStream's error code for a refused `Nats-Expected-Last-Sequence` / `…-Last-Subject-Sequence`. */
export const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's error code for a refused `Nats-Expected-Last-Msg-Id`. */
export const WRONG_LAST_MSG_ID = 10070;

/** JetStream refused the publish (stream full, wrong sequence, …): its API error. */
export class JetStreamPublishError extends Error {
  override readonly name = "JetStreamPublishError";
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly errCode: number | undefined,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (ack: PublishAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

/**
 * JetStream publishes whose PubAcks come back on one wildcard inbox subscription of the process,
 * with one timer for all of them. `js.publish` of @nats-io/jetstream is a full request per call
 * (a mux entry, a timer, an Error built to reject the settled deferred, promise chains): the
 * single largest CPU cost of the ingest gateway and the sequencer. This sends the same message
 * (Nats-Msg-Id header, reply subject) and reads the same answer; a publish resolves only on a
 * PubAck and rejects on a JetStream error, no responders (no stream), a timeout or a closed
 * connection, exactly when `js.publish` would.
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;

  /** @param timeoutMs how long a publish waits for its PubAck (one value, so deadlines come in order). */
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    // Under the connection's inbox prefix: a role may only read replies under its own.
    const { inboxPrefix } = (nc as unknown as { options?: { inboxPrefix?: string } }).options ?? {};
    this.prefix = `${createInbox(inboxPrefix)}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    void nc.closed().then(() => this.failAll(new Error("the NATS connection is closed")));
  }

  /**
   * @param extraHeaders further headers, e.g. JetStream's `Nats-Expected-Last-Subject-Sequence`
   *   (a refusal rejects with a JetStreamPublishError whose errCode is {@link WRONG_LAST_SEQUENCE}).
   */
  publish(
    subject: string,
    payload: string | Uint8Array,
    msgID?: string,
    extraHeaders?: Record<string, string>,
  ): Promise<PublishAck> {
    return new Promise<PublishAck>((resolve, reject) => {
      const token = (this.next++).toString(36);
      let h: ReturnType<typeof headers> | undefined;
      if (msgID || extraHeaders) {
        h = headers();
        if (msgID) h.set("Nats-Msg-Id", msgID);
        if (extraHeaders) for (const name in extraHeaders) h.set(name, extraHeaders[name]!);
      }
      try {
        this.nc.publish(subject, payload, { reply: this.prefix + token, headers: h });
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      this.sweeper ??= setInterval(() => this.sweep(), Math.min(100, this.timeoutMs)).unref();
    });
  }

  /** Publishes still waiting for their PubAck. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops listening; whatever still waits is refused. */
  close(): void {
    this.sub.unsubscribe();
    this.failAll(new Error("the JetStream publisher was closed"));
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // The subscription itself failed (closed, permissions): no PubAck can come any more.
      this.failAll(err);
      return;
    }
    const token = msg.subject.slice(this.prefix.length);
    const pending = this.pending.get(token);
    if (!pending) return; // timed out already
    this.pending.delete(token);
    this.stopSweeperWhenIdle();
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new NoRespondersError(msg.subject));
      return;
    }
    let answer: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      error?: { code?: number; err_code?: number; description?: string };
    };
    try {
      answer = JSON.parse(msg.string());
    } catch {
      pending.reject(new JetStreamPublishError("the PubAck is not JSON", undefined, undefined));
      return;
    }
    if (answer.error) {
      const e = answer.error;
      pending.reject(new JetStreamPublishError(e.description ?? "JetStream refused the publish", e.code, e.err_code));
      return;
    }
    if (!answer.stream || typeof answer.seq !== "number") {
      pending.reject(new JetStreamPublishError("invalid PubAck", undefined, undefined));
      return;
    }
    pending.resolve({ stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true });
  }

  /** Deadlines are in insertion order (one timeout for all), so the expired ones are at the front. */
  private sweep(): void {
    const now = Date.now();
    for (const [token, pending] of this.pending) {
      if (pending.deadline > now) break;
      this.pending.delete(token);
      pending.reject(new TimeoutError());
    }
    this.stopSweeperWhenIdle();
  }

  private stopSweeperWhenIdle(): void {
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.stopSweeperWhenIdle();
    for (const pending of all) pending.reject(err);
  }
}

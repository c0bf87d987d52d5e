import { EVENT_INGEST_ID_HEADER, EVENTS_STREAM, eventMsgId, eventsSubject, type StreamId } from "@heliograph/contracts";
import {
  JetStreamPublishError,
  type JetStreamPublisher,
  type Logger,
  type PublishAck,
  WRONG_LAST_MSG_ID,
  WRONG_LAST_SEQUENCE,
} from "@heliograph/platform";
import { lastRecordedEvent } from "@heliograph/store";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { SequencerMetrics } from "./metrics.js";

/** A numbered event on its way to EVENTS, as the step stored it. */
export interface Publication {
  streamId: StreamId;
  eventNumber: number;
  text: string;
  ingestId: string;
}

/** The last event of a stream known to be in EVENTS: its number (-1: none) and JetStream sequence (0: none). */
export interface RecordTip {
  eventNumber: number;
  seq: number;
}

/**
 * EVENTS and this writer disagree about these streams (the record holds events this process does
 * not know, or lacks ones before what it was asked to write): they must be verified against the
 * record again before anything more of them is written or acked.
 */
export class RecordConflictError extends Error {
  override readonly name = "RecordConflictError";
  constructor(readonly streamIds: StreamId[]) {
    super(`EVENTS disagrees with this sequencer about ${streamIds.join(", ")}`);
  }
}

/** A transient failure (timeout, no responders, JetStream unavailable) left events unwritten: retry. */
export class RecordWriteError extends Error {
  override readonly name = "RecordWriteError";
}

const EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id";
/** Tips kept; a stream whose tip was dropped is verified again before it is next written. */
const MAX_TIPS = 100_000;

interface Outcome {
  ack?: PublishAck;
  err?: Error;
  /** A duplicate whose stored event is another one. */
  conflict?: boolean;
}

/**
 * Writes numbered events to EVENTS so that each `events.<sid>` subject holds 0..n in order, once
 * (docs/architecture.md, "EVENTS, the record"). Every publish is conditional, so a retry, a
 * redelivery past the duplicate window or a stale instance can never store n after n+1, nor n
 * twice, nor n+1 without n: JetStream refuses it.
 *
 * A stream's events are pipelined as a chain. Its first event in a round is conditional on the
 * subject's confirmed last sequence (`Nats-Expected-Last-Subject-Sequence`: the message there is
 * event n-1, read or acked). Each later one is conditional on the stream's last message being the
 * event before it (`Nats-Expected-Last-Msg-Id`, the msg id names stream and number): an accepted
 * event n+1 is stored right after an event n of its stream, whoever wrote that, so the subject
 * reads 0, 1, 2, … by induction whatever other writers do. (Conditions on a predicted stream
 * sequence are not enough: when the prediction is one short and the subject's previous event is
 * the stream's last message, event n+1 passes while n was refused, a gap.) The chain needs its
 * events stored back to back: another writer's messages between them (a second sequencer writing
 * its partitions) refuse the rest, which are reconciled with the record and sent again as a new
 * chain, whose first event is anchored on the subject again. Each round therefore stores at least
 * the first pending event of every stream nobody else writes, and in practice nearly all of them.
 */
export class EventsWriter {
  private readonly tips = new Map<StreamId, RecordTip>();

  constructor(
    private readonly deps: {
      publisher: JetStreamPublisher;
      jsm: JetStreamManager;
      log: Logger;
      metrics: SequencerMetrics;
    },
  ) {}

  tip(streamId: StreamId): RecordTip | undefined {
    return this.tips.get(streamId);
  }

  /** What a verification found the record's last event of a stream to be. */
  setTip(streamId: StreamId, tip: RecordTip): void {
    this.tips.delete(streamId);
    this.tips.set(streamId, tip);
    if (this.tips.size > MAX_TIPS) this.tips.delete(this.tips.keys().next().value as StreamId);
  }

  forget(streamId: StreamId): void {
    this.tips.delete(streamId);
  }

  /**
   * Writes `publications` (per stream in number order) to EVENTS; events the record holds already
   * are skipped. Resolves once all are stored. Throws RecordConflictError (after writing the other
   * streams) for streams the record disagrees with, RecordWriteError when some could not be
   * written for now (retry the same call: what was stored is skipped).
   */
  async write(publications: readonly Publication[]): Promise<void> {
    const pending = new Map<StreamId, Publication[]>();
    const conflicts = new Set<StreamId>();
    for (const p of publications) {
      let list = pending.get(p.streamId);
      if (!list) {
        list = [];
        pending.set(p.streamId, list);
      }
      list.push(p);
    }
    for (const [streamId, list] of pending) if (!this.trim(streamId, list, pending)) conflicts.add(streamId);

    while (pending.size > 0) {
      const outcomes = await this.chainedRound(pending);
      let failed: Error | undefined;
      const reconcile: StreamId[] = [];
      for (const [streamId, list] of pending) {
        const results = outcomes.get(streamId) ?? [];
        let done = 0;
        for (const result of results) {
          if (!result.ack) break;
          // A duplicate Nats-Msg-Id skips JetStream's conditions: EVENTS holds an event of this
          // number already, which must be this very event (a retry), not another writer's.
          if (result.ack.duplicate && !(await this.isSameEvent(list[done]!, result.ack.seq))) {
            result.conflict = true;
            break;
          }
          done++;
        }
        if (results.slice(done).some((r) => r.ack))
          this.deps.log.error({ streamId }, "EVENTS accepted a publish after refusing the one before it");
        if (done > 0) {
          const ack = results[done - 1]!.ack!;
          this.setTip(streamId, { eventNumber: list[done - 1]!.eventNumber, seq: ack.seq });
        }
        list.splice(0, done);
        if (list.length === 0) {
          pending.delete(streamId);
          continue;
        }
        if (results[done]?.conflict) {
          pending.delete(streamId);
          conflicts.add(streamId);
          continue;
        }
        const err = results[done]?.err;
        if (
          err instanceof JetStreamPublishError &&
          (err.errCode === WRONG_LAST_SEQUENCE || err.errCode === WRONG_LAST_MSG_ID)
        ) {
          reconcile.push(streamId);
        } else failed ??= err ?? new Error("no answer");
      }
      if (reconcile.length > 0) {
        this.deps.metrics.recordRefusals.inc(reconcile.length);
        await Promise.all(
          reconcile.map(async (streamId) => {
            const last = await lastRecordedEvent(this.deps.jsm, streamId);
            this.setTip(
              streamId,
              last ? { eventNumber: last.eventNumber, seq: last.seq } : { eventNumber: -1, seq: 0 },
            );
            const list = pending.get(streamId)!;
            const head = list[0]!;
            if (last && last.eventNumber === head.eventNumber && last.ingestId && last.ingestId !== head.ingestId) {
              pending.delete(streamId);
              conflicts.add(streamId);
              return;
            }
            if (!this.trim(streamId, list, pending)) conflicts.add(streamId);
          }),
        );
      }
      if (failed && pending.size > 0) {
        if (conflicts.size > 0) break;
        throw new RecordWriteError(`EVENTS publish failed: ${failed.message}`, { cause: failed });
      }
    }
    if (conflicts.size > 0) throw new RecordConflictError([...conflicts]);
  }

  /**
   * Drops what the record holds already (numbers up to the tip); false when the stream's tip is
   * unknown or its next event does not follow it (the caller verifies the stream).
   */
  private trim(streamId: StreamId, list: Publication[], pending: Map<StreamId, Publication[]>): boolean {
    const tip = this.tips.get(streamId);
    if (!tip) {
      pending.delete(streamId);
      return false;
    }
    while (list.length > 0 && list[0]!.eventNumber <= tip.eventNumber) list.shift();
    if (list.length === 0) {
      pending.delete(streamId);
      return true;
    }
    if (list[0]!.eventNumber !== tip.eventNumber + 1) {
      pending.delete(streamId);
      return false;
    }
    return true;
  }

  private async isSameEvent(p: Publication, seq: number): Promise<boolean> {
    const stored = await this.deps.jsm.streams.getMessage(EVENTS_STREAM, { seq });
    return stored !== null && stored.header?.get(EVENT_INGEST_ID_HEADER) === p.ingestId && stored.string() === p.text;
  }

  private publish(p: Publication, headers: Record<string, string>): Promise<Outcome> {
    headers[EVENT_INGEST_ID_HEADER] = p.ingestId;
    return this.deps.publisher
      .publish(eventsSubject(p.streamId), p.text, eventMsgId(p.streamId, p.eventNumber), headers)
      .then(
        (ack) => ({ ack }),
        (err: Error) => ({ err }),
      );
  }

  /**
   * Every pending event at once: each stream's first conditional on its subject's confirmed last
   * sequence, each later one on the stream's last message being its predecessor. One synchronous
   * pass per call, so a stream's chain leaves on the connection back to back.
   */
  private async chainedRound(pending: Map<StreamId, Publication[]>): Promise<Map<StreamId, Outcome[]>> {
    const sent: [StreamId, Promise<Outcome>[]][] = [];
    for (const [streamId, list] of pending) {
      const promises: Promise<Outcome>[] = [];
      let previous: Publication | undefined;
      for (const p of list) {
        promises.push(
          this.publish(
            p,
            previous
              ? { [EXPECTED_LAST_MSG_ID]: eventMsgId(streamId, previous.eventNumber) }
              : { [EXPECTED_LAST_SUBJECT_SEQUENCE]: String(this.tips.get(streamId)!.seq) },
          ),
        );
        previous = p;
      }
      sent.push([streamId, promises]);
    }
    const outcomes = new Map<StreamId, Outcome[]>();
    for (const [streamId, promises] of sent) outcomes.set(streamId, await Promise.all(promises));
    return outcomes;
  }
}

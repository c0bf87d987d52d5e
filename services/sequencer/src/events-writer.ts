import { EVENT_INGEST_ID_HEADER, EVENTS_STREAM, eventMsgId, eventsSubject, type StreamId } from "@heliograph/contracts";
import {
  JetStreamPublishError,
  type JetStreamPublisher,
  type Logger,
  type PublishAck,
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

const EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence";
const EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence";
/** Tips kept; a stream whose tip was dropped is verified again before it is next written. */
const MAX_TIPS = 100_000;
const SHARED_MIN_MS = 1_000;
const SHARED_MAX_MS = 30_000;

interface Outcome {
  ack?: PublishAck;
  err?: Error;
  /** A duplicate whose stored event is another one. */
  conflict?: boolean;
}

/**
 * Writes numbered events to EVENTS so that each `events.<sid>` subject holds 0..n in order, once
 * (docs/architecture.md, "EVENTS, the record"). Every publish is conditional on the subject's last
 * sequence (`Nats-Expected-Last-Subject-Sequence`), so a retry, a redelivery past the duplicate
 * window or a stale instance can never store n after n+1, nor n twice: JetStream refuses it.
 *
 * A chain of conditional publishes would cost a round trip per event of a stream. To pipeline a
 * stream's events, each publish also predicts the sequence JetStream will give the message before
 * it and makes that a condition too (`Nats-Expected-Last-Sequence`): then an accepted publish is
 * stored exactly at its predicted sequence, so the subject's last message is exactly the one it
 * was chained to, and a refused one refuses every later one of its stream. Predictions hold while
 * this process is the only writer of EVENTS; when they fail (another sequencer instance writing,
 * a duplicate), the refused events are reconciled with the record and the writer falls back for a
 * while to one publish in flight per stream, conditional on the subject's confirmed last sequence
 * only ("shared" mode), streams still in parallel.
 */
export class EventsWriter {
  private readonly tips = new Map<StreamId, RecordTip>();
  /** EVENTS' last sequence once every publish sent so far is stored; undefined: ask JetStream. */
  private predictedLast: number | undefined;
  private sharedUntil = 0;
  private sharedMs = 0;

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
      const exclusive = Date.now() >= this.sharedUntil;
      const outcomes = exclusive ? await this.exclusiveRound(pending) : await this.sharedRound(pending);
      let refused = false;
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
        if (err instanceof JetStreamPublishError && err.errCode === WRONG_LAST_SEQUENCE) {
          refused = true;
          reconcile.push(streamId);
        } else failed ??= err ?? new Error("no answer");
      }
      if (exclusive && (refused || failed)) this.predictedLast = undefined;
      if (exclusive && refused) this.enterShared();
      else if (exclusive && !failed) this.sharedMs = 0;
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

  private enterShared(): void {
    this.sharedMs = Math.min(Math.max(SHARED_MIN_MS, this.sharedMs * 2), SHARED_MAX_MS);
    this.sharedUntil = Date.now() + this.sharedMs;
    this.deps.log.info(
      { forMs: this.sharedMs },
      "EVENTS sequence predictions failed; one publish per stream at a time",
    );
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

  /** Every pending event at once, each conditional on its predicted predecessor in EVENTS and in its subject. */
  private async exclusiveRound(pending: Map<StreamId, Publication[]>): Promise<Map<StreamId, Outcome[]>> {
    if (this.predictedLast === undefined) {
      const last = (await this.deps.jsm.streams.info(EVENTS_STREAM)).state.last_seq;
      // Another partition's round may have sent (and predicted) meanwhile.
      this.predictedLast ??= last;
    }
    let predictedLast = this.predictedLast;
    const sent: [StreamId, Promise<Outcome>[]][] = [];
    // One synchronous pass: the predictions follow the order the messages leave on the connection.
    for (const [streamId, list] of pending) {
      let subjectLast = this.tips.get(streamId)!.seq;
      const promises: Promise<Outcome>[] = [];
      for (const p of list) {
        const predicted = predictedLast + 1;
        predictedLast = predicted;
        promises.push(
          this.publish(p, {
            [EXPECTED_LAST_SEQUENCE]: String(predicted - 1),
            [EXPECTED_LAST_SUBJECT_SEQUENCE]: String(subjectLast),
          }),
        );
        subjectLast = predicted;
      }
      sent.push([streamId, promises]);
    }
    this.predictedLast = predictedLast;
    const outcomes = new Map<StreamId, Outcome[]>();
    for (const [streamId, promises] of sent) {
      const results = await Promise.all(promises);
      // A duplicate took no new sequence: every later prediction is off by one.
      if (results.some((r) => r.ack?.duplicate)) this.predictedLast = undefined;
      outcomes.set(streamId, results);
    }
    return outcomes;
  }

  /** One publish in flight per stream, conditional on the subject's confirmed last sequence only. */
  private async sharedRound(pending: Map<StreamId, Publication[]>): Promise<Map<StreamId, Outcome[]>> {
    const outcomes = new Map<StreamId, Outcome[]>();
    await Promise.all(
      [...pending].map(async ([streamId, list]) => {
        const results: Outcome[] = [];
        let subjectLast = this.tips.get(streamId)!.seq;
        for (const p of list) {
          const result = await this.publish(p, { [EXPECTED_LAST_SUBJECT_SEQUENCE]: String(subjectLast) });
          results.push(result);
          if (!result.ack) break;
          subjectLast = result.ack.seq;
        }
        outcomes.set(streamId, results);
      }),
    );
    return outcomes;
  }
}

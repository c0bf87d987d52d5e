import { readFileSync } from "node:fs";
import {
  EVENT_NUMBER_END,
  EVENT_TEXT_OPEN,
  eventBodyText,
  eventText,
  type IdeaEventType,
  type IngestMessage,
  isIdeaEventType,
  type StreamId,
} from "@heliograph/contracts";
import { defineRedisScripts, type Redis } from "@heliograph/platform";
import { heldEntryText, streamKeys } from "@heliograph/store";

const SCRIPT = readFileSync(new URL("./sequence-step.lua", import.meta.url), "utf8");
const COMMAND = "heliographSequenceStep" as const;

/** One message of a stream, ready to number: what the Lua step needs of it. */
export interface StepInput {
  ingestId: string;
  /** `eventBodyText(message, publishedAt)`: the event JSON after its leading `{"event_number":N,`. */
  bodyText: string;
  /** Idea rule arguments; absent for events that are not idea events. */
  idea?: { eventType: IdeaEventType; id: string; timestampMs: string; timestamp: string; projectionPrefix: string };
  /** Why the message can never be numbered as it is (unreadable); it halts the stream. */
  problem?: string;
  /** The message's held-list text (store `heldEntryText`). */
  heldEntry: string;
}

export interface StepOptions {
  /**
   * Send every message's held entry up front: the caller expects the stream to hold messages (it
   * was halted or had held publishes). Otherwise only messages that can break a rule carry theirs
   * (about half of what Redis parses per message), and if the stream turns out to hold messages,
   * the rest of the batch is sent again with its entries.
   */
  withHeld?: boolean;
  /**
   * The partition's lease epoch key (store `partitionEpochKey`): the step refuses unless it holds
   * `epoch`, atomically with the writes. It is in another hash slot than the stream's keys, so
   * this is for single-node Redis only; on Cluster leave it out and check the epoch separately.
   */
  partitionEpochKey?: string;
  /**
   * The head the caller last saw in Redis, having verified the stream against EVENTS since: any
   * other head refuses the step with a HeadMovedError, before it writes anything (Redis lost
   * writes: a restore, a failover to a lagging replica, a FLUSHALL). Undefined skips the check.
   */
  expectedHead?: number;
  /**
   * Events the stream's log keeps (its hot window, `hotWindowOf`); older ones are trimmed in the
   * same step and read from EVENTS. Undefined or 0 keeps every event.
   */
  hotWindow?: number;
  /**
   * The last event number the caller knows EVENTS stored (the writer's tip): the step never trims
   * an event after it, so one numbered but not yet published can still be published from the log.
   * Undefined: none known, nothing is trimmed.
   */
  recordedUpTo?: number;
}

/**
 * Builds the step input of a readable IngestMessage. `messageText` is the message's JSON as it is
 * kept (INGEST payload or held entry), embedded in the held entry as is.
 */
export function stepInputOf(message: IngestMessage, messageText: string, publishedAt: string): StepInput {
  const input: StepInput = {
    ingestId: message.ingest_id,
    bodyText: eventBodyText(message, publishedAt),
    heldEntry: heldEntryText({ ingestId: message.ingest_id, messageText }),
  };
  const ideaType = message.event_type;
  if (isIdeaEventType(ideaType)) {
    const data = message.data as Record<string, unknown>;
    const ms = Date.parse(message.data.timestamp);
    const projection = {
      id: message.data.id,
      state: ideaType === "IdeaClosed" ? "closed" : "open",
      idea: data.idea ?? null,
      comment: data.comment ?? null,
      origin: data.origin ?? "",
      timestamp: message.data.timestamp,
      published_at: publishedAt,
    };
    const json = JSON.stringify(projection);
    input.idea = {
      eventType: ideaType,
      id: message.data.id,
      timestampMs: Number.isFinite(ms) ? String(ms) : "",
      timestamp: message.data.timestamp,
      projectionPrefix: json.slice(0, -1),
    };
  }
  return input;
}

/** Step input of a message that cannot be read: it halts its stream with `problem` as the reason. */
export function unreadableStepInput(ingestId: string, raw: string, problem: string): StepInput {
  return { ingestId, bodyText: "", problem, heldEntry: heldEntryText({ ingestId, raw, problem }) };
}

export type StepOutcome =
  /** `fresh` is false when the message was numbered before (a redelivery): `text` is the stored one. */
  | { kind: "numbered"; eventNumber: number; text: string; fresh: boolean }
  /** Kept in the stream's held list (the stream is halted, or held publishes wait before it). */
  | { kind: "held" }
  /** Broke the stream's rules: the stream is halted now and this message heads its held list. */
  | { kind: "halted"; reason: string }
  /** An operator skipped it before (a redelivery). */
  | { kind: "parked" };

export interface StepResult {
  /** One per input in step mode; in drain mode, up to the first one not numbered. */
  outcomes: StepOutcome[];
  /** The stream's state after the step. */
  halted: boolean;
  held: number;
  /** Drain mode: why it stopped early (step mode: always ""). */
  stop: "" | "halted" | "changed";
}

/** Redis's head of the stream is not the one the caller verified: Redis must be verified against EVENTS again. */
export class HeadMovedError extends Error {
  override readonly name = "HeadMovedError";
  constructor(
    readonly streamId: StreamId,
    message: string,
  ) {
    super(`${streamId}: ${message}`);
  }
}

/** A newer lease epoch has written the stream: this owner is stale and must stop. */
export class StaleEpochError extends Error {
  override readonly name = "StaleEpochError";
}

type StepCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;
type StepCommands = { [COMMAND]: StepCommand };

/**
 * Defines the step's command on a connection; call it before the connection sends anything
 * (platform `defineRedisScripts` says why). Callers that did not (tests, the benchmark) get it on
 * first use.
 */
export function defineSequenceStep(redis: Redis): StepCommand {
  const commands = defineRedisScripts<StepCommands>(redis, { [COMMAND]: { lua: SCRIPT } });
  return commands[COMMAND].bind(redis);
}

/** A message that can break a rule (an idea event, an unreadable message) always carries its held entry. */
const mayBreakRules = (input: StepInput) => input.idea !== undefined || input.problem !== undefined;

type Mode = "step" | "drain" | "restore";

async function call(
  mode: Mode,
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  inputs: readonly StepInput[],
  options: StepOptions,
): Promise<StepResult & { needHeld: boolean }> {
  const keys = streamKeys(streamId);
  const args: (string | number)[] = [
    keys.head,
    keys.log,
    keys.status,
    keys.fence,
    keys.held,
    keys.ideaState,
    keys.ideas,
    keys.openIdeas,
  ];
  for (const input of inputs) args.push(keys.appliedPrefix + input.ingestId);
  if (options.partitionEpochKey) args.push(options.partitionEpochKey);
  const numKeys = args.length;
  // The Lua step writes the event text from the pieces contracts defines it with.
  args.push(
    mode,
    epoch,
    appliedTtlSeconds,
    new Date().toISOString(),
    EVENT_TEXT_OPEN,
    EVENT_NUMBER_END,
    inputs.length,
    options.expectedHead ?? "",
    options.hotWindow ?? 0,
    options.recordedUpTo ?? -1,
  );
  const allHeld = mode === "drain" || options.withHeld === true;
  for (const input of inputs) {
    const idea = input.idea;
    args.push(
      input.ingestId,
      input.bodyText,
      idea?.eventType ?? "",
      idea?.id ?? "",
      idea?.timestampMs ?? "",
      idea?.timestamp ?? "",
      idea?.projectionPrefix ?? "",
      input.problem ?? "",
      allHeld || mayBreakRules(input) ? input.heldEntry : "",
    );
  }
  let reply: unknown;
  try {
    reply = await defineSequenceStep(redis)(numKeys, ...args);
  } catch (err) {
    const message = String((err as Error).message);
    if (message.includes("STALE_EPOCH")) throw new StaleEpochError(message);
    if (message.includes("HEAD_MOVED"))
      throw new HeadMovedError(streamId, message.slice(message.indexOf("HEAD_MOVED")));
    throw err;
  }
  const [results, state] = (Array.isArray(reply) ? reply : []) as [unknown[]?, [number, number, string]?];
  const stop = String(state?.[2] ?? "");
  const needHeld = stop === "need_held";
  if (
    !Array.isArray(results) ||
    !Array.isArray(state) ||
    (mode !== "drain" && !needHeld && results.length !== inputs.length) ||
    (needHeld && (mode !== "step" || allHeld || results.length >= inputs.length))
  )
    throw new Error(`sequence step answered ${JSON.stringify(reply)?.slice(0, 200)}`);
  const outcomes = results.map((entry, i): StepOutcome => {
    const [n, text, fresh] = entry as [number, string?, number?];
    if (n === -1) return { kind: "held" };
    if (n === -2) return { kind: "halted", reason: String(text ?? "") };
    if (n === -3) return { kind: "parked" };
    const eventNumber = Number(n);
    // Numbered now: the script wrote exactly this text and does not send it back.
    if (fresh === 1)
      return { kind: "numbered", eventNumber, text: eventText(eventNumber, inputs[i]!.bodyText), fresh: true };
    return { kind: "numbered", eventNumber, text: text ?? "", fresh: false };
  });
  return {
    outcomes,
    halted: Number(state[0]) === 1,
    held: Number(state[1]),
    stop: needHeld ? "" : (stop as StepResult["stop"]),
    needHeld,
  };
}

async function run(
  mode: Mode,
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  inputs: readonly StepInput[],
  options: StepOptions,
): Promise<StepResult> {
  const first = await call(mode, redis, streamId, epoch, appliedTtlSeconds, inputs, options);
  if (!first.needHeld) return { outcomes: first.outcomes, halted: first.halted, held: first.held, stop: first.stop };
  // The stream holds messages after all: the rest goes again, every message with its held entry.
  // Two atomic steps in a row number the batch exactly as one would, as two batches would.
  const rest = await call(mode, redis, streamId, epoch, appliedTtlSeconds, inputs.slice(first.outcomes.length), {
    ...options,
    withHeld: true,
  });
  return { outcomes: [...first.outcomes, ...rest.outcomes], halted: rest.halted, held: rest.held, stop: rest.stop };
}

/**
 * Numbers `inputs` (INGEST messages of one stream, in INGEST order) in one atomic Redis step: each
 * is answered from its record if applied before, held while the stream is halted or has held
 * publishes, halts the stream if it breaks the rules, otherwise is given head+1 and appended.
 */
export function runSequenceStep(
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  inputs: readonly StepInput[],
  options: StepOptions = {},
): Promise<StepResult> {
  if (inputs.length === 0) return Promise.resolve({ outcomes: [], halted: false, held: 0, stop: "" });
  return run("step", redis, streamId, epoch, appliedTtlSeconds, inputs, options);
}

/**
 * Numbers the head of a live stream's held list: `inputs` are built from its first entries, in
 * order (their `heldEntry` the exact entry texts). Stops at an entry that is no longer at the head
 * or that breaks the rules (the stream halts again).
 */
export function runDrainStep(
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  inputs: readonly StepInput[],
  options: Pick<StepOptions, "partitionEpochKey" | "expectedHead" | "hotWindow" | "recordedUpTo"> = {},
): Promise<StepResult> {
  return run("drain", redis, streamId, epoch, appliedTtlSeconds, inputs, options);
}

/**
 * The step input that numbers a recorded event exactly as it was numbered: `text` is its EVENTS
 * text (`eventText(n, body)`), `ingestId` the ingest id EVENTS recorded with it.
 */
export function recordedStepInput(text: string, ingestId: string): StepInput {
  const bodyStart = text.indexOf(EVENT_NUMBER_END, EVENT_TEXT_OPEN.length) + EVENT_NUMBER_END.length;
  const input: StepInput = { ingestId, bodyText: text.slice(bodyStart), heldEntry: "" };
  const event = JSON.parse(text) as {
    event_type: string;
    data: Record<string, unknown> & { id: string; timestamp: string; published_at: string };
  };
  const ideaType = event.event_type;
  if (isIdeaEventType(ideaType)) {
    const data = event.data;
    const ms = Date.parse(data.timestamp);
    // The same fields, in the same order, as stepInputOf: the projection must come out identical.
    const projection = {
      id: data.id,
      state: ideaType === "IdeaClosed" ? "closed" : "open",
      idea: data.idea ?? null,
      comment: data.comment ?? null,
      origin: data.origin ?? "",
      timestamp: data.timestamp,
      published_at: data.published_at,
    };
    input.idea = {
      eventType: ideaType,
      id: data.id,
      timestampMs: Number.isFinite(ms) ? String(ms) : "",
      timestamp: data.timestamp,
      projectionPrefix: JSON.stringify(projection).slice(0, -1),
    };
  }
  return input;
}

/**
 * Appends recorded events (read from EVENTS, in order, the first numbered `expectedHead + 1`) to a
 * Redis that is behind the record: log entries, head, applied records and idea states, as the
 * numbering step wrote them. Refused with HeadMovedError when the head is not `expectedHead`.
 */
export async function runRestoreStep(
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  expectedHead: number,
  inputs: readonly StepInput[],
  options: Pick<StepOptions, "partitionEpochKey" | "hotWindow"> & {
    /**
     * The first input's number when it is past `expectedHead + 1` (EVENTS no longer holds the
     * events between): the log is emptied and restarts at it.
     */
    firstNumber?: number;
  } = {},
): Promise<number> {
  if (inputs.length === 0) return expectedHead;
  const result = await call("restore", redis, streamId, epoch, appliedTtlSeconds, inputs, {
    ...options,
    expectedHead,
    recordedUpTo: options.firstNumber ?? expectedHead + 1,
  });
  const last = result.outcomes.at(-1);
  if (last?.kind !== "numbered") throw new Error(`restore step of ${streamId} numbered nothing`);
  return last.eventNumber;
}

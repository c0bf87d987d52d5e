import { readFileSync } from "node:fs";
import type { StreamId } from "@heliograph/contracts";
import { streamKeys } from "@heliograph/store";
import type { Redis } from "ioredis";

const SCRIPT = readFileSync(new URL("./sequence-step.lua", import.meta.url), "utf8");
const COMMAND = "heliographSequenceStep";

/** One INGEST message of a stream, ready to number. */
export interface StepInput {
  ingestId: string;
  /** `eventBodyText(message, publishedAt)`: the event JSON after its leading `{"event_number":N,`. */
  bodyText: string;
}

export type StepOutcome =
  /** `fresh` is false when the message was numbered before (a redelivery): `text` is the stored one. */
  | { kind: "numbered"; eventNumber: number; text: string; fresh: boolean }
  /** The stream is halted: the message was not numbered. */
  | { kind: "halted" };

/** A newer lease epoch has written the stream: this owner is stale and must stop. */
export class StaleEpochError extends Error {
  override readonly name = "StaleEpochError";
}

type StepCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;
const defined = new WeakSet<Redis>();

function stepCommand(redis: Redis): StepCommand {
  if (!defined.has(redis)) {
    // ioredis sends EVALSHA and falls back to EVAL once per connection when the script is not cached.
    redis.defineCommand(COMMAND, { lua: SCRIPT });
    defined.add(redis);
  }
  const command = (redis as unknown as Record<string, StepCommand>)[COMMAND]!;
  return command.bind(redis);
}

/**
 * Numbers `inputs` (messages of one stream, in INGEST order) in one atomic Redis step: each is
 * skipped if already applied (its number and stored text come back), refused if the stream is
 * halted, otherwise given head+1 and appended to the log.
 */
export async function runSequenceStep(
  redis: Redis,
  streamId: StreamId,
  epoch: number,
  appliedTtlSeconds: number,
  inputs: readonly StepInput[],
): Promise<StepOutcome[]> {
  if (inputs.length === 0) return [];
  const keys = streamKeys(streamId);
  const args: (string | number)[] = [keys.head, keys.log, keys.status, keys.fence];
  for (const input of inputs) args.push(keys.appliedPrefix + input.ingestId);
  args.push(epoch, appliedTtlSeconds, inputs.length);
  for (const input of inputs) args.push(input.ingestId, input.bodyText);
  let reply: unknown;
  try {
    reply = await stepCommand(redis)(4 + inputs.length, ...args);
  } catch (err) {
    if (String((err as Error).message).includes("STALE_EPOCH")) throw new StaleEpochError((err as Error).message);
    throw err;
  }
  if (!Array.isArray(reply) || reply.length !== inputs.length)
    throw new Error(`sequence step answered ${JSON.stringify(reply)?.slice(0, 200)}`);
  return reply.map((entry): StepOutcome => {
    const [n, text, fresh] = entry as [number, string?, number?];
    if (n < 0) return { kind: "halted" };
    return { kind: "numbered", eventNumber: Number(n), text: text ?? "", fresh: fresh === 1 };
  });
}

/**
 * Halts a stream for an INGEST message that can never be numbered, keeping the first reason when
 * it is halted already. The Lua step then numbers nothing more of it.
 */
export async function haltStream(redis: Redis, streamId: StreamId, reason: string, ingestId: string): Promise<void> {
  const keys = streamKeys(streamId);
  if ((await redis.hget(keys.status, "status")) === "halted") return;
  await redis.hset(keys.status, { status: "halted", reason, ingest_id: ingestId, since: new Date().toISOString() });
}

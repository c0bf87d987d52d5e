import type { IdeaState, StreamId } from "@heliograph/contracts";
import type { Redis } from "@heliograph/platform";
import { streamKeys } from "./keys.js";

/**
 * Idea states, written by the sequencer's numbering step in the same script that numbers the
 * event, so they are always the fold of the stream's log (contracts `foldIdeas`).
 */

/** What the 409 pre-checks need: the contracts `ideaTransitionViolation` input plus the event count. */
export interface IdeaStateRecord {
  state: IdeaState;
  /** Publisher's timestamp of the idea's last event. */
  timestamp: string;
  events: number;
}

/**
 * Compact state text, `<o|c>|<timestamp ms>|<events>|<timestamp>`; the Lua step parses and writes
 * it (sequence-step.lua), so change both together. `timestamp ms` is empty when the timestamp does
 * not parse, which, as in `ideaTransitionViolation`, never counts as earlier.
 */
export function ideaStateText(record: IdeaStateRecord): string {
  const ms = Date.parse(record.timestamp);
  return `${record.state === "closed" ? "c" : "o"}|${Number.isFinite(ms) ? ms : ""}|${record.events}|${record.timestamp}`;
}

export function parseIdeaStateText(text: string): IdeaStateRecord | undefined {
  const match = /^([oc])\|(-?\d*)\|(\d+)\|(.*)$/s.exec(text);
  if (!match) return undefined;
  return { state: match[1] === "c" ? "closed" : "open", timestamp: match[4] as string, events: Number(match[3]) };
}

export async function readIdeaState(
  redis: Redis,
  streamId: StreamId,
  ideaId: string,
): Promise<IdeaStateRecord | undefined> {
  const text = await redis.hget(streamKeys(streamId).ideaState, ideaId);
  return text === null ? undefined : parseIdeaStateText(text);
}

/** The idea's IdeaProjection JSON text, as stored (not re-serialised). */
export async function readIdeaProjection(
  redis: Redis,
  streamId: StreamId,
  ideaId: string,
): Promise<string | undefined> {
  return (await redis.hget(streamKeys(streamId).ideas, ideaId)) ?? undefined;
}

/** IdeaProjection JSON texts of the stream's open ideas, sorted by idea id. */
export async function readOpenIdeas(redis: Redis, streamId: StreamId): Promise<string[]> {
  const keys = streamKeys(streamId);
  const ids = (await redis.smembers(keys.openIdeas)).sort();
  if (ids.length === 0) return [];
  const texts: string[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = await redis.hmget(keys.ideas, ...ids.slice(i, i + 500));
    for (const text of chunk) if (text !== null) texts.push(text);
  }
  return texts;
}

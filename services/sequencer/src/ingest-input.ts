import { readIngestMessage, type StreamId } from "@heliograph/contracts";
import { parseHeldEntry } from "@heliograph/store";
import type { JsMsg } from "@nats-io/jetstream";
import { type StepInput, stepInputOf, unreadableStepInput } from "./sequence-step.js";

/** The step input of an INGEST message; a message that cannot be read halts its stream when its turn comes. */
export function ingestStepInput(msg: JsMsg, streamId: StreamId, publishedAt: string): StepInput {
  // Only an unreadable message needs the header (decoding headers costs as much as the schema check).
  const headerId = () => msg.headers?.get("Nats-Msg-Id") || `ingest-seq-${msg.seq}`;
  const text = msg.string();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return unreadableStepInput(headerId(), text, "the INGEST message is not JSON");
  }
  // Validated in full by the ingest gateway; this is the schema's check without zod's cost.
  const read = readIngestMessage(raw);
  if ("problem" in read)
    return unreadableStepInput(headerId(), text, `the INGEST message does not match its schema: ${read.problem}`);
  if (read.message.stream_id !== streamId)
    return unreadableStepInput(headerId(), text, `the INGEST message names stream ${read.message.stream_id}`);
  return stepInputOf(read.message, text, publishedAt);
}

/** The step input of a held-list entry: `heldEntry` is the entry text itself, so the drain can check it is still the head. */
export function heldStepInput(entryText: string, streamId: StreamId, publishedAt: string): StepInput {
  const entry = parseHeldEntry(entryText);
  const message = entry.message;
  let input: StepInput;
  if (!message) input = unreadableStepInput(entry.ingest_id, entry.raw ?? "", entry.problem ?? "unreadable");
  else if (message.stream_id !== streamId)
    input = unreadableStepInput(entry.ingest_id, "", `the held message names stream ${message.stream_id}`);
  else input = stepInputOf(message, "", publishedAt);
  return { ...input, heldEntry: entryText };
}

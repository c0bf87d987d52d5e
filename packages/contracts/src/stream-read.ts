import { z } from "zod";
import { DEFAULT_LONG_POLL_SECONDS, MAX_BATCH_SIZE, MAX_LONG_POLL_SECONDS } from "./headers.js";

const INTEGER = /^-?\d{1,16}$/;

/** `{event_number}` path segment: the last event processed, -1 for the start. */
export function parseEventNumber(raw: string): number | undefined {
  if (!INTEGER.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= -1 ? n : undefined;
}

/** `{batch_size}` path segment: 1 or more; larger than 1000 is capped at 1000, as documented. */
export function parseBatchSize(raw: string): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) return undefined;
  return Math.min(n, MAX_BATCH_SIZE);
}

/** `X-Long-Poll` seconds (decimals allowed); absent means the default of five. */
export function parseLongPollSeconds(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return DEFAULT_LONG_POLL_SECONDS;
  if (Array.isArray(raw)) return undefined;
  const text = raw.trim();
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text)) return undefined;
  const seconds = Number(text);
  return seconds <= MAX_LONG_POLL_SECONDS ? seconds : undefined;
}

/** Status of a stream, as the status response header says it. */
export const StreamStatus = z.enum(["live", "halted"]);
export type StreamStatus = z.infer<typeof StreamStatus>;
